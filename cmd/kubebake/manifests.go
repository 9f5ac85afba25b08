package main

import (
	"fmt"
	"slices"
	"time"

	"github.com/kubebake/kubebake/cluster"
	"github.com/kubebake/kubebake/internal/inputs"
	"github.com/kubebake/kubebake/internal/options"
	"github.com/kubebake/kubebake/render/spec"
	"k8s.io/apimachinery/pkg/runtime"
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
kubebake prints it. Pipe it to kubectl or write it to a file only you can read.

The token expires after --ttl (default 720h, a monthly image rebuild), at
--expires, or never (--no-expiry). An image holding a token the cluster has
forgotten cannot join: match the expiry to how long images are used, and run
kubebake check --min-ttl before baking. A token that never expires lets
anyone holding an image create node credentials until its Secret is deleted.

Examples:
  kubebake manifests --token-file token --ca ca.crt --api-server 10.0.0.10:6443 | kubectl apply -f -
  kubebake manifests --config pool.yaml --ttl 2160h -o cluster-side.yaml

Flags:`

// loadCluster reads and checks the inputs manifests, apply and check share
// with render (internal/inputs): the token, the CA and the API server
// addresses. Every error names its flag.
func loadCluster(env *cliEnv, in *spec.Inputs, needEndpoint bool) (*clusterInputs, error) {
	tok, err := inputs.Token(inputs.TokenSource{File: in.TokenFile, Value: in.Token, Env: in.TokenEnv}, env.readFile)
	if err != nil {
		return nil, whereFrom(in, err)
	}
	if w := inputs.TokenFileWarning(in.TokenFile); w != "" {
		fmt.Fprintln(env.stderr, "kubebake: warning:", w)
	}
	ca, warns, err := cluster.ReadCABundle(in.CA, time.Now())
	if err != nil {
		return nil, whereFrom(in, err)
	}
	for _, w := range warns {
		fmt.Fprintln(env.stderr, "kubebake: warning:", w)
	}
	if needEndpoint && len(in.APIServer) == 0 {
		return nil, usageErrorf("--api-server: the address nodes reach the API server at is needed (host, host:port or https://host:port)")
	}
	eps, err := inputs.Endpoints(in.APIServer)
	if err != nil {
		return nil, whereFrom(in, err)
	}
	return &clusterInputs{spec: cluster.Spec{Token: tok, CA: ca, Endpoints: eps}}, nil
}

// whereFrom names, in an input error about a flag, the config file line
// the value came from, and makes it a usage error.
func whereFrom(in *spec.Inputs, err error) error {
	return asUsage(in.Given.Locate(err))
}

type clusterInputs struct{ spec cluster.Spec }

// expiry sets the expiry, groups and description of spec from o, warning
// on stderr about a token that never expires.
func expiry(env *cliEnv, o *cmdOptions, spec *cluster.Spec, now time.Time) error {
	t, err := tokenTerms(&o.co, o.in.Given, now)
	if err != nil {
		return usageErrorf("%v", err)
	}
	t.apply(spec)
	if t.Expires.IsZero() {
		warnNoExpiry(env, o.in.Given.Where("no-expiry"))
	}
	return nil
}

// warnNoExpiry warns that a token never expires; where says which and
// where that was asked for ("--no-expiry").
func warnNoExpiry(env *cliEnv, where string) {
	fmt.Fprintf(env.stderr, "kubebake: warning: %s: the token works until its Secret is deleted; anyone who copies an image baked with it can obtain node credentials for as long. Delete the Secret (and rebake) when an image leaks or retires.\n", where)
}

// terms are what a token Secret says besides the token: when it expires
// (zero: never), its groups and its description.
type terms struct {
	Expires     time.Time
	Groups      []string
	Description string
	MaxJoins    int
}

func (t terms) apply(spec *cluster.Spec) {
	spec.Expires, spec.Groups, spec.Description, spec.MaxJoins = t.Expires, t.Groups, t.Description, t.MaxJoins
}

// equal says whether t and u ask for the same Secret: the same groups in
// any order.
func (t terms) equal(u terms) bool {
	return t.Expires.Equal(u.Expires) && sameSet(t.Groups, u.Groups) && t.Description == u.Description && t.MaxJoins == u.MaxJoins
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

// tokenTerms reads a token's terms from the options: --ttl counts from now.
// Errors name where the value came from.
func tokenTerms(f *clusterOpts, g options.Given, now time.Time) (terms, error) {
	var t terms
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
	if err := cluster.ValidateGroups(t.Groups); err != nil {
		return t, inputs.Errorf(g.Where("groups"), "%v", err)
	}
	if len(t.Groups) == 0 {
		return t, inputs.Errorf(g.Where("groups"), "at least one group is needed (default %s)", cluster.DefaultGroup)
	}
	t.Description = f.Description
	t.MaxJoins = int(f.MaxJoins)
	return t, nil
}

// buildObjects reads the inputs and expiry options manifests and apply
// share and builds the objects one prints and the other applies (with
// --nodes, every token of the fleet: see fleetObjects), and the CA bundle
// cluster-info names.
func buildObjects(env *cliEnv, o *cmdOptions) ([]runtime.Object, *cluster.CABundle, error) {
	if o.in.Nodes != "" {
		return fleetObjects(env, o)
	}
	in, err := loadCluster(env, &o.in, true)
	if err != nil {
		return nil, nil, err
	}
	if err := expiry(env, o, &in.spec, time.Now()); err != nil {
		return nil, nil, err
	}
	objs, err := cluster.Build(in.spec)
	if err != nil {
		return nil, nil, err
	}
	return objs.List(), in.spec.CA, nil
}

func runManifests(env *cliEnv, args []string) error {
	fs := newFlagSet(env, "manifests", manifestsUsage)
	opts := newCmdOptions(cmdManifests, fs)
	output := fs.StringP("output", "o", "", "write to `FILE` (mode 0600, atomically: it holds the token's secret) instead of stdout")
	if err := opts.load(env, fs, args); err != nil {
		return err
	}
	if err := ownInput(*output, append(renderInputs(&opts.in), "nodes", opts.in.Nodes)...); err != nil {
		return err
	}
	objs, _, err := buildObjects(env, opts)
	if err != nil {
		return err
	}
	out, err := cluster.MarshalYAML(objs)
	if err != nil {
		return err
	}
	return writeOutput(env, *output, out, 0o600, "")
}
