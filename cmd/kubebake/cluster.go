package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/kubebake/kubebake/cluster"
	"github.com/kubebake/kubebake/internal/inputs"
	"github.com/kubebake/kubebake/render/spec"
	"k8s.io/apimachinery/pkg/runtime"
)

// loadFleet reads what manifests, apply and check prepare the cluster for:
// one token (the flags), or every token of a --nodes file, taken from the
// fleet as render validates it (render.PrepareFleet: names, tokens, CAs,
// endpoints and every node's options, with --config's render keys), so that
// no token is made or passed for a fleet render refuses. check reads the
// address from the cluster (needEndpoint false). Errors name the flag, or
// the node, file, line and key.
func loadFleet(env *cliEnv, o *cmdOptions, needEndpoint bool) (*cluster.Fleet, error) {
	in := &o.in
	fin := cluster.FleetInput{Nodes: in.Nodes, Command: o.cmd, Base: o.in, Config: o.file, NeedEndpoint: needEndpoint, Now: time.Now(),
		TokenFile: func(in *spec.Inputs) { warnTokenFile(env, o.cmd, in) }, ReadFile: env.readFile,
		Warn: func(w string) { fmt.Fprintln(env.stderr, "kubebake: warning:", w) }}
	if slices.Contains(cmdsToken, o.cmd) {
		fin.Terms = &o.co.Opts
	}
	if in.Nodes == "" {
		fc, err := cluster.ReadPool(fin)
		return fc, asUsage(err)
	}
	fc, err := cluster.ReadFleet(fin)
	return fc, fleetError(err)
}

// warnTokenFile warns about a token file other users can read.
func warnTokenFile(env *cliEnv, cmd string, in *spec.Inputs) {
	if w := inputs.TokenFileWarning(in.TokenFile); w != "" {
		fmt.Fprintf(env.stderr, "kubebake %s: warning: %s\n", cmd, strings.Replace(w, "--token-file", in.Given.Where("token-file"), 1))
	}
}

// fleetError makes bad input in a fleet a usage error (exit 2).
func fleetError(err error) error {
	var ne *spec.NodeError
	var ie *inputs.Error
	switch {
	case errors.As(err, &ne) && errors.As(err, &ie):
		return usageErrorf("--nodes: %v", err)
	case errors.As(err, &ie):
		return &usageError{msg: ie.Error()}
	}
	return err
}

// tokenObjects are the objects of every token of the run (manifests and
// apply), each token's terms said on stderr for a fleet, and a warning for
// each token that never expires.
func tokenObjects(env *cliEnv, o *cmdOptions) (*cluster.Fleet, []runtime.Object, error) {
	fc, err := loadFleet(env, o, true)
	if err != nil {
		return nil, nil, err
	}
	for _, p := range fc.Pools {
		if w := p.NoExpiryWarning(o.in.Nodes != ""); w != "" {
			fmt.Fprintf(env.stderr, "kubebake: warning: %s\n", w)
		}
		if o.in.Nodes != "" {
			fmt.Fprintf(env.stderr, "kubebake %s: %s\n", o.cmd, p.Summary())
		}
	}
	objs, err := fc.Objects()
	return fc, objs, err
}

// client connects to the cluster of the kubeconfig of o; an error names
// the flag or the --config line of the value.
func client(env *cliEnv, o *cmdOptions) (*cluster.Client, error) {
	c, err := cluster.Connect(cluster.ConnectOptions{Kubeconfig: o.co.Kubeconfig, KUBECONFIG: env.getenv("KUBECONFIG"),
		Context: o.co.Context, Timeout: o.co.Timeout, UserAgent: "kubebake/" + version})
	return c, asUsage(o.in.Given.Locate(err))
}

// clusterError words a failed request: a deadline names --timeout.
func clusterError(err error, timeout time.Duration) error {
	if errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "context deadline exceeded") || strings.Contains(err.Error(), "Client.Timeout exceeded") {
		return fmt.Errorf("no answer within --timeout %s (is the API server up and reachable from here?)", timeout)
	}
	return err
}

// writeReport writes a report (typed values, marshalled as JSON, or text)
// to -o FILE or stdout.
func writeReport(env *cliEnv, o *clusterOpts, v any, text func(w io.Writer)) error {
	out, err := cluster.Marshal(o.Format, v, text)
	if err != nil {
		return err
	}
	return writeOutput(env, o.Output, out, 0o644, "")
}
