package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/kubebake/kubebake/embed"
	"github.com/kubebake/kubebake/internal/inputs"
	"github.com/kubebake/kubebake/render"
	"github.com/spf13/pflag"
)

// fleetArgs are the render flags that only a fleet render uses.
type fleetArgs struct {
	nodes, outDir, output string
}

// renderFleet is `kubebake render --nodes FILE --out-dir DIR`: one output
// per node, each what `kubebake render` with that node's options writes.
// A node's own keys win over the command line, which wins over the nodes
// file's defaults, which win over --config.
func renderFleet(env *cliEnv, fs *pflag.FlagSet, flags, configIn render.Inputs, a fleetArgs) error {
	switch {
	case a.nodes == "":
		return usageErrorf("--out-dir: only with --nodes FILE (a single node's output goes to -o)")
	case a.outDir == "":
		return usageErrorf("--nodes: give --out-dir DIR: every node gets its own file there")
	case a.output != "":
		return usageErrorf("--output: with --nodes, outputs go to --out-dir")
	}
	nodes, err := loadNodes(a.nodes, fs, flags, configIn)
	if err != nil {
		return err
	}
	fleet, err := render.PrepareFleet(nodes, render.FleetOptions{
		Shared: render.NewShared(os.ReadFile, time.Now()),
		Agent:  embed.Load,
	})
	if err != nil {
		return fleetError(a.nodes, err)
	}
	for _, w := range fleet.Warnings() {
		msg := string(w.Warning)
		if len(w.Nodes) > 0 {
			msg += " (nodes " + shortList(w.Nodes, 5) + ")"
		}
		fmt.Fprintln(env.stderr, "kubebake render: warning:", msg)
	}
	for _, n := range nodes {
		if n.Inputs.JoinBinary == string(render.JoinNone) {
			fmt.Fprintln(env.stderr, "kubebake render: warning:", joinNoneWarning)
			break
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	idx, err := fleet.Write(ctx, a.outDir)
	if err != nil {
		return fleetError(a.nodes, err)
	}
	var total int64
	for _, e := range idx.Nodes {
		total += e.Size
	}
	fmt.Fprintf(env.stderr, "kubebake render: wrote %d outputs (%.1f MB) and %s to %s in %s\n",
		len(idx.Nodes), float64(total)/1e6, render.IndexFile, a.outDir, time.Since(start).Round(time.Millisecond))
	return nil
}

// loadNodes reads the nodes file and merges each node's inputs.
func loadNodes(path string, fs *pflag.FlagSet, flags, configIn render.Inputs) ([]render.FleetNode, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, usageErrorf("--nodes: %v", inputs.FileError(err))
	}
	nf, err := render.ParseNodesFile(data)
	if err != nil {
		return nil, usageErrorf("--nodes: %s: %v", path, err)
	}
	shared := mergeInputs(fs, flags, render.Overlay(configIn, nf.Defaults))
	nodes := make([]render.FleetNode, len(nf.Nodes))
	for i, n := range nf.Nodes {
		nodes[i] = render.FleetNode{Name: n.Name, Inputs: withDefaults(render.Overlay(shared, n.Inputs))}
	}
	return nodes, nil
}

// fleetError makes a node's bad input a usage error naming the nodes file.
func fleetError(path string, err error) error {
	var ne *render.NodeError
	var ie *render.InputError
	switch {
	case errors.As(err, &ne) && errors.As(err, &ie):
		return usageErrorf("--nodes: %s: %v", path, err)
	case errors.As(err, &ie):
		return &usageError{msg: ie.Error()}
	}
	return err
}

func shortList(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:n], ", "), len(names)-n)
}
