//go:build !kubebake_bench

package main

import (
	"context"

	"github.com/kubebake/kubebake/internal/discovery"
)

// benchOptions are the agent's discovery options: the defaults. A build
// with -tags kubebake_bench (benchopts_bench.go) may change them, for the
// herd benchmark only; the agent kubebake ships has no such knob.
func benchOptions() discovery.Options { return discovery.Options{} }

// trace marks a point of the run for the start-up breakdown of
// scripts/bench-e2e.sh; it does nothing in the agent kubebake ships (only
// a -tags kubebake_bench build prints, see benchopts_bench.go).
func trace(string) {}

// benchAfter does nothing in the agent kubebake ships; in a
// kubebake_bench build it completes the herd benchmark's model of kubeadm.
func benchAfter(context.Context, *discovery.Result, func(string, ...any)) {}

// traced is ctx, with connection tracing in a kubebake_bench build only.
func traced(ctx context.Context) context.Context { return ctx }
