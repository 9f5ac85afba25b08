package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/kubebake/kubebake/cluster"
	"github.com/kubebake/kubebake/embed"
	"github.com/kubebake/kubebake/internal/endpoint"
	"github.com/kubebake/kubebake/internal/inputs"
	"github.com/kubebake/kubebake/internal/options"
	"github.com/kubebake/kubebake/internal/token"
	"github.com/kubebake/kubebake/render"
	"github.com/kubebake/kubebake/render/cache"
	"github.com/kubebake/kubebake/render/spec"
	renderwrite "github.com/kubebake/kubebake/render/write"
	"k8s.io/apimachinery/pkg/runtime"
)

// renderFleet is `kubebake render --nodes FILE --out-dir DIR`: one output
// per node, each what `kubebake render` with that node's options writes.
func renderFleet(env *cliEnv, in spec.Inputs, output string) error {
	switch {
	case in.Nodes == "":
		return usageErrorf("--out-dir: only with --nodes FILE (a single node's output goes to -o)")
	case in.OutDir == "":
		return usageErrorf("--nodes: give --out-dir DIR: every node gets its own file there")
	case output != "":
		return usageErrorf("%s: with --nodes, outputs go to --out-dir", in.Given.Where("output"))
	}
	nodes, _, err := loadNodes(env, in, cmdRender)
	if err != nil {
		return err
	}
	fleet, err := render.PrepareFleet(nodes, render.FleetOptions{
		Cache: cache.New(inputs.ReadBounded, time.Now()),
		Agent: embed.Load,
	})
	if err != nil {
		return fleetError(in.Nodes, err)
	}
	for _, w := range fleet.Warnings() {
		msg := string(w.Warning)
		if len(w.Nodes) > 0 {
			msg += " (nodes " + shortList(w.Nodes, 5) + ")"
		}
		fmt.Fprintln(env.stderr, "kubebake render: warning:", msg)
	}
	for _, n := range nodes {
		if n.Inputs.JoinBinary == string(spec.JoinNone) {
			fmt.Fprintln(env.stderr, "kubebake render: warning:", joinNoneWarning)
			break
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The heap is small (outputs are streamed): collect less often rather
	// than spend a tenth of the run collecting, but within a soft limit, so
	// that what is kept a node (its validated inputs, about 2.5 kB) does not
	// grow the process five times over in a fleet of tens of thousands.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(fleetMemoryLimit))
	start := time.Now()
	idx, err := fleet.Write(ctx, in.OutDir)
	if err != nil {
		return fleetError(in.Nodes, err)
	}
	var total int64
	for _, e := range idx.Nodes {
		total += e.Size
	}
	size := fmt.Sprintf("%.1f MB", float64(total)/1e6)
	if total < 1e6 {
		size = fmt.Sprintf("%.1f kB", float64(total)/1e3)
	}
	fmt.Fprintf(env.stderr, "kubebake render: wrote %s (%s) and %s to %s in %s\n",
		plural(len(idx.Nodes), "output"), size, renderwrite.IndexFile, in.OutDir, time.Since(start).Round(time.Millisecond))
	return nil
}

// fleetMemoryLimit is the Go heap's soft limit while a fleet renders.
const fleetMemoryLimit = 160 << 20

// loadNodes reads the nodes file and merges each node's inputs for cmd,
// warning once about each token file other users can read.
func loadNodes(env *cliEnv, in spec.Inputs, cmd string) ([]spec.FleetNode, *spec.NodesFile, error) {
	data, err := inputs.ReadBounded(in.Nodes)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, nil, usageErrorf("--nodes: %s: %v", in.Nodes, err)
	}
	nf, err := spec.ParseNodesFile(in.Nodes, data)
	if err != nil {
		return nil, nil, fleetError(in.Nodes, err)
	}
	nodes, err := nf.Merge(in)
	if err != nil {
		return nil, nil, fleetError(in.Nodes, err)
	}
	warned := map[string]bool{}
	for _, n := range nodes {
		if f := n.Inputs.TokenFile; !warned[f] {
			warned[f] = true
			if w := inputs.TokenFileWarning(f); w != "" {
				fmt.Fprintf(env.stderr, "kubebake %s: warning: %s\n", cmd, strings.Replace(w, "--token-file", n.Inputs.Given.Where("token-file"), 1))
			}
		}
	}
	return nodes, nf, nil
}

// fleetError makes bad input in a fleet a usage error (exit 2).
func fleetError(path string, err error) error {
	var ne *spec.NodeError
	var ie *inputs.Error
	switch {
	case errors.As(err, &ne) && errors.As(err, &ie):
		return usageErrorf("--nodes: %v", err)
	case errors.As(err, &ie):
		return &usageError{msg: ie.Error()}
	}
	return err
}

func nodeCount(n int) string { return plural(n, "node") }

// plural is "1 node", "2 nodes".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func shortList(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:n], ", "), len(names)-n)
}

