//go:build kubebake_bench

package main

import (
	"context"
	"os"
	"time"

	"github.com/kubebake/kubebake/internal/discovery"
)

// benchOptions, in a build with -tags kubebake_bench only: with
// $KUBEBAKE_JOIN_FIXED_RETRY (a duration such as 5s) the agent waits exactly
// that long between attempts, whatever its backoff or a Retry-After says,
// as kubeadm join does (a fixed 5 s). The herd benchmark (test/herd) runs
// the same agent both ways to compare.
func benchOptions() discovery.Options {
	d, err := time.ParseDuration(os.Getenv("KUBEBAKE_JOIN_FIXED_RETRY"))
	if err != nil || d <= 0 {
		return discovery.Options{}
	}
	return discovery.Options{Sleep: func(ctx context.Context, _ time.Duration) error {
		wait, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		<-wait.Done()
		return ctx.Err()
	}}
}
