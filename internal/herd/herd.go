// Package herd starts a herd of kubebake-join processes against one real
// kube-apiserver (internal/testcluster) on loopback, the way a fleet of
// machines booted from one image meets its cluster: all within seconds,
// before their token is even signed, so that every agent retries. It
// measures what the API server saw (requests, 429s, 5xx, the peak rate, from
// its audit log) and what the agents did (attempts, Retry-After, when each
// verified). test/herd runs it as a test (a few dozen agents) and as the
// benchmark of scripts/bench-herd.sh (1,000, with kubeadm's fixed 5 s retry
// side by side).
package herd

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kubebake/kubebake/internal/testcluster"
	"github.com/kubebake/kubebake/internal/token"
	"github.com/kubebake/kubebake/render"
)

// Config is one herd.
type Config struct {
	// Agent is the kubebake-join binary.
	Agent string
	// Env is added to each agent's environment.
	Env []string
	// Agents is how many agents run in all; Wave how many at once (0: all).
	// Each wave is a herd of its own, with its own token signed late.
	Agents, Wave int
	// SignAfter is how long after the last agent of a wave has started the
	// token's Secret is created (the bootstrapsigner signs it a moment later).
	SignAfter time.Duration
	// Timeout is each agent's --timeout.
	Timeout time.Duration
}

// Result is what a herd did.
type Result struct {
	Agents, Verified int
	// Failed describes agents that did not verify (exit status and the end
	// of their log).
	Failed []string
	// Started is the longest time a wave took to start all its agents.
	Started time.Duration
	// Signed is the longest time from the token's creation to its
	// signature in cluster-info.
	Signed time.Duration
	// Times from the signature (the first moment an agent could verify) to
	// each agent's successful exit: the first, the median, the 99th
	// percentile and the last.
	First, P50, P99, Last time.Duration
	// Attempts is the total of the agents' attempts (insecure fetches), and
	// the fewest and most one agent made.
	Attempts, MinAttempts, MaxAttempts int
	// Requests are the API server's requests for cluster-info (from its
	// audit log): each attempt is one, each verification one more.
	Requests int
	// AllRequests counts every request the API server logged while the
	// herd ran (controllers' included).
	AllRequests int
	// PeakPerSecond and PeakPer100ms are the most cluster-info requests
	// in one second, and in a tenth of one.
	PeakPerSecond, PeakPer100ms int
	// Code5xx and Code429 count the API server's answers of each kind to
	// cluster-info requests.
	Code5xx, Code429 int
	// RetryAfter counts agents' attempts answered with a Retry-After, and
	// RetryAfterKept those after which the agent waited at least that long.
	RetryAfter, RetryAfterKept int
}

// RequestsPerAgent is Requests / Agents.
func (r *Result) RequestsPerAgent() float64 { return float64(r.Requests) / float64(max(r.Agents, 1)) }

// Run runs the herd against c, whose cluster-info and bootstrap bindings
// must exist (c.PrepareBootstrap), in dir. Every agent is stopped by PID
// when the test ends, at the latest.
func Run(t testing.TB, c *testcluster.Cluster, dir string, cfg Config) *Result {
	t.Helper()
	wave := cfg.Wave
	if wave <= 0 || wave > cfg.Agents {
		wave = cfg.Agents
	}
	res := &Result{Agents: cfg.Agents, MinAttempts: -1}
	var afterSigned []time.Duration
	herdStart := time.Now()
	for first := 0; first < cfg.Agents; first += wave {
		n := min(wave, cfg.Agents-first)
		afterSigned = append(afterSigned, runWave(t, c, filepath.Join(dir, fmt.Sprintf("wave-%d", first/wave)), cfg, n, res)...)
	}
	herdEnd := time.Now()
	res.Verified = len(afterSigned)
	sort.Slice(afterSigned, func(i, j int) bool { return afterSigned[i] < afterSigned[j] })
	if n := len(afterSigned); n > 0 {
		res.First, res.Last = afterSigned[0], afterSigned[n-1]
		res.P50 = afterSigned[(n-1)*50/100]
		res.P99 = afterSigned[(n-1)*99/100]
	}
	countRequests(t, c, herdStart, herdEnd, res)
	return res
}

