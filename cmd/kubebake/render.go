package main

import (
	"context"
	"errors"
	"fmt"
	iofs "io/fs"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/kubebake/kubebake/internal/atomicfile"

	"github.com/kubebake/kubebake/embed"
	"github.com/kubebake/kubebake/internal/inputs"
	"github.com/kubebake/kubebake/render"
	"github.com/kubebake/kubebake/render/cache"
	"github.com/kubebake/kubebake/render/spec"
)

func init() {
	register(command{name: "render", summary: "render a worker's Ignition, Butane or cloud-init", run: runRender})
}

const renderUsage = `render --ca ca.crt --token-file token --api-server HOST:PORT [flags]

Renders what a worker needs to join the cluster at first boot: the bootstrap
kubeconfig, the kubelet unit and config, the container runtime's units, host
prerequisites, and kubebake-join, which proves the cluster's identity (its CA
pin and the token's JWS signature) before the kubelet may send the token.

The output holds the bootstrap token: it is written with mode 0600. Every
flag but %s
may also be given in a YAML file with --config,
keyed by flag name (ca: [ca.crt], api-server: [...], ...); flags win over
the file. On a terminal, give -o FILE: the output is not for a screen.

Examples:
  kubebake render --ca ca.crt --token-file token --api-server 10.0.0.10:6443 -o worker.ign
  kubebake render --ca ca.crt --token-file token --api-server lb.example.com \
      --format cloud-init --runtime containerd --join-binary baked -o user-data
  kubebake render --config pool.yaml --format plan | less

Flags:`

const joinNoneWarning = "--join-binary none: the node does no first-boot verification; the kubelet sends the token to whatever answers at the API server address, trusting only the baked CA"

func runRender(env *cliEnv, args []string) error {
	// One render is a short process whose heap (a few MB, tens with an
	// embedded agent) is garbage only at exit: collecting it costs the
	// render more time than the heap ever takes memory. The soft limit
	// still bounds it for a huge --merge; a fleet sets its own.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(singleMemoryLimit))
	opts, err := parseCmd(env, cmdRender, fmt.Sprintf(renderUsage, notInConfig(cmdRender)), args)
	if err != nil {
		return err
	}
	in := opts.in
	if in.Nodes != "" || in.OutDir != "" {
		return renderFleet(env, in, opts.co.Output)
	}
	if err := ownInput(opts.co.Output, renderInputs(&in)...); err != nil {
		return err
	}
	if opts.co.BootOutput != "" {
		if err := ownInput(opts.co.BootOutput, renderInputs(&in)...); err != nil {
			return usageErrorf("%s", strings.Replace(err.Error(), "--output", "--boot-output", 1))
		}
	}

	sp, warns, err := spec.NewSpec(in, cache.New(env.readFile, time.Now()))
	if err != nil {
		return asUsage(err)
	}
	if w := inputs.TokenFileWarning(in.TokenFile); w != "" {
		warns = append(warns, spec.Warning(w))
	}
	for _, w := range warns {
		fmt.Fprintln(env.stderr, "kubebake render:", w.Line())
	}
	if sp.JoinBinary == spec.JoinNone {
		fmt.Fprintln(env.stderr, "kubebake render: warning:", joinNoneWarning)
	}
	var agent *embed.Agent
	if sp.JoinBinary == spec.JoinEmbedded {
		a, err := embed.Load(sp.Arch)
		if err != nil {
			return err
		}
		agent = &a
	}
	if sp.Pointer != "" {
		return renderPointer(env, sp, agent, opts.co.Output, opts.co.BootOutput)
	}
	out, err := render.Render(sp, agent)
	if err != nil {
		return asUsage(err) // --merge's input errors surface here
	}
	if err := sp.CheckSize(len(out)); err != nil {
		return asUsage(err)
	}
	mode, secret := iofs.FileMode(0o600), "holds the bootstrap token"
	if sp.Info().NoSecret {
		secret = "" // the plan holds no secret: fine on a screen
	}
	if sp.Part == spec.PartImage {
		// No secret: an image build may read it as anyone.
		mode, secret = 0o644, ""
	}
	if err := writeOutput(env, opts.co.Output, out, mode, secret); err != nil {
		return err
	}
	reportSize(env, sp, opts.co.Output, len(out))
	return nil
}