// pool is one distinct token of a fleet and the nodes that use it.
type pool struct {
	tok   token.Token
	nodes []string
	// terms are the Secret's (manifests and apply only): every node of the
	// pool must ask for the same. given says where the first node's came
	// from.
	terms terms
	given options.Given
	// endpoints are the API server addresses of its nodes, in order.
	endpoints []string
}

// fleetCluster is what the cluster commands need of a nodes file: every
// distinct token, and the CA bundle every node shares.
type fleetCluster struct {
	pools []*pool
	ca    *cluster.CABundle
	// endpoints are the first node's: cluster-info names the first.
	endpoints []string
}

// loadPools reads the nodes file for a cluster command: each node's token,
// CA and API server addresses as render would take them, after checking the
// fleet as render does (which refuses one token id with two secrets). Nodes
// of different CAs (two clusters) are errors naming the nodes.
func loadPools(env *cliEnv, o *cmdOptions, needEndpoint bool) (*fleetCluster, error) {
	nodes, nf, err := loadNodes(env, o.in, o.cmd)
	if err != nil {
		return nil, err
	}
	nodeErr := func(n spec.FleetNode, err error) error {
		return fleetError(o.in.Nodes, &spec.NodeError{Node: n.Name, Err: n.Inputs.Given.Locate(err)})
	}
	if err := checkRenderable(o, nf, needEndpoint); err != nil {
		return nil, err
	}
	fc := &fleetCluster{}
	byID := map[string]*pool{}
	cas := map[string]*cluster.CABundle{}
	caNode := ""
	now := time.Now()
	withTerms := slices.Contains(cmdsToken, o.cmd)
	for i, n := range nodes {
		in := n.Inputs
		var t terms
		var given options.Given
		if withTerms {
			if t, given, err = nodeTerms(nf, i, o, now); err != nil {
				return nil, fleetError(o.in.Nodes, &spec.NodeError{Node: n.Name, Err: err})
			}
		}
		tok, err := inputs.Token(inputs.TokenSource{File: in.TokenFile, Value: in.Token, Env: in.TokenEnv}, inputs.ReadBounded)
		if err != nil {
			return nil, nodeErr(n, err)
		}
		key := strings.Join(in.CA, "\x00")
		ca, ok := cas[key]
		if !ok {
			var warns []string
			if ca, warns, err = cluster.ReadCABundle(in.CA, now); err != nil {
				return nil, nodeErr(n, err)
			}
			for _, w := range warns {
				fmt.Fprintln(env.stderr, "kubebake: warning:", w)
			}
			cas[key] = ca
		}
		switch {
		case fc.ca == nil:
			fc.ca, caNode = ca, n.Name
		case !bytes.Equal(fc.ca.PEM, ca.PEM):
			return nil, nodeErr(n, inputs.Errorf("--ca", "another CA bundle than node %q's: one cluster-info serves one cluster; run once per cluster", caNode))
		}
		if needEndpoint && len(in.APIServer) == 0 {
			return nil, nodeErr(n, inputs.Errorf("--api-server", "the address nodes reach the API server at is needed"))
		}
		eps, err := inputs.Endpoints(in.APIServer)
		if err != nil {
			return nil, nodeErr(n, err)
		}
		if fc.endpoints == nil {
			fc.endpoints = eps
		}
		p, ok := byID[tok.ID()]
		switch {
		case !ok:
			p = &pool{tok: tok, terms: t, given: given}
			byID[tok.ID()] = p
			fc.pools = append(fc.pools, p)
		case withTerms && !p.terms.equal(t):
			return nil, nodeErr(n, termsConflict(tok.ID(), p.nodes[0], p.terms, t, given, p.given))
		}
		p.nodes = append(p.nodes, n.Name)
		for _, ep := range eps {
			if !slices.Contains(p.endpoints, ep) {
				p.endpoints = append(p.endpoints, ep)
			}
		}
	}
	return fc, nil
}

