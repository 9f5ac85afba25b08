package main

import (
	"fmt"
	"slices"
	"time"

	"github.com/kubebake/kubebake/cluster"
	"github.com/kubebake/kubebake/internal/options"
	"github.com/kubebake/kubebake/render/spec"
	"github.com/spf13/pflag"
)

// clusterOpts are the options of manifests, apply and check beyond the ones
// they share with render (spec.Options: --config, --ca, --token-file,
// --token, --api-server).
type clusterOpts struct {
	Kubeconfig  string
	Context     string
	Timeout     time.Duration
	TTL         time.Duration
	Expires     string
	NoExpiry    bool
	Groups      []string
	Description string
	MinTTL      time.Duration
	DryRun      bool
	Force       bool
	Adopt       bool
	Output      string
	Format      string
	Arch        string
	MaxJoins    int32
	PrunerImage string
	BootOutput  string
}

// terms are the options a token's terms are read from.
func (o *clusterOpts) terms() cluster.TermsOptions {
	return cluster.TermsOptions{TTL: o.TTL, Expires: o.Expires, NoExpiry: o.NoExpiry, Groups: o.Groups, Description: o.Description, MaxJoins: int(o.MaxJoins)}
}

// DefaultTTL is how long a token made by manifests or apply lasts unless told
// otherwise. kubeadm's 24 h suits a token typed into `kubeadm join` today;
// a token baked into an image must outlive the image's rollout, and every
// day it lives is a day a leaked image lets anyone obtain a node identity.
// 30 days covers a monthly image rebuild; longer-lived images should say so
// (--ttl, --expires) or knowingly pass --no-expiry.
const defaultTTL = 720 * time.Hour

// The commands that take options of the tables.
const (
	cmdRender    = "render"
	cmdManifests = "manifests"
	cmdApply     = "apply"
	cmdCheck     = "check"
)

// The CLI binds the renderer's options to its commands: render takes every
// one, the cluster commands those naming the cluster and the token.
func init() {
	for i := range spec.Options {
		o := &spec.Options[i]
		o.Commands = []string{cmdRender}
		if slices.Contains(spec.ClusterOptions, o.Name) {
			o.Commands = append(o.Commands, cmdManifests, cmdApply, cmdCheck)
		}
	}
}

var (
	cmdsApplyCheck = []string{cmdApply, cmdCheck, cmdTokenList, cmdTokenDelete, cmdTokenPrune}
	cmdsToken      = []string{cmdManifests, cmdApply}
	cmdsReport     = []string{cmdApply, cmdCheck}
	cmdToken       = "token"
	cmdJoinBinary  = "join-binary"
)

// onCommandLine is why the per-run flags below are no config keys: a
// shared --config names render's output and format.
const onCommandLine = "say it on the command line, each time"

