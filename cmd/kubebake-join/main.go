// Command kubebake-join is kubebake's first-boot agent. It runs once, as
// kubebake-join.service, before the kubelet: it proves that the cluster at
// the configured endpoints is the one whose CA was pinned when the node was
// rendered and that it knows the node's bootstrap token, then installs the
// pinned CAs and a bootstrap kubeconfig for the kubelet — or refuses, so
// the kubelet never sends the token anywhere.
//
//	kubebake-join [--config /etc/kubebake/join.yaml] [--root DIR] [--timeout DURATION] [--check]
//	kubebake-join fetch [--config /etc/kubebake/fetch.yaml] [--root DIR] [--timeout DURATION]
//
// Exit status (see exitStatusHelp): 0 joined (or verified with --check, or
// joined already); 1 transient (systemd restarts it); 2 Go's own status for
// a crash (restarted); 3 refused: until the deadline every endpoint proved,
// over a live TLS session, to be a cluster signing with the token whose CA
// matches no pin (final); 4 unproven: until the deadline no endpoint proved
// to be the pinned cluster, in ways anyone on the path can cause
// (restarted); 78 bad configuration or usage (final).
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/kubebake/kubebake/internal/atomicfile"
	"github.com/kubebake/kubebake/internal/discovery"
	"github.com/kubebake/kubebake/internal/joinconfig"
	"github.com/kubebake/kubebake/internal/status"
)

// exitStatusHelp is --help's account of the exit statuses; the unit's
// RestartPreventExitStatus= lists the final ones, 3 and 78.
const exitStatusHelp = `
Every endpoint is tried in each round; rounds repeat with backoff until one
endpoint passes every check or the deadline passes. Nothing that arrived
over the unverified connection ends a run early.

Exit status:
  0  joined: the CA file and bootstrap kubeconfig are written (or verified
     with --check, or the node has joined already)
  1  transient: the deadline passed with an endpoint unreachable or not
     ready (no signature for the token yet), or interrupted, or an
     internal error; retried
  2  a crash of the Go runtime (Go's own status for a fatal error or an
     uncaught panic): never a verdict about the cluster; retried
  3  refused: until the deadline every endpoint served a cluster-info
     signed with the token whose CAs match no pin, and proved over a live
     TLS session that it serves with those CAs: another cluster, or its CA
     was replaced; or the verified cluster-info names no https:// server
     the kubelet can use; final (render the node again)
  4  unproven: until the deadline every endpoint answered but none proved
     to be the pinned cluster (wrong or garbled signature, certificate not
     from a pinned CA, a signed cluster-info the endpoint could not back
     with a live TLS session: perhaps a replay); anyone on the path can
     cause that, so retried
  78 bad configuration or usage; final
`

// badConfig is the exit status of bad configuration or usage: 78
// (sysexits' EX_CONFIG), a status Go itself never uses. Go exits 2 on a
// fatal runtime error or a panic in a goroutine the agent does not own
// (net/http's, which parses unverified answers): a crash is retried.
const badConfig = int(discovery.BadConfig)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(traced(ctx), os.Args[1:], os.Stderr, benchOptions())
	stop()
	os.Exit(code)
}

// run is the agent with its streams and discovery options injectable, for
// tests. It returns the exit status.
func run(ctx context.Context, args []string, stderr io.Writer, opts discovery.Options) (code int) {
	logf := func(format string, a ...any) {
		fmt.Fprintf(stderr, "kubebake-join: "+format+"\n", a...)
	}
	// Go ends a panicking program with status 2, which the unit holds
	// final: a bug in a parser fed an unauthenticated answer must not keep
	// the node out for good. (Only this goroutine's panics can be caught.)
	defer func() {
		if r := recover(); r != nil {
			logf("internal error, will be retried: %v\n%s", r, debug.Stack())
			code = 1
		}
	}()
	if len(args) > 0 && args[0] == "fetch" {
		return runFetch(ctx, args[1:], stderr)
	}
	if len(args) > 0 && args[0] == "report" {
		return runReport(args[1:], stderr)
	}
	atomicfile.Logf = logf // stale temporary files it removes
	f, code, ok := parseFlags(args, stderr, logf)
	if !ok {
		return code
	}
	return join(ctx, f, opts, logf)
}

// joinFlags are the join command's flags.
type joinFlags struct {
	config, root string
	timeout      time.Duration
	check        bool
}

