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

Flags:`

const defaultMinTTL = 168 * time.Hour

func runCheck(env *cliEnv, args []string) error {
	fs := newFlagSet(env, "check", checkUsage)
	var kf kubeFlags
	var cf clusterFlags
	kf.register(fs)
	cf.register(fs, "`ADDRESS` nodes will reach the API server at; repeat for each (default: the server cluster-info names)")
	minTTL := fs.Duration("min-ttl", defaultMinTTL, "fail if the token expires sooner than this from now (set it to how long images will be used)")
	output := fs.StringP("output", "o", "text", "`format` of the report: text or json")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *output != "text" && *output != "json" {
		return usageErrorf("--output: %q is not text or json", *output)
	}
	if *minTTL < 0 {
		return usageErrorf("--min-ttl: %s is negative", *minTTL)
	}
	in, err := cf.load(env, false)
	if err != nil {
		return err
	}
	cs, cfg, err := kf.client()
	if err != nil {
		return err
	}
	spec := cluster.CheckSpec{
		Token:      in.spec.Token,
		CA:         in.spec.CA,
		Endpoints:  in.spec.Endpoints,
		MinTTL:     *minTTL,
		Timeout:    min(kf.timeout, 10*time.Second),
		FixCommand: fixCommand(&kf, &cf),
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
func fixCommand(kf *kubeFlags, cf *clusterFlags) string {
	parts := []string{"kubebake apply"}
	if kf.kubeconfig != "" {
		parts = append(parts, "--kubeconfig "+kf.kubeconfig)
	}
	tf := cf.tokenFile
	if tf == "" {
		tf = "FILE"
	}
	parts = append(parts, "--token-file "+tf)
	for _, c := range cf.ca {
		parts = append(parts, "--ca "+c)
	}
	if len(cf.apiServer) == 0 {
		parts = append(parts, "--api-server ADDRESS")
	}
	for _, a := range cf.apiServer {
		parts = append(parts, "--api-server "+a)
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