// clusterOptions declares the cluster commands' own options once, as
// spec.Options does render's.
var clusterOptions = options.Table[clusterOpts]{
	{Meta: options.Meta{Name: "kubeconfig", PerRun: "the cluster to talk to is the run's", Arg: "FILE", Config: true, Path: true, Commands: cmdsApplyCheck, DefaultHelp: "$KUBECONFIG, then ~/.kube/config",
		Help: "admin kubeconfig"},
		Field: func(o *clusterOpts) any { return &o.Kubeconfig }},
	{Meta: options.Meta{Name: "context", PerRun: "the cluster to talk to is the run's", Arg: "NAME", Config: true, Commands: cmdsApplyCheck, DefaultHelp: "the kubeconfig's current context",
		Help: "kubeconfig context to use"},
		Field: func(o *clusterOpts) any { return &o.Context }},
	{Meta: options.Meta{Name: "timeout", PerRun: "how long to wait for the API server is the run's", Arg: "DURATION", Config: true, Commands: cmdsApplyCheck, Default: "30s",
		Help: "give up on a request to the API server after this long", Validate: positive},
		Field: func(o *clusterOpts) any { return &o.Timeout }},
	{Meta: options.Meta{Name: "ttl", OneOf: "expiry", Arg: "DURATION", Config: true, Commands: cmdsToken, Default: "720h",
		Help: "the token expires this long from now (at least a minute)", Validate: positive},
		Field: func(o *clusterOpts) any { return &o.TTL }},
	{Meta: options.Meta{Name: "expires", OneOf: "expiry", Arg: "TIME", Config: true, Commands: cmdsToken,
		Help: "the token expires at this RFC3339 time (2027-01-31T00:00:00Z) instead"},
		Field: func(o *clusterOpts) any { return &o.Expires }},
	{Meta: options.Meta{Name: "no-expiry", OneOf: "expiry", Config: true, Commands: cmdsToken,
		Help: "the token never expires (an image leak stays usable until you delete the Secret)"},
		Field: func(o *clusterOpts) any { return &o.NoExpiry }},
	{Meta: options.Meta{Name: "groups", Arg: "GROUPS", Config: true, Commands: cmdsToken, Default: cluster.DefaultGroup,
		Help: "the token's extra groups (system:bootstrappers:...), comma-separated or repeated; the bindings grant to these"},
		Field: func(o *clusterOpts) any { return &o.Groups }},
	{Meta: options.Meta{Name: "description", Arg: "TEXT", Config: true, Commands: cmdsToken,
		Help: "description stored in the token Secret"},
		Field: func(o *clusterOpts) any { return &o.Description }},
	{Meta: options.Meta{Name: "max-joins", Arg: "N", Config: true, Commands: cmdsToken,
		Help: "the number of distinct nodes that may join with the token before `kubebake token prune` deletes it (recorded on the Secret as the kubebake.io/max-joins annotation); none when unset",
		Validate: func(v any) error {
			if n := v.(int32); n < 0 {
				return fmt.Errorf("%d is negative", n)
			}
			return nil
		}},
		Field: func(o *clusterOpts) any { return &o.MaxJoins }},
	{Meta: options.Meta{Name: "min-ttl", PerRun: "what check demands of every token is the run's", Arg: "DURATION", Config: true, Commands: []string{cmdCheck}, Default: "168h",
		Help: "fail if the token expires sooner than this from now (set it to how long images will be used)",
		Validate: func(v any) error {
			if d := v.(time.Duration); d < 0 {
				return fmt.Errorf("%s is negative", d)
			}
			return nil
		}},
		Field: func(o *clusterOpts) any { return &o.MinTTL }},
	{Meta: options.Meta{Name: "pruner-image", Arg: "IMAGE", Commands: []string{cmdManifests}, NotInConfig: onCommandLine,
		Help: "print instead what running `kubebake token prune --watch` in the cluster needs: a ServiceAccount, its least RBAC and a Deployment of IMAGE (which must have kubebake on its PATH); no token is needed"},
		Field: func(o *clusterOpts) any { return &o.PrunerImage }},
	{Meta: options.Meta{Name: "dry-run", Commands: []string{cmdApply}, NotInConfig: "say it on the command line, each time",
		Help: "ask the API server what would change, and change nothing"},
		Field: func(o *clusterOpts) any { return &o.DryRun }},
	{Meta: options.Meta{Name: "force", Commands: []string{cmdApply}, NotInConfig: "a deliberate rotation is said on the command line, each time",
		Help: "apply even when no --ca certificate signs the API server's serving certificate (a deliberate CA rotation: publish the new CA before the API server serves with it)"},
		Field: func(o *clusterOpts) any { return &o.Force }},
	{Meta: options.Meta{Name: "adopt", Commands: []string{cmdApply}, NotInConfig: "taking over another's token is said on the command line, each time",
		Help: "take over existing tokens kubebake did not make (kubeadm token create's): give them this run's expiry, groups and description; without it they are left as they are, and reported"},
		Field: func(o *clusterOpts) any { return &o.Adopt }},
	{Meta: options.Meta{Name: "force", Commands: []string{cmdToken}, NotInConfig: onCommandLine,
		Help: "replace an existing -o FILE (without it, a file that may hold a token nodes use is kept)"},
		Field: func(o *clusterOpts) any { return &o.Force }},
	{Meta: options.Meta{Name: "format", Arg: "FORMAT", Commands: cmdsReport, NotInConfig: onCommandLine, Default: "text", Values: []string{"text", "json"},
		Help: "the report's format: text, or json for automation"},
		Field: func(o *clusterOpts) any { return &o.Format }},
	{Meta: options.Meta{Name: "output", Short: "o", Arg: "FILE", Config: true, Path: true, Commands: []string{cmdRender}, PerRun: "where output goes is the run's (render --nodes writes one file per node into --out-dir)",
		Help: "write to FILE (mode 0600, atomically: it holds the token) instead of stdout; - is stdout"},
		Field: func(o *clusterOpts) any { return &o.Output }},
	{Meta: options.Meta{Name: "boot-output", Arg: "FILE", Commands: []string{cmdRender}, NotInConfig: onCommandLine,
		Help: "with --pointer: write the boot part the pointer fetches (it holds the token) to FILE (mode 0600, atomically), for you to upload to the --pointer URL; required with --pointer"},
		Field: func(o *clusterOpts) any { return &o.BootOutput }},
	{Meta: options.Meta{Name: "output", Short: "o", Arg: "FILE", Commands: []string{cmdManifests, cmdToken}, NotInConfig: onCommandLine,
		Help: "write to FILE (mode 0600, atomically: it holds the token's secret) instead of stdout"},
		Field: func(o *clusterOpts) any { return &o.Output }},
	{Meta: options.Meta{Name: "output", Short: "o", Arg: "FILE", Commands: cmdsReport, NotInConfig: onCommandLine,
		Help: "write the report to FILE instead of stdout"},
		Field: func(o *clusterOpts) any { return &o.Output }},
	{Meta: options.Meta{Name: "output", Short: "o", Arg: "FILE", Commands: []string{cmdJoinBinary}, NotInConfig: onCommandLine,
		Help: "FILE to write (mode 0755, atomically); - writes to stdout, which must not be a terminal; required"},
		Field: func(o *clusterOpts) any { return &o.Output }},
	{Meta: options.Meta{Name: "arch", Arg: "ARCH", Commands: []string{cmdJoinBinary}, NotInConfig: onCommandLine, Default: "amd64", Values: []string{"amd64", "arm64"},
		Help: "architecture of the agent"},
		Field: func(o *clusterOpts) any { return &o.Arch }},
}

