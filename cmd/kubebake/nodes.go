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
	"github.com/kubebake/kubebake/render"
)

// renderFleet is `kubebake render --nodes FILE --out-dir DIR`: one output
// per node, each what `kubebake render` with that node's options writes.
func renderFleet(env *cliEnv, in render.Inputs) error {
	switch {
	case in.Nodes == "":
		return usageErrorf("--out-dir: only with --nodes FILE (a single node's output goes to -o)")
	case in.OutDir == "":
		return usageErrorf("--nodes: give --out-dir DIR: every node gets its own file there")
	case in.Output != "":
		return usageErrorf("%s: with --nodes, outputs go to --out-dir", in.Given.Where("output"))
	}
	nodes, err := loadNodes(in, render.CmdRender)
	if err != nil {
		return err
	}
	fleet, err := render.PrepareFleet(nodes, render.FleetOptions{
		Shared: render.NewShared(os.ReadFile, time.Now()),
		Agent:  embed.Load,
	})
	if err != nil {
		return fleetError(in.Nodes, err)
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
	idx, err := fleet.Write(ctx, in.OutDir)
	if err != nil {
		return fleetError(in.Nodes, err)
	}
	var total int64
	for _, e := range idx.Nodes {
		total += e.Size
	}
	fmt.Fprintf(env.stderr, "kubebake render: wrote %d outputs (%.1f MB) and %s to %s in %s\n",
		len(idx.Nodes), float64(total)/1e6, render.IndexFile, in.OutDir, time.Since(start).Round(time.Millisecond))
	return nil
}

// loadNodes reads the nodes file and merges each node's inputs for cmd.
func loadNodes(in render.Inputs, cmd string) ([]render.FleetNode, error) {
	data, err := os.ReadFile(in.Nodes)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, usageErrorf("--nodes: %s: %v", in.Nodes, err)
	}
	nf, err := render.ParseNodesFile(in.Nodes, data)
	if err != nil {
		return nil, fleetError(in.Nodes, err)
	}
	nodes, err := nf.Merge(in, cmd)
	if err != nil {
		return nil, fleetError(in.Nodes, err)
	}
	return nodes, nil
}

// fleetError makes bad input in a fleet a usage error (exit 2).
func fleetError(path string, err error) error {
	var ne *render.NodeError
	var ie *render.InputError
	switch {
	case errors.As(err, &ne) && errors.As(err, &ie):
		return usageErrorf("--nodes: %v", err)
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