// checkRenderable checks every node of nf as render --nodes would, with
// --config's render keys, so that apply makes no token for a fleet render
// refuses and check does not pass one. Without needEndpoint (check, which
// reads the address from the cluster) a node that names no API server is
// checked as if it named one.
func checkRenderable(o *cmdOptions, nf *spec.NodesFile, needEndpoint bool) error {
	in := o.in
	set := options.NewSet(spec.AllOptions(), options.Bind(spec.Options, &in, cmdRender))
	set.Given = o.in.Given.Clone()
	if in.ConfigFile != "" {
		f, err := options.ReadFile(in.ConfigFile)
		if err != nil {
			return asUsage(err)
		}
		if err := set.Apply(f, nil); err != nil {
			return asUsage(err)
		}
	}
	if err := set.Defaults(); err != nil {
		return err
	}
	in.Given = set.Given
	nodes, err := nf.Merge(in)
	if err != nil {
		return fleetError(o.in.Nodes, err)
	}
	for i := range nodes {
		if !needEndpoint && len(nodes[i].Inputs.APIServer) == 0 {
			nodes[i].Inputs.APIServer = []string{"api-server.invalid"}
		}
	}
	// What render --nodes checks before it writes: names, hostnames, tokens
	// and every node's options.
	_, err = render.PrepareFleet(nodes, render.FleetOptions{
		Cache: cache.New(inputs.ReadBounded, time.Now()),
		Agent: embed.Load,
	})
	if err != nil {
		return fleetError(o.in.Nodes, err)
	}
	return nil
}

// nodeTerms are the terms node i of nf asks of its token's Secret: the
// nodes file's ttl, expires, no-expiry, groups and description (the node's
// own keys, then the command line, then defaults:, then --config), and
// where each came from.
func nodeTerms(nf *spec.NodesFile, i int, o *cmdOptions, now time.Time) (terms, options.Given, error) {
	co := o.co
	set := options.NewSet(spec.AllOptions(), options.Bind(clusterOptions, &co, o.cmd))
	set.Given = o.in.Given.Clone()
	if err := nf.ApplyNode(i, set); err != nil {
		return terms{}, nil, err
	}
	if err := options.Check(set.Bindings(), set.Given); err != nil {
		return terms{}, nil, err
	}
	t, err := tokenTerms(&co, set.Given, now)
	return t, set.Given, err
}

// termsConflict says how node's terms t differ from those of first, the
// first node of the same token: one token is one Secret. The error names
// where the node's differing key was given (g), or else where the first
// node's was (fg): the nodes file's line rather than a flag's default.
func termsConflict(id, first string, ft, t terms, g, fg options.Given) error {
	when := func(t terms) string {
		if t.Expires.IsZero() {
			return "never"
		}
		return t.Expires.Format(time.RFC3339)
	}
	keys, what := []string{"description"}, fmt.Sprintf("description %q, node %q's %q", t.Description, first, ft.Description)
	switch {
	case !ft.Expires.Equal(t.Expires):
		keys, what = []string{"ttl", "expires", "no-expiry"}, fmt.Sprintf("expires %s, node %q's %s", when(t), first, when(ft))
	case !sameSet(ft.Groups, t.Groups):
		keys, what = []string{"groups"}, fmt.Sprintf("groups %s, node %q's %s", strings.Join(t.Groups, ","), first, strings.Join(ft.Groups, ","))
	case ft.MaxJoins != t.MaxJoins:
		keys, what = []string{"max-joins"}, fmt.Sprintf("max-joins %d, node %q's %d", t.MaxJoins, first, ft.MaxJoins)
	}
	where := g.Where(keys[0])
	fromFile := func(g options.Given) bool {
		for _, k := range keys {
			if w := g.Where(k); g.Has(k) && !strings.HasPrefix(w, "--") {
				where = w
				return true
			}
		}
		return false
	}
	// The node's own line, or else the first node's: a line of the file
	// rather than a flag's default.
	if !fromFile(g) && !fromFile(fg) {
		for _, k := range keys {
			if g.Has(k) {
				where = g.Where(k)
			}
		}
	}
	return inputs.Errorf(where, "token %s %s: nodes that share a token share its Secret; give them the same terms (in defaults:, or per pool)", id, what)
}