// renderPointer writes the boot part to --boot-output (0600: the token)
// and the pointer config that fetches it to -o (0644: no secret).
func renderPointer(env *cliEnv, sp *spec.Spec, agent *embed.Agent, output, bootOutput string) error {
	if bootOutput == "" || stdoutPath(bootOutput) {
		return usageErrorf("--boot-output: with --pointer, name the FILE that gets the boot part (it holds the token) for you to upload to %s", sp.Pointer)
	}
	if !stdoutPath(output) && output == bootOutput {
		return usageErrorf("--boot-output: %s is -o too: the pointer and the boot part are two files", bootOutput)
	}
	pointer, boot, err := render.RenderPointer(sp, agent)
	if err != nil {
		return asUsage(err)
	}
	if err := atomicfile.WriteTarget(bootOutput, boot, 0o600); err != nil {
		return usageErrorf("--boot-output: %s: %v", bootOutput, reason(err))
	}
	fmt.Fprintf(env.stderr, "kubebake render: wrote the boot part (%d bytes, sha512 in the pointer) to %s: upload it to %s, readable only by the instances' role, and delete it once the nodes joined\n", len(boot), bootOutput, sp.Pointer)
	return writeOutput(env, output, pointer, 0o644, "")
}

// asUsage makes input errors usage errors (exit 2).
func asUsage(err error) error {
	var ie *inputs.Error
	if errors.As(err, &ie) {
		return &usageError{msg: ie.Error()}
	}
	return err
}

// reportSize prints the size of output meant for user-data, once it is
// written, and warns when it is above the clouds' limits.
func reportSize(env *cliEnv, sp *spec.Spec, output string, n int) {
	name := output
	if stdoutPath(name) {
		name = "stdout"
	}
	if line := sp.SizeLine(name, n); line != "" {
		fmt.Fprintln(env.stderr, "kubebake render:", line)
	}
	if w := sp.SizeWarning(name, n); w != "" {
		fmt.Fprintln(env.stderr, "kubebake render: warning:", w)
	}
}

// notInConfig lists the flags of cmd a config file may not set.
func notInConfig(cmd string) string {
	var names []string
	for _, m := range spec.Options.Metas() {
		if m.UsedBy(cmd) && !m.Config {
			names = append(names, "--"+m.Name)
		}
	}
	return spec.AndList(names)
}

// renderFleet is `kubebake render --nodes FILE --out-dir DIR`: one output
// per node, each what `kubebake render` with that node's options writes.
func renderFleet(env *cliEnv, in spec.Inputs, output string) error {
	switch {
	case in.Nodes == "":
		return usageErrorf("--out-dir: only with --nodes FILE (a single node's output goes to -o)")
	case in.OutDir == "":
		return usageErrorf("--nodes: give --out-dir DIR: every node gets its own file there")
	case output != "":
		return usageErrorf("%s: with --nodes, outputs go to --out-dir", in.Given.Where("output"))
	}
	fleet, err := render.LoadFleet(in, render.FleetOptions{Cache: cache.New(inputs.ReadBounded, time.Now()), Agent: embed.Load},
		func(n *spec.Inputs) { warnTokenFile(env, cmdRender, n) })
	if err != nil {
		return fleetError(err)
	}
	for _, w := range fleet.Warnings() {
		fmt.Fprintln(env.stderr, "kubebake render:", w.Line())
	}
	if fleet.JoinNone() {
		fmt.Fprintln(env.stderr, "kubebake render: warning:", joinNoneWarning)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The heap is small (outputs are streamed): collect less often rather
	// than spend a tenth of the run collecting, but within a soft limit, so
	// that what is kept a node (its validated inputs, about 2.5 kB) does not
	// grow the process five times over in a fleet of tens of thousands.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(fleetMemoryLimit))
	start := time.Now()
	idx, err := fleet.Write(ctx, in.OutDir)
	if err != nil {
		return fleetError(err)
	}
	fmt.Fprintf(env.stderr, "kubebake render: %s\n", idx.Summary(in.OutDir, time.Since(start)))
	return nil
}

// singleMemoryLimit is the Go heap's soft limit while a single node
// renders with the collector off.
const singleMemoryLimit = 256 << 20

// fleetMemoryLimit is the Go heap's soft limit while a fleet renders.
const fleetMemoryLimit = 160 << 20
