package e2e

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kubebake/kubebake/internal/joinconfig"
	"github.com/kubebake/kubebake/internal/token"
	"github.com/kubebake/kubebake/test/consumertest"
	"github.com/kubebake/kubebake/test/herdtest"
	"github.com/kubebake/kubebake/test/testcluster"
)

// Log lines that bracket discovery. kubeadm's are its klog -v=1 lines
// (cmd/kubeadm/app/discovery/token); kubebake-join's are its own.
const (
	kubeadmDiscoveryStart = "[discovery] Created cluster-info discovery client"
	kubeadmDiscoveryDone  = "TLS certificate validates against pinned roots"
	agentDiscoveryStart   = "discovering the cluster with token"
	agentDiscoveryDone    = " verified after "
)

// BenchmarkDiscovery compares, on one control plane, token discovery with CA
// pinning by kubebake-join (as rendered and applied) and by the real
// `kubeadm join <ep> --token T --discovery-token-ca-cert-hash sha256:H`
// (not --dry-run, which skips the pin). Both run in the same sandbox so that
// neither can touch the host; kubeadm is stopped as soon as it logs that
// discovery succeeded (it would go on to start a kubelet). The agent runs
// as its unit does (no --root: the node's /etc and /var are the sandbox's,
// /run its tmpfs).
//
// ns/op is process start (the sandbox's unshare and mounts included) to
// "verified" (the agent: to its exit, its files written); exec-ms is from
// the sandbox's exec of the tool (its marker line) to the tool's
// "verified" line, sandbox-ms the sandbox's set-up before it; discovery-ms
// is the span between the tool's own "discovery starts" and "verified"
// lines (stamped as they arrive on a pipe); binary-bytes and gzip-bytes
// are the binary's size. The sub-benchmark kubebake-join-trace runs the
// agent built with -tags kubebake_bench and $KUBEBAKE_JOIN_TRACE, which
// marks each step of its run, and writes where the time goes to
// $KUBEBAKE_BENCH_BREAKDOWN (scripts/bench-e2e.sh prints it).
func BenchmarkDiscovery(b *testing.B) {
	testcluster.RequireSandbox(b)
	kubebake, _ := buildTools(b)
	kubeadm := testcluster.Bin(b, "kubeadm")
	consumertest.Tools(b)
	traceAgent := herdtest.BuildAgent(b, "kubebake_bench")

	c := testcluster.Start(b)
	c.PrepareBootstrap(b)
	tok, err := token.Generate()
	if err != nil {
		b.Fatal(err)
	}
	c.CreateToken(b, tok, time.Hour)
	c.WaitJWS(b, tok.ID(), true, 30*time.Second)

	// The node as Ignition lays it down; each run gets a fresh copy of the
	// files kubebake-join reads.
	template := ignitionNode(b, kubebake, c.Endpoint, c.CACertFile, tok)
	u, err := loadUnit(template, "kubebake-join.service")
	if err != nil {
		b.Fatal(err)
	}
	agentArgv, err := u.execStart()
	if err != nil {
		b.Fatal(err)
	}
	agent := filepath.Join(template, agentArgv[0])
	paths := joinconfig.DefaultPaths()

	runAgent := func(b *testing.B, bin string, env ...string) {
		var discovery, fromExec, sandbox time.Duration
		var runs []*stamped
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			root := b.TempDir()
			for _, f := range []string{joinconfig.DefaultPath, joinconfig.DefaultTokenFile} {
				copyFile(b, filepath.Join(template, f), filepath.Join(root, f))
			}
			sb := testcluster.NewSandbox(b, "kubebake-bench").WithRoot(root)
			sb.ExecMarker = execMarker
			sb.Binds[agentArgv[0]] = bin
			cmd := sb.Command(b, agentArgv...)
			cmd.Env = append(os.Environ(), env...)
			b.StartTimer()
			r := runStamped(b, cmd, agentDiscoveryDone, false)
			b.StopTimer()
			if i == 0 {
				b.Logf("kubebake-join's output, stamped from its start:\n%s", r.timeline())
			}
			discovery += r.span(b, agentDiscoveryStart, agentDiscoveryDone)
			fromExec += r.span(b, execMarker, agentDiscoveryDone)
			sandbox += r.at[r.index(b, execMarker)].Sub(r.start)
			if !exists(filepath.Join(root, paths.BootstrapKubeconfig)) {
				b.Fatalf("kubebake-join wrote no %s:\n%s", paths.BootstrapKubeconfig, r.output())
			}
			runs = append(runs, r)
			b.StartTimer()
		}
		b.StopTimer()
		b.ReportMetric(float64(fromExec.Microseconds())/1000/float64(b.N), "exec-ms")
		b.ReportMetric(float64(sandbox.Microseconds())/1000/float64(b.N), "sandbox-ms")
		reportSizes(b, bin, discovery)
		if len(env) > 0 {
			bd := breakdown(b, runs)
			b.Logf("where kubebake-join's time goes:\n%s", bd)
			if f := os.Getenv("KUBEBAKE_BENCH_BREAKDOWN"); f != "" {
				if err := os.WriteFile(f, []byte(bd), 0o644); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	b.Run("kubebake-join", func(b *testing.B) { runAgent(b, agent) })
	b.Run("kubebake-join-trace", func(b *testing.B) { runAgent(b, traceAgent, "KUBEBAKE_JOIN_TRACE=1") })

	b.Run("kubeadm", func(b *testing.B) {
		var discovery, fromExec, sandbox time.Duration
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			sb := testcluster.NewSandbox(b, "kubeadm-bench")
			sb.ExecMarker = execMarker
			cmd := sb.Command(b, kubeadm, "join", c.Endpoint,
				"--token", tok.Value(),
				"--discovery-token-ca-cert-hash", c.CAPin(),
				"--cri-socket", "unix:///run/containerd/containerd.sock",
				"--skip-phases", "preflight",
				"-v", "1")
			b.StartTimer()
			r := runStamped(b, cmd, kubeadmDiscoveryDone, true)
			b.StopTimer()
			if i == 0 {
				b.Logf("kubeadm's output, stamped from its start:\n%s", r.timeline())
			}
			discovery += r.span(b, kubeadmDiscoveryStart, kubeadmDiscoveryDone)
			fromExec += r.span(b, execMarker, kubeadmDiscoveryDone)
			sandbox += r.at[r.index(b, execMarker)].Sub(r.start)
			b.StartTimer()
		}
		b.StopTimer()
		b.ReportMetric(float64(fromExec.Microseconds())/1000/float64(b.N), "exec-ms")
		b.ReportMetric(float64(sandbox.Microseconds())/1000/float64(b.N), "sandbox-ms")
		reportSizes(b, kubeadm, discovery)
	})
}

// execMarker is the line the sandbox writes just before it execs the tool.
const execMarker = "kubebake-bench: sandbox set up, exec"

// tracePrefix starts the lines of a kubebake_bench agent's trace
// (cmd/kubebake-join/benchopts_bench.go): "PREFIX POINT UNIXNANO".
const tracePrefix = "kubebake-join trace: "

// tracePoints says what the time up to each point of the trace went to
// (the point before it is named where that matters).
var tracePoints = map[string]string{
	"main-init":         "process start: exec to main (runtime and package initialisation)",
	"config-read":       "flags, status.json read, --root checks",
	"config-parsed":     "join.yaml read and parsed",
	"waiting-for-token": "--root checks, joined? check",
	"discovering":       "token file read, log line",
	"status-written":    "status.json written (atomically, fsync)",
	"connect-start":     "request set up",
	"connect-done":      "TCP connect",
	"tls-start":         "(TLS set-up)",
	"tls-done":          "TLS handshake",
	"request-sent":      "request written",
	"first-byte":        "the API server's answer, to its first byte",
	"verified":          "body read, then verification",
	"done":              "CA bundle and bootstrap kubeconfig written (atomically, fsync), log lines",
	"exit":              "process exit",
}

// breakdown is where the traced runs' time went, from the sandbox's exec to
// the process's exit: the mean of each step over the runs, as a table.
func breakdown(b *testing.B, runs []*stamped) string {
	b.Helper()
	type step struct {
		name string
		sum  time.Duration
	}
	var steps []step
	var total time.Duration
	conn := 0
	for n, r := range runs {
		prev := r.at[r.index(b, execMarker)]
		prevName := "exec"
		var seq []step
		for _, l := range r.lines {
			rest, ok := strings.CutPrefix(l, tracePrefix)
			if !ok {
				continue
			}
			point, ns, _ := strings.Cut(rest, " ")
			nsec, err := strconv.ParseInt(ns, 10, 64)
			if err != nil {
				b.Fatalf("trace line %q: %v", l, err)
			}
			at := time.Unix(0, nsec)
			seq = append(seq, step{prevName + " → " + point, at.Sub(prev)})
			prev, prevName = at, point
		}
		seq = append(seq, step{prevName + " → exit", r.exited.Sub(prev)})
		if n == 0 {
			steps = make([]step, len(seq))
			for i, s := range seq {
				steps[i].name = s.name
			}
		}
		if len(seq) != len(steps) {
			b.Fatalf("run %d traced %d steps, run 1 %d:\n%s", n+1, len(seq), len(steps), r.output())
		}
		for i, s := range seq {
			if s.name != steps[i].name {
				b.Fatalf("run %d's step %d is %s, run 1's %s", n+1, i+1, s.name, steps[i].name)
			}
			steps[i].sum += s.sum
			total += s.sum
		}
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "| %-32s | %-74s | %8s | %5s |\n", "step (trace points)", "what", "ms", "share")
	fmt.Fprintf(&sb, "|%s|%s|%s|%s|\n", strings.Repeat("-", 34), strings.Repeat("-", 76), strings.Repeat("-", 10), strings.Repeat("-", 7))
	for _, s := range steps {
		_, point, _ := strings.Cut(s.name, " → ")
		what := tracePoints[point]
		if point == "connect-start" {
			conn++
			if conn > 1 {
				what = fmt.Sprintf("body read, JWS and pin verification; connection %d set up", conn)
			}
		}
		if point == "connect-done" || point == "tls-done" || point == "first-byte" {
			what += fmt.Sprintf(" (connection %d)", conn)
		}
		mean := float64(s.sum.Microseconds()) / 1000 / float64(len(runs))
		fmt.Fprintf(&sb, "| %-32s | %-74s | %8.2f | %4.0f%% |\n", s.name, what, mean, 100*float64(s.sum)/float64(max(total, 1)))
	}
	fmt.Fprintf(&sb, "| %-32s | %-74s | %8.2f | %4s |\n", "exec → exit", fmt.Sprintf("in all, mean of %d runs of the traced build", len(runs)), float64(total.Microseconds())/1000/float64(len(runs)), "100%")
	return sb.String()
}

// stamped is a process's output, each line with the time it arrived.
type stamped struct {
	start  time.Time
	lines  []string
	at     []time.Time
	exited time.Time
}

// index is the index of the first line containing what.
func (s *stamped) index(b *testing.B, what string) int {
	b.Helper()
	for i, l := range s.lines {
		if strings.Contains(l, what) {
			return i
		}
	}
	b.Fatalf("no %q in the output:\n%s", what, s.output())
	return 0
}

func (s *stamped) output() string { return strings.Join(s.lines, "\n") }

// timeline is the output with each line's arrival after the start.
func (s *stamped) timeline() string {
	var b strings.Builder
	for i, l := range s.lines {
		fmt.Fprintf(&b, "%8.1fms %s\n", float64(s.at[i].Sub(s.start).Microseconds())/1000, l)
	}
	return b.String()
}

// span is the time between the first lines containing from and to.
func (s *stamped) span(b *testing.B, from, to string) time.Duration {
	b.Helper()
	var t0, t1 time.Time
	for i, l := range s.lines {
		if t0.IsZero() && strings.Contains(l, from) {
			t0 = s.at[i]
		}
		if t1.IsZero() && strings.Contains(l, to) {
			t1 = s.at[i]
		}
	}
	if t0.IsZero() || t1.IsZero() {
		b.Fatalf("no %q and %q in the output:\n%s", from, to, s.output())
	}
	return t1.Sub(t0)
}

// runStamped runs cmd with its output on a pipe until a line contains done.
// With stop it then kills the process (by PID); otherwise it waits for it to
// exit with status 0.
func runStamped(b *testing.B, cmd *exec.Cmd, done string, stop bool) *stamped {
	b.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	s := &stamped{start: time.Now()}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	pw.Close()
	found := false
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		s.lines = append(s.lines, sc.Text())
		s.at = append(s.at, time.Now())
		if strings.Contains(sc.Text(), done) {
			found = true
			break
		}
	}
	if stop {
		_ = cmd.Process.Kill()
	}
	// The rest of the output (the agent's trace goes on to its exit).
	rest := make(chan struct{})
	go func() {
		defer close(rest)
		for sc.Scan() {
			s.lines = append(s.lines, sc.Text())
			s.at = append(s.at, time.Now())
		}
		io.Copy(io.Discard, pr)
	}()
	err = cmd.Wait()
	s.exited = time.Now()
	<-rest
	pr.Close()
	if !found {
		b.Fatalf("%s never logged %q (%v):\n%s", filepath.Base(cmd.Args[len(cmd.Args)-1]), done, err, s.output())
	}
	if !stop && err != nil {
		b.Fatalf("%v:\n%s", err, s.output())
	}
	return s
}

func reportSizes(b *testing.B, bin string, discovery time.Duration) {
	b.Helper()
	b.StopTimer()
	b.ReportMetric(float64(discovery.Microseconds())/1000/float64(b.N), "discovery-ms")
	fi, err := os.Stat(bin)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(fi.Size()), "binary-bytes")
	b.ReportMetric(float64(gzipSize(b, bin)), "gzip-bytes")
}

// gzipSize is the size of the file compressed with gzip -9.
func gzipSize(b *testing.B, path string) int64 {
	b.Helper()
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	var n countWriter
	zw, _ := gzip.NewWriterLevel(&n, gzip.BestCompression)
	if _, err := io.Copy(zw, f); err != nil {
		b.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		b.Fatal(err)
	}
	return int64(n)
}

type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) { *c += countWriter(len(p)); return len(p), nil }

func copyFile(b *testing.B, from, to string) {
	b.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		b.Fatal(err)
	}
	fi, err := os.Stat(from)
	if err != nil {
		b.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(to, data, fi.Mode().Perm()); err != nil {
		b.Fatal(err)
	}
}
