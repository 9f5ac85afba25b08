// Command kubebake-join is kubebake's first-boot agent. It runs once, as
// kubebake-join.service, before the kubelet: it proves that the cluster at
// the configured endpoints is the one whose CA was pinned when the node was
// rendered and that it knows the node's bootstrap token, then installs the
// verified CA bundle and bootstrap kubeconfig for the kubelet — or refuses,
// so the kubelet never sends the token anywhere.
//
//	kubebake-join [--config /etc/kubebake/join.yaml] [--root DIR] [--timeout DURATION] [--check]
//
// Exit status: 0 joined (or verified with --check, or joined already);
// 1 transient failure (deadline passed, I/O error): systemd restarts it;
// 2 bad configuration or usage; 3 the cluster's identity could not be
// proven or was disproven: never retried.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/kubebake/kubebake/internal/discovery"
	"github.com/kubebake/kubebake/internal/joinconfig"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stderr, benchOptions())
	stop()
	os.Exit(code)
}

// run is the agent with its streams and discovery options injectable, for
// tests. It returns the exit status.
func run(ctx context.Context, args []string, stderr io.Writer, opts discovery.Options) int {
	logf := func(format string, a ...any) {
		fmt.Fprintf(stderr, "kubebake-join: "+format+"\n", a...)
	}
	fs := flag.NewFlagSet("kubebake-join", flag.ContinueOnError)
	fs.SetOutput(stderr)
	config := fs.String("config", joinconfig.DefaultPath, "the join configuration `file` kubebake render wrote")
	root := fs.String("root", "", "prefix every path read or written, --config's too, with `DIR` (image builds, chroots)")
	timeout := fs.Duration("timeout", 0, "overall discovery `deadline`, overriding the config's (default 10m)")
	check := fs.Bool("check", false, "verify discovery and report, but write nothing (also on a node that has joined)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: kubebake-join [--config FILE] [--root DIR] [--timeout DURATION] [--check]")
		fmt.Fprintln(stderr, "\nVerifies the cluster by bootstrap token discovery with CA pinning and installs the kubelet's bootstrap kubeconfig.")
		fmt.Fprintln(stderr, "Exit status: 0 done, 1 transient failure (retry later), 2 bad configuration, 3 cluster identity not proven.")
		fmt.Fprintln(stderr)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2 // the flag package has printed the error and the usage
	}
	if fs.NArg() > 0 {
		logf("unexpected argument %q: all inputs are flags (see --help)", fs.Arg(0))
		return 2
	}
	if *timeout < 0 {
		logf("--timeout %s: want a positive duration such as 10m", *timeout)
		return 2
	}
	at := func(p string) string { return filepath.Join(*root, p) }

	data, err := os.ReadFile(at(*config))
	if err != nil {
		// A node that has joined may have had its join config (which holds
		// the token) removed: that is success, not a broken install.
		if !*check {
			if _, serr := os.Lstat(at(joinconfig.DefaultKubeletKubeconfig)); serr == nil {
				logf("%s exists: this node has joined its cluster already; nothing to do", joinconfig.DefaultKubeletKubeconfig)
				return 0
			}
		}
		logf("reading the join configuration: %v", err)
		return 2
	}
	cfg, err := joinconfig.Parse(data)
	if err != nil {
		logf("%s: %v", *config, err)
		return 2
	}
	opts.Root = *root
	opts.Timeout = *timeout
	opts.Check = *check
	if opts.Logf == nil {
		opts.Logf = logf
	}
	if _, err := discovery.Run(ctx, cfg, opts); err != nil {
		code := discovery.ExitStatus(err)
		switch code {
		case 3:
			// Discovery has logged why; say what it means.
			logf("refusing to join: the cluster's identity is not proven, so the kubelet gets no bootstrap kubeconfig; not retried")
		case 1:
			logf("failed, will be retried: %v", err)
		default:
			logf("%v", err)
		}
		return code
	}
	return 0
}
