package main

import (
	"context"
	"io"
	"time"

	"github.com/kubebake/kubebake/cluster"
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
will keep booting new nodes. With --nodes, every token of the nodes file is
checked.

Prints a checklist, a fix under every failure; exits 1 if any check fails,
2 on bad flags. --format json prints {"ok": ..., "checks": [...]} instead
({"ok": ..., "tokens": [...]} with --nodes).

Examples:
  kubebake check --kubeconfig admin.conf --token-file token --ca ca.crt --min-ttl 720h
  kubebake check --config pool.yaml --api-server 10.0.0.10:6443 --format json -o check.json

Flags:`

func runCheck(env *cliEnv, args []string) error {
	opts, err := parseCmd(env, cmdCheck, checkUsage, args)
	if err != nil {
		return err
	}
	kf := &opts.co
	fc, err := loadFleet(env, opts, false)
	if err != nil {
		return err
	}
	c, err := client(env, opts)
	if err != nil {
		return err
	}
	fleet := opts.in.Nodes != ""
	spec := cluster.CheckSpec{CA: fc.CA, MinTTL: kf.MinTTL, Timeout: min(kf.Timeout, 10*time.Second), FixCommand: cluster.FixCommand(kf.Kubeconfig, &opts.in), Fallback: c.Endpoint()}
	if fleet {
		spec.ExpiryHow = "with the ttl or expires of the pool's nodes in " + opts.in.Nodes + " raised (a node's own keys win over --ttl and --expires)"
	}
	// Each request has its own deadline (--timeout for the API, at most
	// 10 s for an endpoint): a slow endpoint must not starve the rest.
	fr := cluster.CheckFleet(context.Background(), c, spec, fc.Pools)
	if err := writeReport(env, kf, fr.Document(fleet), func(w io.Writer) { fr.WriteText(w, fleet) }); err != nil {
		return err
	}
	return fr.Err(fleet)
}
