package main

import (
	"fmt"
	"os"
	"time"

	"github.com/kubebake/kubebake/cluster"
	"github.com/kubebake/kubebake/internal/inputs"
	"github.com/spf13/pflag"
)

func init() {
	register(command{name: "manifests", summary: "print the cluster objects nodes need to join (token Secret, RBAC, cluster-info)", run: runManifests})
}

// DefaultTTL is how long a token made by manifests or apply lasts unless told
// otherwise. kubeadm's 24 h suits a token typed into `kubeadm join` today;
// a token baked into an image must outlive the image's rollout, and every
// day it lives is a day a leaked image lets anyone obtain a node identity.
// 30 days covers a monthly image rebuild; longer-lived images should say so
// (--ttl, --expires) or knowingly pass --no-expiry.
const defaultTTL = 720 * time.Hour

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
kubebake prints it. Pipe it to kubectl or write it to a file only you can read.

The token expires after --ttl (default 720h, a monthly image rebuild), at
--expires, or never (--no-expiry). An image holding a token the cluster has
forgotten cannot join: match the expiry to how long images are used, and run
kubebake check --min-ttl before baking. A token that never expires lets
anyone holding an image create node credentials until its Secret is deleted.

Flags:`

// clusterFlags are the inputs manifests, apply and check share with render:
// the token, the CA and the API server addresses.
type clusterFlags struct {
	tokenFile, token string
	ca, apiServer    []string
}

func (f *clusterFlags) register(fs *pflag.FlagSet, apiServerHelp string) {
	fs.StringVar(&f.tokenFile, "token-file", "", "`FILE` holding the bootstrap token <id>.<secret> (kubebake token generate > FILE)")
	fs.StringVar(&f.token, "token", "", "the bootstrap token itself (visible to other users in ps; prefer --token-file or $KUBEBAKE_TOKEN)")
	fs.StringArrayVar(&f.ca, "ca", nil, "cluster CA certificate `FILE` (PEM, several certificates allowed); repeat for a CA rotation")
	fs.StringArrayVar(&f.apiServer, "api-server", nil, apiServerHelp)
}

// load reads and checks the shared inputs, as render does (internal/inputs).
// Every error names its flag.
func (f *clusterFlags) load(env *cliEnv, needEndpoint bool) (*clusterInputs, error) {
	tok, err := inputs.Token(inputs.TokenSource{File: f.tokenFile, Value: f.token, Env: env.getenv(inputs.EnvToken)}, os.ReadFile)
	if err != nil {
		return nil, asUsage(err)
	}
	ca, warns, err := cluster.ReadCABundle(f.ca, time.Now())
	if err != nil {
		return nil, asUsage(err)
	}
	for _, w := range warns {
		fmt.Fprintln(env.stderr, "kubebake: warning:", w)
	}
	if needEndpoint && len(f.apiServer) == 0 {
		return nil, usageErrorf("--api-server: the address nodes reach the API server at is needed (host, host:port or https://host:port)")
	}
	eps, err := inputs.Endpoints(f.apiServer)
	if err != nil {
		return nil, asUsage(err)
	}
	return &clusterInputs{spec: cluster.Spec{Token: tok, CA: ca, Endpoints: eps}}, nil
}

type clusterInputs struct{ spec cluster.Spec }

// expiryFlags choose when the token expires.
type expiryFlags struct {
	ttl      time.Duration
	expires  string
	noExpiry bool
	groups   []string
	desc     string
}

func (f *expiryFlags) register(fs *pflag.FlagSet) {
	fs.DurationVar(&f.ttl, "ttl", defaultTTL, "the token expires this long from now")
	fs.StringVar(&f.expires, "expires", "", "the token expires at this RFC3339 `time` (2027-01-31T00:00:00Z) instead")
	fs.BoolVar(&f.noExpiry, "no-expiry", false, "the token never expires (an image leak stays usable until you delete the Secret)")
	fs.StringSliceVar(&f.groups, "groups", []string{cluster.DefaultGroup}, "the token's extra `groups` (system:bootstrappers:...), comma-separated or repeated; the bindings grant to these")
	fs.StringVar(&f.desc, "description", "", "description stored in the token Secret")
}

// apply sets the expiry, groups and description of spec, warning on stderr
// about a token that never expires.
func (f *expiryFlags) apply(env *cliEnv, fs *pflag.FlagSet, spec *cluster.Spec, now time.Time) error {
	set := 0
	for _, n := range []string{"ttl", "expires", "no-expiry"} {
		if fs.Changed(n) {
			set++
		}
	}
	if set > 1 {
		return usageErrorf("--ttl, --expires and --no-expiry exclude each other: give one")
	}
	switch {
	case f.noExpiry:
		fmt.Fprintln(env.stderr, "kubebake: warning: --no-expiry: the token works until its Secret is deleted; anyone who copies an image baked with it can obtain node credentials for as long. Delete the Secret (and rebake) when an image leaks or retires.")
	case f.expires != "":
		t, err := time.Parse(time.RFC3339, f.expires)
		if err != nil {
			return usageErrorf("--expires: %q is not an RFC3339 time such as 2027-01-31T00:00:00Z", f.expires)
		}
		if !t.After(now) {
			return usageErrorf("--expires: %s is already past", t.UTC().Format(time.RFC3339))
		}
		spec.Expires = t.UTC().Truncate(time.Second)
	default:
		if f.ttl <= 0 {
			return usageErrorf("--ttl: %s is not a positive duration (use --no-expiry for a token that never expires)", f.ttl)
		}
		if f.ttl < time.Minute {
			return usageErrorf("--ttl: %s is shorter than a minute: no node could join in time", f.ttl)
		}
		spec.Expires = now.Add(f.ttl).UTC().Truncate(time.Second)
	}
	if err := cluster.ValidateGroups(f.groups); err != nil {
		return usageErrorf("--groups: %v", err)
	}
	if len(f.groups) == 0 {
		return usageErrorf("--groups: at least one group is needed (default %s)", cluster.DefaultGroup)
	}
	spec.Groups = f.groups
	spec.Description = f.desc
	return nil
}

// buildObjects reads the inputs and expiry flags manifests and apply share
// and builds the objects one prints and the other applies.
func buildObjects(env *cliEnv, fs *pflag.FlagSet, cf *clusterFlags, ef *expiryFlags) (*cluster.Objects, error) {
	in, err := cf.load(env, true)
	if err != nil {
		return nil, err
	}
	if err := ef.apply(env, fs, &in.spec, time.Now()); err != nil {
		return nil, err
	}
	return cluster.Build(in.spec)
}

func runManifests(env *cliEnv, args []string) error {
	fs := newFlagSet(env, "manifests", manifestsUsage)
	var cf clusterFlags
	var ef expiryFlags
	cf.register(fs, "`ADDRESS` nodes reach the API server at (host, host:port, https://host:port); cluster-info names the first")
	ef.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	objs, err := buildObjects(env, fs, &cf, &ef)
	if err != nil {
		return err
	}
	out, err := cluster.MarshalYAML(objs.List())
	if err != nil {
		return err
	}
	_, err = env.stdout.Write(out)
	return err
}
