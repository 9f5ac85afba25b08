package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kubebake/kubebake/test/discoverytest"
)

// AgentBuildTags are the build tags the Makefile builds the agent with:
// net/http without its HTTP/2 client, which two GETs do not need.
const AgentBuildTags = "nethttpomithttp2"

// SizeBudget is the agent's budget, gzip -9, linux/amd64 (issue 3). It is
// embedded in every rendered config that carries the binary.
const SizeBudget = 3_000_000

var builds struct {
	sync.Mutex
	dir  string
	bins map[string]string
	errs map[string]error
}

// buildAgent builds kubebake-join for linux/goarch exactly as the Makefile
// embeds it, once per test binary.
func buildAgent(t testing.TB, goarch string) string {
	t.Helper()
	builds.Lock()
	defer builds.Unlock()
	if builds.bins == nil {
		dir, err := os.MkdirTemp("", "kubebake-join-build-")
		if err != nil {
			t.Fatal(err)
		}
		builds.dir, builds.bins, builds.errs = dir, map[string]string{}, map[string]error{}
	}
	if p, ok := builds.bins[goarch]; ok {
		return p
	}
	if err, ok := builds.errs[goarch]; ok {
		t.Fatal(err)
	}
	out := filepath.Join(builds.dir, "kubebake-join-linux-"+goarch)
	cmd := exec.Command("go", "build", "-tags", AgentBuildTags, "-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid=", "-o", out, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
	start := time.Now()
	if b, err := cmd.CombinedOutput(); err != nil {
		builds.errs[goarch] = fmt.Errorf("go build for linux/%s: %v\n%s", goarch, err, b)
		t.Fatal(builds.errs[goarch])
	}
	t.Logf("built linux/%s in %v", goarch, time.Since(start).Round(time.Millisecond))
	builds.bins[goarch] = out
	return out
}

func TestMain(m *testing.M) {
	code := m.Run()
	if builds.dir != "" {
		os.RemoveAll(builds.dir)
	}
	if err := checkAllLogs(); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		code = 1
	}
	if code == 0 && allLogs.runs > 0 {
		fmt.Fprintf(os.Stderr, "no token secret in the log of %d agent runs (%d bytes)\n", allLogs.runs, allLogs.out.Len())
	}
	os.Exit(code)
}

// TestAgentSize builds the agent as `make embed` does and reports its size
// for both architectures; linux/amd64 must fit the budget.
func TestAgentSize(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the agent twice")
	}
	for _, arch := range []string{"amd64", "arm64"} {
		bin := buildAgent(t, arch)
		raw, gz := agentSizes(t, arch)
		gnu := "no gzip command"
		if out, err := exec.Command("sh", "-c", "gzip -9c < \"$1\" | wc -c", "sh", bin).Output(); err == nil {
			gnu = strings.TrimSpace(string(out)) + " with gzip -9"
		}
		t.Logf("kubebake-join linux/%s: %d bytes; gzipped %d with Go's compress/gzip level 9 as embedded (%.2f MB; budget %.1f MB), %s",
			arch, raw, gz, float64(gz)/1e6, float64(SizeBudget)/1e6, gnu)
		if arch == "amd64" && gz > SizeBudget {
			t.Errorf("linux/amd64 agent is %d bytes gzipped, over the %d budget: what dependency grew?", gz, SizeBudget)
		}
	}
}

// agentSizes returns the agent's size for linux/arch: raw, gzipped with
// Go's compress/gzip level 9 (as make embed embeds it).
func agentSizes(t testing.TB, arch string) (raw, gz int) {
	b, err := os.ReadFile(buildAgent(t, arch))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Write(b)
	zw.Close()
	return len(b), buf.Len()
}

// BenchmarkAgentSize reports the agent's size for both architectures as
// metrics (binary-bytes, gzip-bytes), for scripts/bench.sh:
//
//	go test -run '^$' -bench AgentSize -benchtime 1x ./cmd/kubebake-join
func BenchmarkAgentSize(b *testing.B) {
	for _, arch := range []string{"amd64", "arm64"} {
		b.Run("linux-"+arch, func(b *testing.B) {
			raw, gz := agentSizes(b, arch)
			for b.Loop() {
			}
			b.ReportMetric(float64(raw), "binary-bytes")
			b.ReportMetric(float64(gz), "gzip-bytes")
		})
	}
}

// TestAgentDependencies keeps client-go, apimachinery, the renderer, the
// Butane and Ignition libraries, and net/http's HTTP/2 client (built out
// with the nethttpomithttp2 tag) out of the agent.
func TestAgentDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-tags", AgentBuildTags, "-deps", "-f", "{{.ImportPath}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, p := range strings.Fields(string(out)) {
		if strings.HasPrefix(p, "k8s.io/") || strings.HasPrefix(p, "golang.org/x/net/http2") || strings.Contains(p, "/render") || strings.HasPrefix(p, "gopkg.in/") ||
			strings.HasPrefix(p, "github.com/spf13/") || strings.HasPrefix(p, "github.com/coreos/") {
			t.Errorf("the agent imports %s", p)
		}
	}
}

