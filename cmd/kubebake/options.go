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
// --token, --api-server): the cluster's and the token's (cluster.Options),
// and the CLI's own.
type clusterOpts struct {
	cluster.Opts
	DryRun      bool
	Force       bool
	Adopt       bool
	Output      string
	Format      string
	Arch        string
	PrunerImage string
	BootOutput  string
	Watch       bool
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
		if o.Name == "config" {
			// The token commands take the cluster's keys of the same file.
			o.Commands = append(o.Commands, cmdTokenList, cmdTokenDelete, cmdTokenPrune)
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

// clusterCommands binds the options of cluster.Options to the commands.
var clusterCommands = map[string][]string{
	"kubeconfig": cmdsApplyCheck, "context": cmdsApplyCheck, "timeout": cmdsApplyCheck,
	"ttl": cmdsToken, "expires": cmdsToken, "no-expiry": cmdsToken, "groups": cmdsToken, "description": cmdsToken, "max-joins": cmdsToken,
	"min-ttl": {cmdCheck},
}

// clusterOptions declares the cluster commands' CLI options (where output
// goes, what to print, what to dare) once, as spec.Options does render's.
var clusterOptions = options.Table[clusterOpts]{
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
		Help: "write the report to FILE instead of stdout", Validate: func(v any) error {
			if v == "json" || v == "text" { // -o once meant the format
				return fmt.Errorf("-o names the report's file; for its format give --format %s", v)
			}
			return nil
		}},
		Field: func(o *clusterOpts) any { return &o.Output }},
	{Meta: options.Meta{Name: "output", Short: "o", Arg: "FILE", Commands: []string{cmdJoinBinary}, NotInConfig: onCommandLine,
		Help: "FILE to write (mode 0755, atomically); - writes to stdout, which must not be a terminal; required"},
		Field: func(o *clusterOpts) any { return &o.Output }},
	{Meta: options.Meta{Name: "arch", Arg: "ARCH", Commands: []string{cmdJoinBinary}, NotInConfig: onCommandLine, Default: "amd64", Values: []string{"amd64", "arm64"},
		Help: "architecture of the agent"},
		Field: func(o *clusterOpts) any { return &o.Arch }},
}

func init() {
	for i := range cluster.Options {
		o := &cluster.Options[i]
		o.Commands = clusterCommands[o.Name]
	}
	spec.RegisterConfigKeys(cluster.Options.Metas()...)
	spec.RegisterConfigKeys(clusterOptions.Metas()...)
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
		options.Bind(spec.Options, &o.in, cmd), clusterBindings(&o.co, cmd))
	o.set.AddFlags(fs)
	return o
}

// parseCmd defines cmd's flags, then parses and loads args (see load).
func parseCmd(env *cliEnv, cmd, usage string, args []string) (*cmdOptions, error) {
	fs := newFlagSet(env, cmd, usage)
	o := newCmdOptions(cmd, fs)
	return o, o.load(env, fs, args)
}

// load parses args, then fills what the flags left unset from --config,
// then from the defaults, and checks every value. Errors name the flag or
// the file, line and key.
func (o *cmdOptions) load(env *cliEnv, fs *pflag.FlagSet, args []string) error {
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if o.args = fs.Args(); o.cmd != cmdToken && o.cmd != cmdTokenDelete {
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
		bindings = clusterBindings(&o.co, o.cmd)
	}
	return asUsage(options.Check(bindings, o.set.Given))
}

// clusterBindings binds the cluster commands' options that cmd takes to co.
func clusterBindings(co *clusterOpts, cmd string) []options.Binding {
	return slices.Concat(options.Bind(cluster.Options, &co.Opts, cmd), options.Bind(clusterOptions, co, cmd), options.Bind(tokenOptions, co, cmd))
}
