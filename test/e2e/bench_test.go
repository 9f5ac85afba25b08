package e2e

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kubebake/kubebake/internal/joinconfig"
	"github.com/kubebake/kubebake/internal/token"
	"github.com/kubebake/kubebake/test/consumertest"
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
// discovery succeeded (it would go on to start a kubelet).
//
// ns/op is process start to "verified"; discovery-ms is the span between the
// tool's own "discovery starts" and "verified" lines (stamped as they arrive
// on a pipe); binary-bytes and gzip-bytes are the binary's size.
// scripts/bench-e2e.sh prints the figures as a table.
func BenchmarkDiscovery(b *testing.B) {
	testcluster.RequireSandbox(b)
	kubebake, _ := buildTools(b)
	kubeadm := testcluster.Bin(b, "kubeadm")
	consumertest.Tools(b)

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

	b.Run("kubebake-join", func(b *testing.B) {
		var discovery time.Duration
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			root := b.TempDir()
			copyFile(b, filepath.Join(template, joinconfig.DefaultPath), filepath.Join(root, joinconfig.DefaultPath))
			sb := testcluster.NewSandbox(b, "kubebake-bench")
			sb.Binds[agentArgv[0]] = agent
			cmd := sb.Command(b, append(append([]string{}, agentArgv...), "--root", root)...)
			b.StartTimer()
			r := runStamped(b, cmd, agentDiscoveryDone, false)
			b.StopTimer()
			if i == 0 {
				b.Logf("kubebake-join's output, stamped from its start:\n%s", r.timeline())
			}
			discovery += r.span(b, agentDiscoveryStart, agentDiscoveryDone)
			if !exists(filepath.Join(root, paths.BootstrapKubeconfig)) {
				b.Fatalf("kubebake-join wrote no %s:\n%s", paths.BootstrapKubeconfig, r.output())
			}
			b.StartTimer()
		}
		reportSizes(b, agent, discovery)
	})

	b.Run("kubeadm", func(b *testing.B) {
		var discovery time.Duration
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			sb := testcluster.NewSandbox(b, "kubeadm-bench")
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
			b.StartTimer()
		}
		reportSizes(b, kubeadm, discovery)
	})
}

// stamped is a process's output, each line with the time it arrived.
type stamped struct {
	start time.Time
	lines []string
	at    []time.Time
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
	go io.Copy(io.Discard, pr)
	err = cmd.Wait()
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
