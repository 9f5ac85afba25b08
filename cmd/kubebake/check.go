package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/kubebake/kubebake/cluster"
	"github.com/kubebake/kubebake/internal/endpoint"
	"github.com/kubebake/kubebake/render/spec"
)

func init() {
	register(command{name: "check", summary: "preflight: is the cluster ready for nodes baked with this token and CA?", run: runCheck})
}

const checkUsage = `check [--kubeconfig admin.conf] --token-file FILE --ca ca.crt [--api-server HOST[:PORT]]... [flags]

The preflight to run before baking images. Checks that
  - the token's Secret exists, with the right type, both usages, and does not
    expire within --min-ttl (an image is no better than its token);
  - ClusterRoleBindings let the token's groups create node CSRs and have them
    auto-approved, and let nodes renew their certificates;
  - kube-public/cluster-info exists, carries a jws-kubeconfig-<id> signature
    valid for this token, its CA matches the pins of --ca, and it names one
    of the --api-server addresses;
  - at every --api-server (default: the server cluster-info names), the API
    server certificate is signed by --ca and valid for that name, an
    anonymous GET of cluster-info works, and kubebake-join's own token
    discovery verifies the cluster.

--min-ttl defaults to a week, well inside the 720h that manifests and apply
give a token by default; set it to how long the images you are about to bake
will keep booting new nodes.

Prints a checklist, a fix under every failure; exits 1 if any check fails,
2 on bad flags. --output json prints {"ok": ..., "checks": [...]} instead.

Examples:
  kubebake check --kubeconfig admin.conf --token-file token --ca ca.crt --min-ttl 720h
  kubebake check --config pool.yaml --api-server 10.0.0.10:6443 -o json

Flags:`

func runCheck(env *cliEnv, args []string) error {
	fs := newFlagSet(env, "check", checkUsage)
	opts := newCmdOptions(cmdCheck, fs)
	output := fs.StringP("output", "o", "text", "`format` of the report: text or json")
	if err := opts.load(env, fs, args); err != nil {
		return err
	}
	if *output != "text" && *output != "json" {
		return usageErrorf("--output: %q is not text or json", *output)
	}
	if opts.in.Nodes != "" {
		return checkFleet(env, opts, *output)
	}
	in, err := loadCluster(env, &opts.in, false)
	if err != nil {
		return err
	}
	kf := &opts.co
	cs, cfg, err := client(env, kf)
	if err != nil {
		return err
	}
	spec := cluster.CheckSpec{
		Token:      in.spec.Token,
		CA:         in.spec.CA,
		Endpoints:  in.spec.Endpoints,
		MinTTL:     kf.MinTTL,
		Timeout:    min(kf.Timeout, 10*time.Second),
		FixCommand: fixCommand(kf, &opts.in),
	}
	if u, err := url.Parse(cfg.Host); err == nil {
		if ep, err := endpoint.Parse("https://" + u.Host); err == nil {
			spec.Fallback = ep
		}
	}
	// Each request has its own deadline (--timeout for the API, at most 10 s
	// for an endpoint): a slow endpoint must not starve the checks after it.
	report := cluster.Check(context.Background(), cs, spec)
	if *output == "json" {
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(report); err != nil {
			return err
		}
	} else {
		writeChecklist(env.stdout, report)
	}
	if !report.OK {
		n := 0
		for _, r := range report.Checks {
			if r.Status == cluster.Fail {
				n++
			}
		}
		return fmt.Errorf("%d of %d checks failed: the cluster is not ready for nodes with token %s", n, len(report.Checks), in.spec.Token.ID())
	}
	return nil
}

// fixCommand is the kubebake apply command line the fixes suggest: the same
// inputs, the token by file only (a secret on a command line ends in shell
// history).
func fixCommand(kf *clusterOpts, in *spec.Inputs) string {
	parts := []string{"kubebake apply"}
	if in.ConfigFile != "" {
		parts = append(parts, "--config "+in.ConfigFile)
	}
	// What the config file gives, it gives apply too.
	byFlag := func(name string) bool { return in.ConfigFile == "" || strings.HasPrefix(in.Given.Where(name), "--") }
	if kf.Kubeconfig != "" && byFlag("kubeconfig") {
		parts = append(parts, "--kubeconfig "+kf.Kubeconfig)
	}
	switch {
	case in.TokenFile == "" && in.ConfigFile == "":
		parts = append(parts, "--token-file FILE")
	case in.TokenFile != "" && byFlag("token-file"):
		parts = append(parts, "--token-file "+in.TokenFile)
	}
	if byFlag("ca") {
		for _, c := range in.CA {
			parts = append(parts, "--ca "+c)
		}
	}
	if len(in.APIServer) == 0 {
		parts = append(parts, "--api-server ADDRESS")
	} else if byFlag("api-server") {
		for _, a := range in.APIServer {
			parts = append(parts, "--api-server "+a)
		}
	}
	return strings.Join(parts, " ")
}

func writeChecklist(w io.Writer, r *cluster.Report) {
	for _, c := range r.Checks {
		mark := "✓"
		switch c.Status {
		case cluster.Fail:
			mark = "✗"
		case cluster.Skip:
			mark = "-"
		case cluster.Warn:
			mark = "!"
		}
		fmt.Fprintf(w, "%s %s: %s\n", mark, c.ID, c.Message)
		if c.Fix != "" {
			fmt.Fprintf(w, "    fix: %s\n", c.Fix)
		}
	}
	if r.OK {
		fmt.Fprintln(w, "ready: nodes baked with this token and CA can join")
	}
}
