package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/kubebake/kubebake/internal/inputs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kubebake/kubebake/cluster"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"
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

Before changing anything, apply checks that --ca signs the certificate the
API server serves: cluster-info with another CA would break every join.
During a CA rotation give the whole bundle (old and new CA): it passes.
--force publishes a --ca that does not (yet) sign it, deliberately.

The kubeconfig is --kubeconfig, else $KUBECONFIG, else ~/.kube/config, as
kubectl finds it; it needs rights to create Secrets in kube-system,
ClusterRoleBindings, and ConfigMaps, Roles and RoleBindings in kube-public.

Examples:
  kubebake apply --kubeconfig admin.conf --token-file token --ca ca.crt --api-server 10.0.0.10:6443 --dry-run
  kubebake apply --config pool.yaml -o json

Flags:`

// client builds a clientset from the kubeconfig of o. Errors say what is
// wrong with which file, in the user's words (client-go's speak of
// KUBERNETES_MASTER and Go types).
func client(env *cliEnv, o *clusterOpts) (kubernetes.Interface, *rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	var files []string
	switch {
	case o.Kubeconfig != "":
		rules.ExplicitPath = o.Kubeconfig
		files = []string{o.Kubeconfig}
	case env.getenv("KUBECONFIG") != "":
		for _, f := range filepath.SplitList(env.getenv("KUBECONFIG")) {
			if f == "" {
				continue
			}
			if _, err := os.Stat(f); err != nil {
				return nil, nil, usageErrorf("$KUBECONFIG: %s: %v (give --kubeconfig FILE, or fix $KUBECONFIG)", f, reason(err))
			}
			files = append(files, f)
		}
	default:
		if f := rules.GetDefaultFilename(); f != "" {
			if _, err := os.Stat(f); err == nil {
				files = []string{f}
			}
		}
	}
	for _, f := range files {
		if err := looksLikeKubeconfig(f); err != nil {
			return nil, nil, usageErrorf("--kubeconfig: %v", err)
		}
	}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: o.Context})
	cfg, err := cc.ClientConfig()
	switch {
	case clientcmd.IsEmptyConfig(err):
		return nil, nil, usageErrorf("--kubeconfig: no kubeconfig found (not given, $KUBECONFIG unset, no ~/.kube/config): give --kubeconfig FILE, an admin kubeconfig such as a kubeadm control plane's /etc/kubernetes/admin.conf")
	case err != nil:
		return nil, nil, usageErrorf("--kubeconfig: %s", plainError(err))
	}
	cfg.UserAgent = "kubebake/" + version
	cfg.Timeout = o.Timeout
	// A fleet is a few requests a token: client-go's default of 5 a second
	// made 30 tokens take 10 s.
	cfg.QPS, cfg.Burst = 50, 100
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, nil, usageErrorf("--kubeconfig: %s", plainError(err))
	}
	return cs, cfg, nil
}

// looksLikeKubeconfig reads f as YAML and wants kind: Config, so that a
// wrong file gets a sentence rather than a JSON decoder's Go types.
func looksLikeKubeconfig(f string) error {
	data, err := inputs.ReadBounded(f)
	if err != nil {
		return fmt.Errorf("%s: %v", f, reason(err))
	}
	var head struct {
		Kind     string `json:"kind"`
		Clusters []any  `json:"clusters"`
	}
	if err := yaml.Unmarshal(data, &head); err != nil || (head.Kind != "Config" && head.Kind != "") || (head.Kind == "" && head.Clusters == nil) {
		return fmt.Errorf("%s is not a kubeconfig (want a YAML file with kind: Config, clusters, users and contexts, like /etc/kubernetes/admin.conf)", f)
	}
	return nil
}

// plainError is err's message without client-go's Go-type internals.
func plainError(err error) string {
	msg := err.Error()
	for _, internal := range []string{"Go value of type", "Go struct field", "json: cannot unmarshal"} {
		if strings.Contains(msg, internal) {
			return "the kubeconfig is malformed (a field has the wrong type); check it with kubectl --kubeconfig FILE config view"
		}
	}
	return strings.TrimPrefix(msg, "invalid configuration: ")
}

func runApply(env *cliEnv, args []string) error {
	fs := newFlagSet(env, "apply", applyUsage)
	opts := newCmdOptions(cmdApply, fs)
	output := fs.StringP("output", "o", "text", "`format` of the report: text or json")
	if err := opts.load(env, fs, args); err != nil {
		return err
	}
	if *output != "text" && *output != "json" {
		return usageErrorf("--output: %q is not text or json", *output)
	}
	objs, ca, err := buildObjects(env, opts)
	if err != nil {
		return err
	}
	kf := &opts.co
	dryRun := &kf.DryRun
	cs, cfg, err := client(env, kf)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), kf.Timeout)
	defer cancel()
	// cluster-info is about to name --ca: it must be the CA that signs the
	// API server's certificate, or every token-discovery join breaks.
	if !kf.Force {
		if err := cluster.VerifyServingCA(ctx, cfg.Host, ca, time.Now()); err != nil {
			if errors.Is(err, cluster.ErrServingCA) {
				return usageErrorf("--ca: %v: applying would publish in kube-public/cluster-info a CA that nodes cannot verify this cluster with, and every join (kubeadm's too) would fail. Give the cluster's CA (kubeadm: /etc/kubernetes/pki/ca.crt), or --force for a deliberate CA rotation", err)
			}
			return applyFailed(env, *output, cfg.Host, *dryRun, nil, clusterError(err, kf.Timeout))
		}
	}
	changes, err := cluster.Apply(ctx, cs, objs, cluster.ApplyOptions{DryRun: *dryRun})
	if sce := (*cluster.SecretChangedError)(nil); errors.As(err, &sce) {
		// Nothing was applied: the token given is refused.
		where := "--token-file"
		if opts.in.Nodes != "" {
			where = "--nodes: " + opts.in.Nodes
		}
		return usageErrorf("%s: %v", where, sce)
	}
	if err != nil {
		return applyFailed(env, *output, cfg.Host, *dryRun, changes, clusterError(err, kf.Timeout))
	}
	return writeApplyReport(env, *output, cfg.Host, *dryRun, changes, nil)
}

// applyFailed reports the changes made before err, then err.
func applyFailed(env *cliEnv, output, server string, dryRun bool, changes []cluster.Change, err error) error {
	if werr := writeApplyReport(env, output, server, dryRun, changes, err); werr != nil {
		return werr
	}
	return fmt.Errorf("%s: %v", server, err)
}

// writeApplyReport prints what apply did, as text or JSON; the JSON holds
// the error too, so automation reading only stdout sees the failure.
func writeApplyReport(env *cliEnv, output, server string, dryRun bool, changes []cluster.Change, failure error) error {
	if output == "json" {
		if changes == nil {
			changes = []cluster.Change{}
		}
		report := struct {
			Server  string           `json:"server"`
			DryRun  bool             `json:"dryRun"`
			Changes []cluster.Change `json:"changes"`
			Error   string           `json:"error,omitempty"`
		}{server, dryRun, changes, ""}
		if failure != nil {
			report.Error = failure.Error()
		}
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(report)
	}
	suffix := ""
	if dryRun {
		suffix = " (dry run)"
	}
	for _, c := range changes {
		fmt.Fprintf(env.stdout, "%s%s\n", c, suffix)
	}
	return nil
}

// clusterError words a failed request: a deadline names --timeout.
func clusterError(err error, timeout time.Duration) error {
	if errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "context deadline exceeded") || strings.Contains(err.Error(), "Client.Timeout exceeded") {
		return fmt.Errorf("no answer within --timeout %s (is the API server up and reachable from here?)", timeout)
	}
	return err
}
