package main

import (
	"github.com/kubebake/kubebake/cluster"
)

func init() {
	register(command{name: "manifests", summary: "print the cluster objects nodes need to join (token Secret, RBAC, cluster-info)", run: runManifests})
}

const manifestsUsage = `manifests --token-file FILE --ca ca.crt --api-server HOST[:PORT] [flags]

Prints, as multi-document YAML for kubectl apply -f -, the objects a cluster
needs before nodes rendered by kubebake render can join it:

  - Secret kube-system/bootstrap-token-<id> (type bootstrap.kubernetes.io/token,
    usages authentication and signing, the --groups, the expiration)
  - ClusterRoleBindings letting the token's groups create node CSRs and get them
    auto-approved, and nodes renew their certificates
  - ConfigMap kube-public/cluster-info: a kubeconfig with the CA bundle and
    https://<first --api-server>, which the bootstrapsigner signs for the token
  - Role and RoleBinding letting system:anonymous get cluster-info

The output holds the token's SECRET (the Secret's data): it is the one place
kubebake prints it. Pipe it to kubectl or write it to a file only you can read;
as render's, it is refused on a terminal.

The token expires after --ttl (default 720h, a monthly image rebuild), at
--expires, or never (--no-expiry). An image holding a token the cluster has
forgotten cannot join: match the expiry to how long images are used, and run
kubebake check --min-ttl before baking. A token that never expires lets
anyone holding an image create node credentials until its Secret is deleted.

Examples:
  kubebake manifests --token-file token --ca ca.crt --api-server 10.0.0.10:6443 | kubectl apply -f -
  kubebake manifests --config pool.yaml --ttl 2160h -o cluster-side.yaml

Flags:`

func runManifests(env *cliEnv, args []string) error {
	opts, err := parseCmd(env, cmdManifests, manifestsUsage, args)
	if err != nil {
		return err
	}
	output := opts.co.Output
	if err := ownInput(output, append(renderInputs(&opts.in), "nodes", opts.in.Nodes)...); err != nil {
		return err
	}
	if img := opts.co.PrunerImage; img != "" {
		out, err := cluster.MarshalYAML(cluster.PrunerObjects(img))
		if err != nil {
			return err
		}
		return writeOutput(env, output, out, 0o644, "")
	}
	_, objs, err := tokenObjects(env, opts)
	if err != nil {
		return err
	}
	out, err := cluster.MarshalYAML(objs)
	if err != nil {
		return err
	}
	return writeOutput(env, output, out, 0o600, "holds the token's secret (its Secret)")
}