// runWave runs n agents with a token of their own and returns, for each
// that verified, the time from the signature to its exit.
func runWave(t testing.TB, c *testcluster.Cluster, dir string, cfg Config, n int, res *Result) []time.Duration {
	t.Helper()
	tok, err := token.Generate()
	if err != nil {
		t.Fatal(err)
	}
	files := bootFiles(t, c, tok)
	roots := make([]string, n)
	for i := range roots {
		roots[i] = filepath.Join(dir, fmt.Sprintf("agent-%04d", i))
		for _, f := range files {
			p := filepath.Join(roots[i], filepath.FromSlash(f.Path))
			if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, f.Contents, f.Mode.Perm()); err != nil {
				t.Fatal(err)
			}
		}
	}

	type exit struct {
		at   time.Time
		code int
	}
	procs := make([]*testcluster.Process, n)
	exits := make([]exit, n)
	var wg sync.WaitGroup
	start := time.Now()
	for i, root := range roots {
		cmd := exec.Command(cfg.Agent, "--root", root, "--timeout", cfg.Timeout.String())
		cmd.Env = append(os.Environ(), cfg.Env...)
		procs[i] = testcluster.StartProcess(t, fmt.Sprintf("kubebake-join %d", i), filepath.Join(root, "agent.log"), cmd)
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-procs[i].Done()
			_, err := procs[i].Exited()
			exits[i] = exit{at: time.Now(), code: testcluster.ExitCode(err)}
		}(i)
	}
	res.Started = max(res.Started, time.Since(start))

	time.Sleep(cfg.SignAfter)
	c.CreateToken(t, tok, time.Hour)
	signed := c.WaitJWS(t, tok.ID(), true, 60*time.Second)
	res.Signed = max(res.Signed, signed)
	signedAt := time.Now()

	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(cfg.Timeout + 30*time.Second):
		t.Fatalf("agents still running %s after the token was signed", cfg.Timeout+30*time.Second)
	}

	var out []time.Duration
	for i, e := range exits {
		log := procs[i].Log()
		readLog(log, res)
		if e.code != 0 {
			res.Failed = append(res.Failed, fmt.Sprintf("agent %d (%s): exit status %d: %s", i, roots[i], e.code, lastLines(log, 3)))
			continue
		}
		out = append(out, max(e.at.Sub(signedAt), 0))
	}
	return out
}

// bootFiles are the files under /etc/kubebake that kubebake-join reads (its
// config, from the image part, and the token, the boot part), as kubebake
// render lays them down for token tok against c.
func bootFiles(t testing.TB, c *testcluster.Cluster, tok token.Token) []render.File {
	t.Helper()
	in := render.Defaults
	in.CA = []string{c.CACertFile}
	in.Token = tok.Value()
	in.APIServer = []string{c.Endpoint}
	in.JoinBinary = string(render.JoinBaked)
	spec, _, err := render.NewSpec(in, render.Env{ReadFile: os.ReadFile, Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	p, err := render.Build(spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out []render.File
	for _, f := range p.Files {
		if strings.HasPrefix(f.Path, "/etc/kubebake/") {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		t.Fatal("the plan holds nothing under /etc/kubebake")
	}
	return out
}

var (
	attemptLine = regexp.MustCompile(`attempt (\d+): `)
	verifiedAt  = regexp.MustCompile(`verified after (\d+) attempt`)
	retryAfter  = regexp.MustCompile(`asks to retry in ([0-9.a-zµ]+)`)
	retryingIn  = regexp.MustCompile(`retrying in ([0-9.a-zµ]+)`)
)

// readLog adds an agent's attempts and its handling of Retry-After.
func readLog(log string, res *Result) {
	attempts := 0
	sc := bufio.NewScanner(strings.NewReader(log))
	for sc.Scan() {
		line := sc.Text()
		if m := verifiedAt.FindStringSubmatch(line); m != nil {
			attempts, _ = strconv.Atoi(m[1])
			continue
		}
		m := attemptLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		attempts, _ = strconv.Atoi(m[1])
		if ra := retryAfter.FindStringSubmatch(line); ra != nil {
			res.RetryAfter++
			want, err1 := time.ParseDuration(ra[1])
			if ri := retryingIn.FindStringSubmatch(line); ri != nil {
				got, err2 := time.ParseDuration(ri[1])
				if err1 == nil && err2 == nil && got >= want {
					res.RetryAfterKept++
				}
			}
		}
	}
	res.Attempts += attempts
	if res.MinAttempts < 0 || attempts < res.MinAttempts {
		res.MinAttempts = attempts
	}
	res.MaxAttempts = max(res.MaxAttempts, attempts)
}

// countRequests reads the API server's audit log for the herd's window.
func countRequests(t testing.TB, c *testcluster.Cluster, from, to time.Time, res *Result) {
	t.Helper()
	perSecond, perTenth := map[int64]int{}, map[int64]int{}
	for _, e := range c.AuditEvents(t) {
		at, err := time.Parse(time.RFC3339Nano, e.RequestReceivedTimestamp)
		if err != nil || at.Before(from) || at.After(to) {
			continue
		}
		res.AllRequests++
		if e.User.Username != "system:anonymous" || !strings.Contains(e.RequestURI, "/configmaps/cluster-info") {
			continue
		}
		res.Requests++
		perSecond[at.Unix()]++
		perTenth[at.UnixMilli()/100]++
		switch code := e.ResponseStatus.Code; {
		case code >= 500:
			res.Code5xx++
		case code == 429:
			res.Code429++
		}
	}
	for _, n := range perSecond {
		res.PeakPerSecond = max(res.PeakPerSecond, n)
	}
	for _, n := range perTenth {
		res.PeakPer100ms = max(res.PeakPer100ms, n)
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// BuildAgent builds kubebake-join from this tree into a temporary
// directory, with build tags (kubebake_bench for the fixed-retry knob).
func BuildAgent(t testing.TB, tags ...string) string {
	t.Helper()
	root, err := testcluster.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "kubebake-join")
	args := []string{"build", "-trimpath", "-o", out}
	if len(tags) > 0 {
		args = append(args, "-tags", strings.Join(tags, ","))
	}
	cmd := exec.Command("go", append(args, "./cmd/kubebake-join")...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building kubebake-join: %v\n%s", err, b)
	}
	return out
}
