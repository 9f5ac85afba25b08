package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/kubebake/kubebake/internal/fetch"
)

const fetchHelp = `
Downloads every file the fetch configuration lists (the kubelet, cri-dockerd,
system extension images a stock image lacks) and installs each, mode 0755,
only once its sha512 or sha256 matched: the download goes to a temporary file
beside the target and nothing is at the path unless the hash matched. A file
already there with the expected hash is not fetched again. Every failure (the
network, an HTTP status, a mismatch, which anyone on the path of a plain http
mirror can cause) is logged with the URL and both hashes and retried with
backoff until the deadline. kubebake-join.service runs it before the join
(ExecStartPre=), so neither the kubelet nor the token goes anywhere before it
succeeded.

Exit status:
  0  every file is installed
  1  not every file by the deadline, or interrupted; retried
  78 bad configuration or usage; final (as the join's: Go itself exits 2 on a crash)
`

// runFetch is `kubebake-join fetch`.
func runFetch(ctx context.Context, args []string, stderr io.Writer) int {
	logf := func(format string, a ...any) {
		fmt.Fprintf(stderr, "kubebake-join fetch: "+format+"\n", a...)
	}
	fs := flag.NewFlagSet("kubebake-join fetch", flag.ContinueOnError)
	fs.SetOutput(stderr)
	config := fs.String("config", fetch.DefaultPath, "the fetch configuration `file` kubebake render wrote")
	root := fs.String("root", "", "prefix every path read or written with `DIR` (image builds, chroots)")
	timeout := fs.Duration("timeout", 10*time.Minute, "give up (exit 1, retried by systemd) after this `duration`")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: kubebake-join fetch [--config FILE] [--root DIR] [--timeout DURATION]")
		fmt.Fprint(stderr, fetchHelp)
		fmt.Fprintln(stderr)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return badConfig
	}
	if fs.NArg() > 0 {
		logf("unexpected argument %q: all inputs are flags (see --help)", fs.Arg(0))
		return badConfig
	}
	if *timeout <= 0 {
		logf("--timeout %s: want a positive duration such as 10m", *timeout)
		return badConfig
	}
	data, err := os.ReadFile(filepath.Join(*root, *config))
	if err != nil {
		logf("reading the fetch configuration: %v", err)
		return badConfig
	}
	cfg, err := fetch.Parse(data)
	if err != nil {
		logf("%s: %v", *config, err)
		return badConfig
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	if err := fetch.Run(ctx, cfg, fetch.Options{Root: *root, Logf: logf}); err != nil {
		logf("not installed, the join does not start: %v; will be retried", err)
		return 1
	}
	return 0
}
