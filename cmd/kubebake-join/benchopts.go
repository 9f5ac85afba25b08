//go:build !kubebake_bench

package main

import "github.com/kubebake/kubebake/internal/discovery"

// benchOptions are the agent's discovery options: the defaults. A build
// with -tags kubebake_bench (benchopts_bench.go) may change them, for the
// herd benchmark only; the agent kubebake ships has no such knob.
func benchOptions() discovery.Options { return discovery.Options{} }