func init() { spec.RegisterConfigKeys(clusterOptions.Metas()...) }

func positive(v any) error {
	if d := v.(time.Duration); d <= 0 {
		return fmt.Errorf("%s is not a positive duration", d)
	}
	return nil
}

// cmdOptions are one command's table-declared options and their values.
type cmdOptions struct {
	cmd string
	in  spec.Inputs
	co  clusterOpts
	set *options.Set
	// file is --config, read once.
	file *options.File
	// args are the positional arguments, for commands that take some.
	args []string
}

// newCmdOptions defines cmd's flags from the option tables on fs.
func newCmdOptions(cmd string, fs *pflag.FlagSet) *cmdOptions {
	o := &cmdOptions{cmd: cmd}
	o.set = options.NewSet(cmd, spec.AllOptions(),
		options.Bind(spec.Options, &o.in, cmd), options.Bind(clusterOptions, &o.co, cmd))
	o.set.AddFlags(fs)
	return o
}

// load parses args, then fills what the flags left unset from --config,
// then from the defaults, and checks every value. Errors name the flag or
// the file, line and key.
func (o *cmdOptions) load(env *cliEnv, fs *pflag.FlagSet, args []string) error {
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if o.args = fs.Args(); o.cmd != cmdToken {
		if err := noArgs(fs); err != nil {
			return err
		}
	}
	o.set.FromFlags(fs)
	if o.in.ConfigFile != "" {
		var err error
		if o.file, err = options.ReadFile(o.in.ConfigFile); err != nil {
			return asUsage(err)
		}
		if err := o.set.Apply(o.file, nil); err != nil {
			return asUsage(err)
		}
	}
	if err := o.set.Defaults(); err != nil {
		return err
	}
	o.in.Given = o.set.Given
	o.in.TokenEnv = env.getenv("KUBEBAKE_TOKEN")
	bindings := o.set.Bindings()
	if o.cmd == cmdRender {
		// spec.NewSpec checks render's own options, once.
		bindings = options.Bind(clusterOptions, &o.co, o.cmd)
	}
	return asUsage(options.Check(bindings, o.set.Given))
}
