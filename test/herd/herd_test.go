package herd

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kubebake/kubebake/test/herdtest"
	"github.com/kubebake/kubebake/test/testcluster"
)

// TestHerd starts a few dozen agents within a second or two, before their
// token exists; the token is created seconds later. Every agent must retry,
// then verify; the API server must answer no 5xx; every Retry-After an
// agent got must have been waited out.
func TestHerd(t *testing.T) {
	agent := herdtest.BuildAgent(t)
	c := testcluster.Start(t)
	c.PrepareBootstrap(t)
	r := herdtest.Run(t, c, t.TempDir(), herdtest.Config{Agent: agent, Agents: 24, SignAfter: 3 * time.Second, Timeout: 3 * time.Minute})
	t.Logf("%d agents: %d verified, %d attempts (%d to %d each), %d cluster-info requests, %d 429s, %d 5xx; verified %s to %s after the token was created",
		r.Agents, r.Verified, r.Attempts, r.MinAttempts, r.MaxAttempts, r.Requests, r.Code429, r.Code5xx, r.First, r.Last)
	for _, f := range r.Failed {
		t.Error(f)
	}
	if r.Verified != r.Agents {
		t.Fatalf("%d of %d agents verified", r.Verified, r.Agents)
	}
	if r.MinAttempts < 2 {
		t.Errorf("an agent verified at its attempt %d: the herd was meant to start before the token was signed, so that every agent retries", r.MinAttempts)
	}
	if r.Code5xx != 0 {
		t.Errorf("the API server answered %d requests with a 5xx: %s", r.Code5xx, strings.Join(r.ServerErrors, "; "))
	}
	// A few dozen agents seldom meet a 429; test/herdtest's TestReadLog
	// holds the reading of the agents' logs to their wording in any case.
	for _, line := range r.Unread {
		t.Errorf("an agent's log line the harness cannot read: %s", line)
	}
	if r.RetryAfterKept != r.RetryAfter {
		t.Errorf("agents waited out %d of %d Retry-After answers", r.RetryAfterKept, r.RetryAfter)
	}
	// kube-apiserver sends a Retry-After with every 429: each must have
	// reached an agent and been logged as such.
	if r.RetryAfter != r.Code429 {
		t.Errorf("the API server answered %d requests with a 429; the agents' logs hold %d Retry-After", r.Code429, r.RetryAfter)
	}
	// Each attempt is one anonymous GET, and nothing more: the agent
	// verifies the TLS session of the attempt that verified, no second
	// fetch (issue 21 item 4). The API server saw them all.
	if r.Requests != r.Attempts {
		t.Errorf("the API server logged %d cluster-info requests; the agents' logs account for %d attempts", r.Requests, r.Attempts)
	}
}

// BenchmarkHerd runs $HERD_AGENTS (default 1,000) agents with kubebake's
// backoff, then as many with kubeadm's fixed 5 s retry (the same agent,
// built with -tags kubebake_bench), against one API server, in waves of
// $HERD_WAVE (default: as many as 60% of the free memory holds). Run it once
// (-benchtime 1x); scripts/bench-herd.sh prints the figures side by side.
// With $HERD_KEEP set to a directory, the API server's, etcd's and the audit
// log are copied there at the end, to explain a 5xx.
func BenchmarkHerd(b *testing.B) {
	agents := envInt("HERD_AGENTS", 1000)
	wave := envInt("HERD_WAVE", 0)
	if wave == 0 {
		wave = memoryWave(agents)
	}
	backoff, fixed := herdtest.BuildAgent(b), herdtest.BuildAgent(b, "kubebake_bench")
	c := testcluster.Start(b)
	c.PrepareBootstrap(b)
	for _, v := range []struct {
		name  string
		agent string
		fixed time.Duration
	}{
		{"backoff", backoff, 0},
		{"fixed-5s", fixed, 5 * time.Second},
	} {
		b.Run(v.name, func(b *testing.B) {
			for range b.N {
				r := herdtest.Run(b, c, b.TempDir(), herdtest.Config{Agent: v.agent, FixedRetry: v.fixed, Agents: agents, Wave: wave,
					SignAfter: 10 * time.Second, Timeout: 5 * time.Minute})
				for _, f := range r.Failed[:min(len(r.Failed), 5)] {
					b.Error(f)
				}
				for _, line := range r.Unread[:min(len(r.Unread), 5)] {
					b.Errorf("an agent's log line the harness cannot read (%d in all): %s", len(r.Unread), line)
				}
				for _, e := range r.ServerErrors {
					b.Logf("API server 5xx: %s", e)
				}
				ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
				for _, m := range []struct {
					v    float64
					unit string
				}{
					{float64(r.Agents), "agents"}, {float64(wave), "wave"}, {float64(r.Verified), "verified"},
					{ms(r.Started), "start-ms"}, {ms(r.Signed), "signed-ms"}, {ms(r.First), "first-ms"}, {ms(r.P50), "p50-ms"}, {ms(r.P99), "p99-ms"}, {ms(r.Last), "last-ms"},
					{r.RequestsPerAgent(), "req/agent"}, {float64(r.Requests), "requests"}, {float64(r.AllRequests), "all-requests"},
					{float64(r.PeakPerSecond), "peak-req/s"}, {float64(r.PeakPer100ms), "peak-req/100ms"}, {float64(r.Code429), "429s"}, {float64(r.Code5xx), "5xx"},
					{float64(r.RetryAfter), "retry-after"}, {float64(r.RetryAfterKept), "retry-after-kept"}, {ms(r.RetryAfterMax), "retry-after-max-ms"}, {float64(r.NoAnswer), "no-answer"},
				} {
					b.ReportMetric(m.v, m.unit)
				}
			}
		})
	}
	if keep := os.Getenv("HERD_KEEP"); keep != "" {
		for _, name := range []string{"kube-apiserver.log", "etcd.log", "audit.log"} {
			data, err := os.ReadFile(filepath.Join(c.Dir, name))
			if err == nil {
				err = os.WriteFile(filepath.Join(keep, name), data, 0o600)
			}
			if err != nil {
				b.Error(err)
			}
		}
	}
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// memoryWave is how many agents 60% of the available memory holds, at 10 MB
// each (an agent's resident size is about 7 MB).
func memoryWave(agents int) int {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return agents
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var kb int
		if n, _ := fmt.Sscanf(sc.Text(), "MemAvailable: %d kB", &kb); n == 1 {
			return max(1, min(agents, kb*6/10/(10<<10)))
		}
	}
	return agents
}
