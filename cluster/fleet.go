package cluster

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kubebake/kubebake/embed"
	"github.com/kubebake/kubebake/internal/inputs"
	"github.com/kubebake/kubebake/internal/options"
	"github.com/kubebake/kubebake/internal/token"
	"github.com/kubebake/kubebake/render"
	"github.com/kubebake/kubebake/render/cache"
	"github.com/kubebake/kubebake/render/spec"
	"github.com/kubebake/kubebake/render/write"
	"k8s.io/apimachinery/pkg/runtime"
)

// Terms are what a token Secret says besides the token: when it expires
// (zero: never), its groups and its description.
type Terms struct {
	Expires     time.Time
	Groups      []string
	Description string
	// MaxJoins: how many nodes may join before token prune deletes it.
	MaxJoins int
}

// Equal says whether t and u ask for the same Secret: the same groups in
// any order.
func (t Terms) Equal(u Terms) bool {
	return t.Expires.Equal(u.Expires) && sameSet(t.Groups, u.Groups) && t.Description == u.Description && t.MaxJoins == u.MaxJoins
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

// TermsOptions are the options a token's terms are read from.
type TermsOptions struct {
	TTL         time.Duration
	Expires     string
	NoExpiry    bool
	Groups      []string
	Description string
	MaxJoins    int
}

// NewTerms reads a token's terms from the options: --ttl counts from now.
// Errors are *inputs.Error naming where the value came from (g).
func NewTerms(f TermsOptions, g options.Given, now time.Time) (Terms, error) {
	var t Terms
	switch {
	case f.NoExpiry:
	case f.Expires != "":
		e, err := time.Parse(time.RFC3339, f.Expires)
		if err != nil {
			return t, inputs.Errorf(g.Where("expires"), "%q is not an RFC3339 time such as 2027-01-31T00:00:00Z", f.Expires)
		}
		if !e.After(now) {
			return t, inputs.Errorf(g.Where("expires"), "%s is already past", e.UTC().Format(time.RFC3339))
		}
		t.Expires = e.UTC().Truncate(time.Second)
	default:
		if f.TTL < time.Minute {
			return t, inputs.Errorf(g.Where("ttl"), "%s is shorter than a minute: no node could join in time", f.TTL)
		}
		t.Expires = now.Add(f.TTL).UTC().Truncate(time.Second)
	}
	t.Groups = options.SplitList(f.Groups)
	if err := ValidateGroups(t.Groups); err != nil {
		return t, inputs.Errorf(g.Where("groups"), "%v", err)
	}
	if len(t.Groups) == 0 {
		return t, inputs.Errorf(g.Where("groups"), "at least one group is needed (default %s)", DefaultGroup)
	}
	t.Description, t.MaxJoins = f.Description, f.MaxJoins
	return t, nil
}

// Pool is one distinct token and the nodes that use it.
type Pool struct {
	Token token.Token
	// Nodes are the names of the nodes of a nodes file using the token
	// (none for a single node).
	Nodes []string
	// Endpoints are the API server addresses of its nodes, in order.
	Endpoints []string
	// Terms are the Secret's (manifests and apply); Given says where the
	// first node's came from.
	Terms Terms
	Given options.Given
}

// Fleet is what the cluster commands need of the nodes they prepare the
// cluster for: every distinct token, and the CA bundle all of them share.
type Fleet struct {
	Pools []*Pool
	CA    *CABundle
	// Endpoints are the first node's: cluster-info names the first.
	Endpoints []string
}

// NoExpiryWarning warns about the pool's token when it never expires
// (where names the flag or key that said so, and the token for a fleet);
// "" when it expires.
func (p *Pool) NoExpiryWarning(fleet bool) string {
	if !p.Terms.Expires.IsZero() {
		return ""
	}
	where := p.Given.Where("no-expiry")
	if fleet {
		where = fmt.Sprintf("token %s (%s)", p.Token.ID(), where)
	}
	return where + ": the token works until its Secret is deleted; anyone who copies an image baked with it can obtain node credentials for as long. Delete the Secret (and rebake) when an image leaks or retires."
}

// Summary is "token ID: N nodes (names), expires TIME" (or "never
// expires").
func (p *Pool) Summary() string {
	expires := "expires " + p.Terms.Expires.Format(time.RFC3339)
	if p.Terms.Expires.IsZero() {
		expires = "never expires"
	}
	return fmt.Sprintf("token %s: %s (%s), %s", p.Token.ID(), write.Plural(len(p.Nodes), "node"), write.ShortList(p.Nodes, 5), expires)
}

// NodeTerms gives node i's terms and where they came from.
type NodeTerms func(i int) (Terms, options.Given, error)

// FleetOf groups the nodes of a fleet render validated (render.PrepareFleet:
// names, tokens, CAs and endpoints as render takes them) by token. terms,
// when not nil, gives each node's terms: nodes sharing a token must ask for
// the same. noEndpoint(i) says node i named no API server (a stand-in
// address was validated in its place). Nodes of different CA bundles (two
// clusters) are refused: one cluster-info serves one cluster. Errors are
// *spec.NodeError.
func FleetOf(nodes []render.ValidNode, terms NodeTerms, noEndpoint func(i int) bool) (*Fleet, error) {
	f := &Fleet{}
	byID := map[string]*Pool{}
	caNode := ""
	for i, n := range nodes {
		s := n.Spec
		nodeErr := func(err error) error { return &spec.NodeError{Node: n.Name, Err: err} }
		switch {
		case f.CA == nil:
			f.CA, caNode = &CABundle{PEM: s.CABundle, Certs: s.CAs}, n.Name
		case !bytes.Equal(f.CA.PEM, s.CABundle):
			return nil, nodeErr(inputs.Errorf(n.Given.Where("ca"), "another CA bundle than node %q's: one cluster-info serves one cluster; run once per cluster", caNode))
		}
		var t Terms
		var given options.Given
		if terms != nil {
			var err error
			if t, given, err = terms(i); err != nil {
				return nil, nodeErr(err)
			}
		}
		eps := s.Endpoints
		if noEndpoint != nil && noEndpoint(i) {
			eps = nil
		}
		if f.Endpoints == nil {
			f.Endpoints = eps
		}
		p, ok := byID[s.Token.ID()]
		switch {
		case !ok:
			p = &Pool{Token: s.Token, Terms: t, Given: given}
			byID[s.Token.ID()] = p
			f.Pools = append(f.Pools, p)
		case terms != nil && !p.Terms.Equal(t):
			return nil, nodeErr(termsConflict(s.Token.ID(), p.Nodes[0], p.Terms, t, given, p.Given))
		}
		p.Nodes = append(p.Nodes, n.Name)
		for _, ep := range eps {
			if !slices.Contains(p.Endpoints, ep) {
				p.Endpoints = append(p.Endpoints, ep)
			}
		}
	}
	return f, nil
}

// termsConflict says how a node's terms t differ from those of first, the
// first node of the same token: one token is one Secret. The error names
// where the node's differing key was given (g), or else where the first
// node's was (fg): the nodes file's line rather than a flag's default.
func termsConflict(id, first string, ft, t Terms, g, fg options.Given) error {
	when := func(t Terms) string {
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
	if !fromFile(g) && !fromFile(fg) {
		for _, k := range keys {
			if g.Has(k) {
				where = g.Where(k)
			}
		}
	}
	return inputs.Errorf(where, "token %s %s: nodes that share a token share its Secret; give them the same terms (in defaults:, or per pool)", id, what)
}

// Objects are the objects of every token of f: one Secret each, with its
// own terms, then the bindings (to every group any token names) and
// cluster-info once, in the order they are printed and applied. A fleet of
// one token gives Build's objects.
func (f *Fleet) Objects() ([]runtime.Object, error) {
	var secrets []runtime.Object
	var groups []string
	for _, p := range f.Pools {
		objs, err := Build(Spec{Token: p.Token, CA: f.CA, Endpoints: f.Endpoints, Expires: p.Terms.Expires, Groups: p.Terms.Groups, Description: p.Terms.Description, MaxJoins: p.Terms.MaxJoins})
		if err != nil {
			return nil, err
		}
		secrets = append(secrets, objs.TokenSecret)
		for _, g := range p.Terms.Groups {
			if !slices.Contains(groups, g) {
				groups = append(groups, g)
			}
		}
	}
	objs, err := Build(Spec{Token: f.Pools[0].Token, CA: f.CA, Endpoints: f.Endpoints, Groups: groups})
	if err != nil {
		return nil, err
	}
	return append(secrets, objs.List()[1:]...), nil
}

// renderCommand is the command render's options are declared for.
const renderCommand = "render"

// FleetInput is what ReadFleet reads a nodes file with.
type FleetInput struct {
	// Nodes is the nodes file; Command the cluster command reading it.
	Nodes, Command string
	// Base is the command line's render inputs; Config is --config, read
	// once: its render keys go under the command line.
	Base   spec.Inputs
	Config *options.File
	// NeedEndpoint: every node must name an API server (manifests, apply);
	// check reads one from the cluster for nodes that name none.
	NeedEndpoint bool
	// Terms, when set, are the command line's token terms (manifests,
	// apply): a node's are these, with the nodes file's keys over them.
	Terms *Opts
	// TokenFile is called once for each distinct token file (to warn about
	// one others can read).
	TokenFile func(in *spec.Inputs)
	Now       time.Time
	// For one token (no nodes file): ReadFile reads the token file ("-"
	// may be stdin), and Warn says each warning about the CAs.
	ReadFile inputs.ReadFile
	Warn     func(string)
}

// ReadPool reads the one token of the command line (no nodes file): the
// token, the CA bundle and the endpoints, as render reads them, and the
// token's terms (with in.Terms). Errors are *inputs.Error naming the flag,
// or the --config line the value came from.
func ReadPool(in FleetInput) (*Fleet, error) {
	f, err := readPool(in)
	return f, in.Base.Given.Locate(err)
}

func readPool(in FleetInput) (*Fleet, error) {
	b := &in.Base
	tok, err := inputs.Token(inputs.TokenSource{File: b.TokenFile, Value: b.Token, Env: b.TokenEnv}, in.ReadFile)
	if err != nil {
		return nil, err
	}
	if in.TokenFile != nil {
		in.TokenFile(b)
	}
	ca, warns, err := ReadCABundle(b.CA, in.Now)
	if err != nil {
		return nil, err
	}
	for _, w := range warns {
		if in.Warn != nil {
			in.Warn(w)
		}
	}
	if in.NeedEndpoint && len(b.APIServer) == 0 {
		return nil, inputs.Errorf("--api-server", "the address nodes reach the API server at is needed (host, host:port or https://host:port)")
	}
	eps, err := inputs.Endpoints(b.APIServer)
	if err != nil {
		return nil, err
	}
	p := &Pool{Token: tok, Endpoints: eps, Given: b.Given}
	if in.Terms != nil {
		if p.Terms, err = NewTerms(in.Terms.Terms(), b.Given, in.Now); err != nil {
			return nil, err
		}
	}
	return &Fleet{Pools: []*Pool{p}, CA: ca, Endpoints: eps}, nil
}

// ReadFleet reads a nodes file for the cluster commands: every node as
// render --nodes takes it (render's keys of --config, the command line,
// the file's defaults and the node's own keys, merged once), validated as
// render validates it (render.PrepareFleet: names, tokens, CAs, endpoints,
// every option), so that no token is made or passed for a fleet render
// refuses; then grouped by token (FleetOf).
func ReadFleet(in FleetInput) (*Fleet, error) {
	nf, err := spec.ReadNodesFile(in.Nodes)
	if err != nil {
		return nil, err
	}
	base := in.Base
	set := options.NewSet(renderCommand, spec.AllOptions(), options.Bind(spec.Options, &base, renderCommand))
	// What the command line gave of render's options: the command's own
	// options of the same name (apply's --format, -o) are not render's.
	set.Given = options.Given{}
	for k, w := range in.Base.Given {
		if o, ok := spec.Options.Lookup(k); ok && o.UsedBy(in.Command) {
			set.Given[k] = w
		}
	}
	if in.Config != nil {
		if err := set.Apply(in.Config, nil); err != nil {
			return nil, err
		}
	}
	if err := set.Defaults(); err != nil {
		return nil, err
	}
	base.Given = set.Given
	nodes, err := nf.Merge(base)
	if err != nil {
		return nil, err
	}
	noEndpoint := make([]bool, len(nodes))
	seen := map[string]bool{}
	for i, n := range nodes {
		if f := n.Inputs.TokenFile; !seen[f] && in.TokenFile != nil {
			seen[f] = true
			in.TokenFile(&nodes[i].Inputs)
		}
		if len(n.Inputs.APIServer) == 0 {
			if in.NeedEndpoint {
				return nil, &spec.NodeError{Node: n.Name, Err: n.Inputs.Given.Locate(inputs.Errorf("--api-server", "the address nodes reach the API server at is needed"))}
			}
			// Checked as if it named one: check reads it from the cluster.
			noEndpoint[i], nodes[i].Inputs.APIServer = true, []string{"api-server.invalid"}
		}
	}
	fleet, err := render.PrepareFleet(nodes, render.FleetOptions{Cache: cache.New(inputs.ReadBounded, in.Now), Agent: embed.Load})
	if err != nil {
		return nil, err
	}
	var terms NodeTerms
	if in.Terms != nil {
		terms = nodeTerms(nf, in.Command, *in.Terms, in.Base.Given, in.Now)
	}
	return FleetOf(fleet.Nodes(), terms, func(i int) bool { return noEndpoint[i] })
}

// nodeTerms gives node i's token terms: base (the command line's and
// --config's), with the file's defaults and then the node's own keys of
// Options over them. given is the command's: where each option came from.
func nodeTerms(nf *spec.NodesFile, cmd string, base Opts, given options.Given, now time.Time) NodeTerms {
	return func(i int) (Terms, options.Given, error) {
		o := base
		set := options.NewSet(cmd, spec.AllOptions(), options.Bind(Options, &o, cmd))
		set.Given = given.Clone()
		if err := nf.ApplyNode(i, set); err != nil {
			return Terms{}, nil, err
		}
		if err := options.Check(set.Bindings(), set.Given); err != nil {
			return Terms{}, nil, err
		}
		t, err := NewTerms(o.Terms(), set.Given, now)
		return t, set.Given, err
	}
}