// parseFlags parses the join command's flags. When run ends here (--help,
// --version, bad usage) ok is false and code is the exit status.
func parseFlags(args []string, stderr io.Writer, logf func(string, ...any)) (f joinFlags, code int, ok bool) {
	fs := flag.NewFlagSet("kubebake-join", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.config, "config", joinconfig.DefaultPath, "the join configuration `file` kubebake render wrote")
	fs.StringVar(&f.root, "root", "", "prefix every path read or written, --config's too, with `DIR` (image builds, chroots)")
	fs.DurationVar(&f.timeout, "timeout", 0, "overall discovery `deadline`, overriding the config's (default 10m)")
	fs.BoolVar(&f.check, "check", false, "verify discovery and report, but write nothing (also on a node that has joined)")
	showVersion := fs.Bool("version", false, "print this binary's sha256 and the join.yaml schema it reads (compare with `kubebake version`)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: kubebake-join [--config FILE] [--root DIR] [--timeout DURATION] [--check]")
		fmt.Fprintln(stderr, "       kubebake-join fetch --help: download and verify what a stock image lacks")
		fmt.Fprintln(stderr, "\nVerifies the cluster by bootstrap token discovery with CA pinning and installs the kubelet's bootstrap kubeconfig.")
		fmt.Fprint(stderr, exitStatusHelp)
		fmt.Fprintln(stderr)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return f, 0, false
		}
		return f, badConfig, false // the flag package has printed the error and the usage
	}
	if *showVersion {
		return f, printVersion(os.Stdout), false
	}
	if fs.NArg() > 0 {
		logf("unexpected argument %q: all inputs are flags (see --help)", fs.Arg(0))
		return f, badConfig, false
	}
	if f.timeout < 0 {
		logf("--timeout %s: want a positive duration such as 10m", f.timeout)
		return f, badConfig, false
	}
	return f, 0, true
}

// agent is one join run: its flags, its log and the node's status
// (status.json, the Cluster API markers, the console line), which --check
// leaves alone.
type agent struct {
	joinFlags
	logf func(string, ...any)
	rep  *status.Reporter
}

// join reads the join configuration, runs discovery.Run with it and
// returns the exit status.
func join(ctx context.Context, f joinFlags, opts discovery.Options, logf func(string, ...any)) int {
	a := &agent{joinFlags: f, logf: logf, rep: status.Open(f.root, status.Options{})}
	j, code := a.readConfig()
	if j == nil {
		return code
	}
	if f.timeout > 0 {
		j.Deadline = f.timeout
	}
	opts.Root = f.root
	opts.Check = f.check
	if opts.Logf == nil {
		opts.Logf = logf
	}
	if !f.check && opts.Progress == nil {
		opts.Progress = progressTo(a.rep, logf)
	}
	res, err := discovery.Run(ctx, j, opts)
	trace("done")
	if err != nil {
		return a.verdict(err)
	}
	benchAfter(ctx, res, logf)
	return 0
}

// readConfig reads and parses --config. A nil Join ends the run with the
// returned exit status: 0 when the node has joined and its join config is
// gone.
func (a *agent) readConfig() (*joinconfig.Join, int) {
	cfgPath, err := discovery.InRoot(a.root, a.config)
	if err != nil {
		a.logf("%v", err)
		return nil, a.failed(badConfig, err)
	}
	trace("config-read")
	data, err := os.ReadFile(cfgPath)
	if err != nil {
		// A node that has joined may have had its join config (which holds
		// the token) removed: that is success, not a broken install.
		if joined, _ := discovery.Joined(a.root, joinconfig.DefaultPaths()); joined && !a.check {
			a.logf("%s exists: this node has joined its cluster already; nothing to do", joinconfig.DefaultKubeletKubeconfig)
			return nil, 0
		}
		a.logf("reading the join configuration: %v", err)
		return nil, a.failed(badConfig, fmt.Errorf("reading the join configuration: %v", err))
	}
	j, err := joinconfig.Parse(data)
	trace("config-parsed")
	if err != nil {
		a.logf("%s: %v", a.config, err) // Parse redacts the token
		return nil, a.failed(badConfig, fmt.Errorf("%s: %v", a.config, err))
	}
	return j, 0
}

// verdict logs why discovery.Run failed with err and returns the exit status.
func (a *agent) verdict(err error) int {
	code := discovery.ExitStatus(err)
	switch code {
	case 3:
		a.logf("refusing to join: %v; the kubelet gets no bootstrap kubeconfig; final: render the node with the cluster's CA pin", err)
	case 4:
		a.logf("not joined: %v; the kubelet gets no bootstrap kubeconfig; will be retried", err)
	case 1:
		a.logf("failed, will be retried: %v", err)
	default:
		a.logf("%v", err)
	}
	return a.failed(code, err)
}

// failed records the failure in the node's status (not with --check) and
// returns code.
func (a *agent) failed(code int, err error) int {
	if !a.check {
		if serr := a.rep.Fail(statusClass(discovery.Class(code)), err.Error(), final(code)); serr != nil {
			a.logf("writing %s: %v", status.File, serr)
		}
	}
	return code
}

// printVersion prints what `kubebake version` prints about the agent: its
// sha256 and the join.yaml schema, so an image's agent can be matched to
// the renderer that expects it.
func printVersion(w io.Writer) int {
	sum := "unknown"
	if exe, err := os.Executable(); err == nil {
		if b, err := os.ReadFile(exe); err == nil {
			h := sha256.Sum256(b)
			sum = "sha256:" + hex.EncodeToString(h[:])
		}
	}
	fmt.Fprintf(w, "kubebake-join %s\njoin.yaml schema: %s %s\n", sum, joinconfig.APIVersion, joinconfig.Kind)
	return 0
}