// fleetObjects are the objects of every token a nodes file names: one
// Secret each, with its own terms (expiry, groups, description), then the
// bindings (to every group any token names) and cluster-info once.
func fleetObjects(env *cliEnv, o *cmdOptions) ([]runtime.Object, *cluster.CABundle, error) {
	fc, err := loadPools(env, o, true)
	if err != nil {
		return nil, nil, err
	}
	var secrets []runtime.Object
	var groups []string
	for _, p := range fc.pools {
		spec := cluster.Spec{Token: p.tok, CA: fc.ca, Endpoints: fc.endpoints}
		p.terms.apply(&spec)
		objs, err := cluster.Build(spec)
		if err != nil {
			return nil, nil, err
		}
		secrets = append(secrets, objs.TokenSecret)
		for _, g := range p.terms.Groups {
			if !slices.Contains(groups, g) {
				groups = append(groups, g)
			}
		}
		expires := "never expires"
		if !p.terms.Expires.IsZero() {
			expires = "expires " + p.terms.Expires.Format(time.RFC3339)
		} else {
			warnNoExpiry(env, fmt.Sprintf("token %s (%s)", p.tok.ID(), p.given.Where("no-expiry")))
		}
		fmt.Fprintf(env.stderr, "kubebake %s: token %s: %s (%s), %s\n", o.cmd, p.tok.ID(), nodeCount(len(p.nodes)), shortList(p.nodes, 5), expires)
	}
	// The bindings grant to the groups of every token.
	spec := cluster.Spec{Token: fc.pools[0].tok, CA: fc.ca, Endpoints: fc.endpoints, Groups: groups}
	objs, err := cluster.Build(spec)
	if err != nil {
		return nil, nil, err
	}
	return append(secrets, objs.List()[1:]...), fc.ca, nil
}

// tokenReport is check's report of one token of a fleet.
type tokenReport struct {
	Token string   `json:"token"`
	Nodes []string `json:"nodes"`
	*cluster.Report
}

// checkFleet checks every token a nodes file names, each as check checks
// one, and fails when any token the fleet uses is missing, expiring or
// unsigned.
func checkFleet(env *cliEnv, o *cmdOptions, output string) error {
	fc, err := loadPools(env, o, false)
	if err != nil {
		return err
	}
	kf := &o.co
	cs, cfg, err := client(env, kf)
	if err != nil {
		return err
	}
	fallback := ""
	if u, err := url.Parse(cfg.Host); err == nil {
		if ep, err := endpoint.Parse("https://" + u.Host); err == nil {
			fallback = ep
		}
	}
	fix := fleetFixCommand(kf, &o.in)
	var reports []tokenReport
	var failed []string
	for _, p := range fc.pools {
		r := cluster.Check(context.Background(), cs, cluster.CheckSpec{
			Token: p.tok, CA: fc.ca, Endpoints: p.endpoints, Fallback: fallback,
			MinTTL: kf.MinTTL, Timeout: min(kf.Timeout, 10*time.Second), FixCommand: fix,
			ExpiryHow: "with the ttl or expires of the pool's nodes in " + o.in.Nodes + " raised (a node's own keys win over --ttl and --expires)",
		})
		reports = append(reports, tokenReport{Token: p.tok.ID(), Nodes: p.nodes, Report: r})
		if !r.OK {
			failed = append(failed, p.tok.ID())
		}
	}
	if output == "json" {
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(struct {
			OK     bool          `json:"ok"`
			Tokens []tokenReport `json:"tokens"`
		}{len(failed) == 0, reports}); err != nil {
			return err
		}
	} else {
		for i, r := range reports {
			if i > 0 {
				fmt.Fprintln(env.stdout)
			}
			fmt.Fprintf(env.stdout, "token %s (%s: %s)\n", r.Token, nodeCount(len(r.Nodes)), shortList(r.Nodes, 5))
			writeChecklist(env.stdout, r.Report)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d of %d tokens of the fleet are not ready: %s", len(failed), len(reports), strings.Join(failed, ", "))
	}
	return nil
}

// fleetFixCommand is the kubebake apply command the fixes of a fleet's
// check suggest: the same nodes file, and what the command line gave.
func fleetFixCommand(kf *clusterOpts, in *spec.Inputs) string {
	parts := []string{"kubebake apply", "--nodes " + in.Nodes}
	byFlag := func(name string) bool { return strings.HasPrefix(in.Given.Where(name), "--") && in.Given.Has(name) }
	if in.ConfigFile != "" {
		parts = append(parts, "--config "+in.ConfigFile)
	}
	if kf.Kubeconfig != "" && byFlag("kubeconfig") {
		parts = append(parts, "--kubeconfig "+kf.Kubeconfig)
	}
	if byFlag("token-file") {
		parts = append(parts, "--token-file "+in.TokenFile)
	}
	for _, name := range []string{"ca", "api-server"} {
		if byFlag(name) {
			vals := in.CA
			if name == "api-server" {
				vals = in.APIServer
			}
			for _, v := range vals {
				parts = append(parts, "--"+name+" "+v)
			}
		}
	}
	return strings.Join(parts, " ")
}
