package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/kubebake/kubebake/cluster"
	"github.com/kubebake/kubebake/render"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

func init() {
	register(command{name: "apply", summary: "create or update the cluster objects of `kubebake manifests` (server-side apply)", run: runApply})
}

const applyUsage = `apply [--kubeconfig admin.conf] --token-file FILE --ca ca.crt --api-server HOST[:PORT] [flags]

Creates or updates the objects kubebake manifests prints, with server-side
apply (field manager "kubebake"), and prints for each whether it was created,
configured (with the fields that changed, never their values) or unchanged.
Running it again with the same flags changes nothing, except that --ttl counts
from now: pass --expires for a fixed expiry. Fields other managers own, such as
the jws-kubeconfig-* signatures in cluster-info, are left alone. On a kubeadm
cluster, apply takes over cluster-info's kubeconfig (CA bundle of --ca, server
https://<first --api-server>) and kubeadm's default token group is bound again
under kubebake's names: run with --dry-run first to see what would change.

The kubeconfig is --kubeconfig, else $KUBECONFIG, else ~/.kube/config, as
kubectl finds it; it needs rights to create Secrets in kube-system,
ClusterRoleBindings, and ConfigMaps, Roles and RoleBindings in kube-public.

Examples:
  kubebake apply --kubeconfig admin.conf --token-file token --ca ca.crt --api-server 10.0.0.10:6443 --dry-run
  kubebake apply --config pool.yaml -o json

Flags:`

// client builds a clientset from the kubeconfig of o.
func client(o *clusterOpts) (kubernetes.Interface, *rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if o.Kubeconfig != "" {
		rules.ExplicitPath = o.Kubeconfig
	}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: o.Context})
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, nil, usageErrorf("--kubeconfig: %v", err)
	}
	cfg.UserAgent = "kubebake/" + version
	cfg.Timeout = o.Timeout
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, nil, usageErrorf("--kubeconfig: %v", err)
	}
	return cs, cfg, nil
}

func runApply(env *cliEnv, args []string) error {
	fs := newFlagSet(env, "apply", applyUsage)
	opts := newCmdOptions(render.CmdApply, fs)
	output := fs.StringP("output", "o", "text", "`format` of the report: text or json")
	if err := opts.load(env, fs, args); err != nil {
		return err
	}
	if *output != "text" && *output != "json" {
		return usageErrorf("--output: %q is not text or json", *output)
	}
	objs, err := buildObjects(env, opts)
	if err != nil {
		return err
	}
	kf := &opts.co
	dryRun := &kf.DryRun
	cs, cfg, err := client(kf)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), kf.Timeout)
	defer cancel()
	changes, err := cluster.Apply(ctx, cs, objs, cluster.ApplyOptions{DryRun: *dryRun})
	if *output == "json" {
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		if changes == nil {
			changes = []cluster.Change{}
		}
		if jerr := enc.Encode(struct {
			Server  string           `json:"server"`
			DryRun  bool             `json:"dryRun"`
			Changes []cluster.Change `json:"changes"`
		}{cfg.Host, *dryRun, changes}); jerr != nil && err == nil {
			err = jerr
		}
	} else {
		suffix := ""
		if *dryRun {
			suffix = " (dry run)"
		}
		for _, c := range changes {
			fmt.Fprintf(env.stdout, "%s%s\n", c, suffix)
		}
	}
	if err != nil {
		return fmt.Errorf("%s: %v", cfg.Host, err)
	}
	return nil
}
