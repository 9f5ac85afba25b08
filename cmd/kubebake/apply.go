package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/kubebake/kubebake/cluster"
)

func init() {
	register(command{name: "apply", summary: "create or update the cluster objects of `kubebake manifests` (server-side apply)", run: runApply})
}

const applyUsage = `apply [--kubeconfig admin.conf] --token-file FILE --ca ca.crt --api-server HOST[:PORT] [flags]

Creates or updates the objects kubebake manifests prints, with server-side
apply (field manager "kubebake"), and prints for each whether it was created,
configured (with the fields that changed, never their values) or unchanged.
Running it again with the same flags changes nothing, except that --ttl counts
from now: pass --expires for a fixed expiry. A token Secret kubebake did not
make (kubeadm token create's) is left as it is and reported, unless --adopt.
Fields other managers own, such as the jws-kubeconfig-* signatures in
cluster-info, are left alone. On a kubeadm
cluster, apply takes over cluster-info's kubeconfig (CA bundle of --ca, server
https://<first --api-server>) and kubeadm's default token group is bound again
under kubebake's names: run with --dry-run first to see what would change.

Before changing anything, apply checks that --ca signs the certificate the
API server serves: cluster-info with another CA would break every join.
During a CA rotation give the whole bundle (old and new CA): it passes.
--force publishes a --ca that does not (yet) sign it, deliberately.

The kubeconfig is --kubeconfig, else $KUBECONFIG, else ~/.kube/config, as
kubectl finds it; it needs rights to create Secrets in kube-system,
ClusterRoleBindings, and ConfigMaps, Roles and RoleBindings in kube-public.

Examples:
  kubebake apply --kubeconfig admin.conf --token-file token --ca ca.crt --api-server 10.0.0.10:6443 --dry-run
  kubebake apply --config pool.yaml --format json -o applied.json

Flags:`

func runApply(env *cliEnv, args []string) error {
	opts, err := parseCmd(env, cmdApply, applyUsage, args)
	if err != nil {
		return err
	}
	kf := &opts.co
	fc, objs, err := tokenObjects(env, opts)
	if err != nil {
		return err
	}
	c, err := client(env, opts)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), kf.Timeout)
	defer cancel()
	// cluster-info is about to name --ca: it must be the CA that signs the
	// API server's certificate, or every token-discovery join breaks.
	report, err := cluster.ApplyChecked(ctx, c, fc.CA, objs, cluster.ApplyOptions{DryRun: kf.DryRun, Adopt: kf.Adopt}, kf.Force)
	if errors.Is(err, cluster.ErrServingCA) {
		return usageErrorf("--ca: %v: applying would publish in kube-public/cluster-info a CA that nodes cannot verify this cluster with, and every join (kubeadm's too) would fail. Give the cluster's CA (kubeadm: /etc/kubernetes/pki/ca.crt), or --force for a deliberate CA rotation", err)
	}
	if sce := (*cluster.SecretChangedError)(nil); errors.As(err, &sce) {
		// Nothing was applied: the token given is refused.
		where := "--token-file"
		if opts.in.Nodes != "" {
			where = "--nodes: " + opts.in.Nodes
		}
		return usageErrorf("%s: %v", where, sce)
	}
	if err != nil {
		err = clusterError(err, kf.Timeout)
		report.Error = err.Error()
	}
	werr := writeReport(env, kf, report, report.WriteText)
	if err != nil {
		return fmt.Errorf("%s: %v", c.Host, err)
	}
	return werr
}