// TestAgentProcess runs the built binary: real exit statuses, real clock.
func TestAgentProcess(t *testing.T) {
	if runtime.GOOS != "linux" || (runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64") {
		t.Skipf("the agent is built for linux; this is %s/%s", runtime.GOOS, runtime.GOARCH)
	}
	bin := buildAgent(t, runtime.GOARCH)
	exitOf := func(t *testing.T, n *node, args ...string) (int, string) {
		t.Helper()
		var stderr bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, append([]string{"--root", n.root}, args...)...)
		cmd.Stderr = &stderr
		cmd.Env = append(os.Environ(), "HTTPS_PROXY=", "https_proxy=")
		err := cmd.Run()
		t.Logf("kubebake-join %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		record(stderr.String(), n.secrets)
		for _, s := range n.secrets {
			if strings.Contains(stderr.String(), s) {
				t.Errorf("stderr holds a token secret")
			}
		}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode(), stderr.String()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0, stderr.String()
	}

	t.Run("joins", func(t *testing.T) {
		srv := discoverytest.NewServer(t, discoverytest.Options{})
		n := joinNode(t, srv)
		if code, _ := exitOf(t, n); code != 0 {
			t.Fatalf("exit %d", code)
		}
		n.wantJoined(discoverytest.ServerInClusterInfo, srv.CA.PEM)
		// Once the kubelet has written its kubeconfig, the agent does nothing.
		os.WriteFile(n.path(n.cfg.Paths.KubeletKubeconfig), []byte("joined"), 0o600)
		if code, log := exitOf(t, n); code != 0 || srv.Requests() != 1 {
			t.Errorf("run on a joined node: exit %d, %d requests\n%s", code, srv.Requests(), log)
		}
	})
	t.Run("pin mismatch", func(t *testing.T) {
		srv := discoverytest.NewServer(t, discoverytest.Options{})
		other := discoverytest.NewCA(t, discoverytest.ECDSA)
		n := newNode(t, []string{srv.Endpoint()}, []string{other.Pin()}, srv.Token)
		if code, _ := exitOf(t, n, "--timeout", "10s"); code != 3 {
			t.Errorf("exit %d, want 3", code)
		}
		n.wantNothingWritten()
	})
	t.Run("deadline", func(t *testing.T) {
		srv := discoverytest.NewServer(t, discoverytest.Options{})
		srv.Respond(func(i int, w http.ResponseWriter, r *http.Request) bool {
			w.Write(srv.ClusterInfo(false))
			return true
		})
		n := joinNode(t, srv)
		start := time.Now()
		code, _ := exitOf(t, n, "--timeout", "1500ms")
		if code != 1 {
			t.Errorf("exit %d, want 1", code)
		}
		if el := time.Since(start); el > 10*time.Second {
			t.Errorf("took %v with a 1.5s deadline", el)
		}
		n.wantNothingWritten()
	})
	t.Run("SIGTERM", func(t *testing.T) {
		srv := discoverytest.NewServer(t, discoverytest.Options{})
		srv.Respond(func(i int, w http.ResponseWriter, r *http.Request) bool {
			<-r.Context().Done() // stalls
			return true
		})
		n := joinNode(t, srv)
		var stderr bytes.Buffer
		cmd := exec.Command(bin, "--root", n.root)
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		for srv.Requests() == 0 {
			time.Sleep(10 * time.Millisecond)
		}
		start := time.Now()
		cmd.Process.Signal(syscall.SIGTERM)
		err := cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 || time.Since(start) > 5*time.Second {
			t.Errorf("after SIGTERM: %v after %v, want exit 1 at once\n%s", err, time.Since(start), stderr.String())
		}
		if !strings.Contains(stderr.String(), "interrupted after 1 attempts") {
			t.Errorf("no interruption in the log:\n%s", stderr.String())
		}
		n.wantNothingWritten()
	})
	t.Run("bad config", func(t *testing.T) {
		srv := discoverytest.NewServer(t, discoverytest.Options{})
		n := joinNode(t, srv)
		n.writeConfig([]byte("kind: JoinConfiguration\n"))
		if code, _ := exitOf(t, n); code != 78 {
			t.Errorf("exit %d, want 78", code)
		}
		if code, _ := exitOf(t, n, "--bogus"); code != 78 {
			t.Errorf("--bogus: exit %d, want 78", code)
		}
	})
}
