package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"time"

	"github.com/kubebake/kubebake/internal/joinconfig"
	"github.com/kubebake/kubebake/internal/token"
)

// tokenPoll is how often the agent looks for a token that has not arrived.
var tokenPoll = time.Second

// awaitToken reads the token from cfg.TokenFile into cfg.Token, waiting for
// the boot part to deliver it, within the run's deadline. It returns the
// deadline left for discovery, or the exit status to end with: 1 (retried
// by systemd) when the token did not come in time, 2 when the file does
// not hold a token. A node that has joined already waits for nothing.
func awaitToken(ctx context.Context, cfg *joinconfig.Config, root string, timeout time.Duration, check bool, logf func(string, ...any)) (time.Duration, int) {
	if timeout <= 0 {
		timeout = cfg.Deadline()
	}
	if cfg.TokenFile == "" {
		return timeout, 0
	}
	if _, err := os.Lstat(filepath.Join(root, cfg.Paths.KubeletKubeconfig)); err == nil && !check {
		return timeout, 0 // discovery says so and does nothing
	}
	start := time.Now()
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tok, err := token.Wait(wctx, filepath.Join(root, cfg.TokenFile), tokenPoll, logf)
	switch {
	case errors.Is(err, token.ErrNoToken):
		logf("failed, will be retried: %v", err)
		return 0, 1
	case err != nil:
		logf("%v", err)
		return 0, 2
	}
	cfg.Token, cfg.TokenFile = tok.Value(), ""
	left := (timeout - time.Since(start)).Round(time.Millisecond)
	if left <= 0 {
		logf("failed, will be retried: the deadline passed while waiting for the token")
		return 0, 1
	}
	return left, 0
}
