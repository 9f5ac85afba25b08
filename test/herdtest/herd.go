// Package herd starts a herd of kubebake-join processes against one real
// kube-apiserver (test/testcluster) on loopback, the way a fleet of
// machines booted from one image meets its cluster: all within seconds,
// before their token is even signed, so that every agent retries. It
// measures what the API server saw (requests, 429s, 5xx, the peak rate, from
// its audit log) and what the agents did (attempts, Retry-After, when each
// verified). test/herd runs it as a test (a few dozen agents) and as the
// benchmark of scripts/bench-herd.sh (1,000, with kubeadm's fixed 5 s retry
// side by side).
package herdtest

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/kubebake/kubebake/internal/token"
	_ "github.com/kubebake/kubebake/render/emit" // the formats spec knows
	"github.com/kubebake/kubebake/render/plan"
	"github.com/kubebake/kubebake/render/spec"
	"github.com/kubebake/kubebake/test/testcluster"
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
	// FixedRetry, for an agent built with -tags kubebake_bench, makes it
	// wait exactly that long between attempts, as kubeadm join does (5 s),
	// whatever a Retry-After says, and fetch cluster-info a second time
	// once verified, as kubeadm does. Its log still says what its backoff
	// would have waited; the harness judges the Retry-After by FixedRetry.
	FixedRetry time.Duration
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
	// Times from the token's creation (the bootstrapsigner signs
	// cluster-info for it Signed later; no agent can verify before) to each
	// agent's successful exit: the first, the median, the 99th percentile
	// and the last.
	First, P50, P99, Last time.Duration
	// Attempts is the total of the agents' attempts (insecure fetches), and
	// the fewest and most one agent made.
	Attempts, MinAttempts, MaxAttempts int
	// Requests are the API server's requests for cluster-info (from its
	// audit log): each attempt is one (and, in the fixed-retry model of
	// kubeadm, each verification one more: kubeadm's second fetch).
	Requests int
	// AllRequests counts every request the API server logged while the
	// herd ran (controllers' included).
	AllRequests int
	// PeakPerSecond and PeakPer100ms are the most cluster-info requests
	// in one second, and in a tenth of one.
	PeakPerSecond, PeakPer100ms int
	// Code5xx and Code429 count the API server's answers of each kind to
	// cluster-info requests; ServerErrors describes the 5xx (code, reason,
	// message).
	Code5xx, Code429 int
	ServerErrors     []string
	// RetryAfter counts agents' attempts answered with a Retry-After, and
	// RetryAfterKept those after which the agent said it would wait at
	// least that long (or waited out its deadline and sent nothing more).
	// kube-apiserver sends a Retry-After with every 429 (APF, max in
	// flight), so RetryAfter is Code429 when every answer reached an agent.
	RetryAfter, RetryAfterKept int
	// RetryAfterMax is the longest Retry-After an agent got.
	RetryAfterMax time.Duration
	// NoAnswer counts agents' attempts that got no answer within their
	// request timeout (10 s): the agent gave up on the request, and the API
	// server, when it had received it, logs a 500 "context canceled".
	NoAnswer int
	// Unread are lines about an attempt that readLog could not read as
	// kubebake-join's wording.
	Unread []string
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
	var afterCreated []time.Duration
	herdStart := time.Now()
	for first := 0; first < cfg.Agents; first += wave {
		n := min(wave, cfg.Agents-first)
		afterCreated = append(afterCreated, runWave(t, c, filepath.Join(dir, fmt.Sprintf("wave-%d", first/wave)), cfg, n, res)...)
	}
	herdEnd := time.Now()
	res.Verified = len(afterCreated)
	sort.Slice(afterCreated, func(i, j int) bool { return afterCreated[i] < afterCreated[j] })
	if n := len(afterCreated); n > 0 {
		res.First, res.Last = afterCreated[0], afterCreated[n-1]
		res.P50 = afterCreated[(n-1)*50/100]
		res.P99 = afterCreated[(n-1)*99/100]
	}
	countRequests(t, c, herdStart, herdEnd, res)
	return res
}

// On a fleet every agent has a machine of its own; here a thousand share
// two cores with the API server and the harness that starts them. Each
// start (fork and exec, about 1 ms) waits for the CPU behind the agents
// already running (a few ms of CPU each to start and make a first request),
// so started one at a time a thousand took 12 s on a quiet 2-core machine.
// Several goroutines start them, with one P each (GOMAXPROCS=1: fewer
// threads; a discovery is one request at a time), at the lowest priority
// while the wave starts (nice 19: the starts go first), and back at the
// normal priority once all have started, before the token is created: what
// the herd measures runs at the normal priority.
var (
	agentEnv  = []string{"GOMAXPROCS=1"}
	agentNice = 19
)

// starters is how many goroutines start agents: enough to overlap one
// start's wait for its child's exec with the next fork.
func starters() int { return 2 * runtime.GOMAXPROCS(0) }

// runWave runs n agents with a token of their own and returns, for each
// that verified, the time from the token's creation to its exit.
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
		if err := os.WriteFile(filepath.Join(roots[i], "agent.log"), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// The roots stand in for the fleet's disks: write them out before the
	// clock starts, so that their writeback does not slow the starts.
	syscall.Sync()

	type exit struct {
		at   time.Time
		code int
	}
	procs := make([]*testcluster.Process, n)
	exits := make([]exit, n)
	var wg sync.WaitGroup
	env := append(append(os.Environ(), agentEnv...), cfg.Env...)
	if cfg.FixedRetry > 0 {
		env = append(env, "KUBEBAKE_JOIN_FIXED_RETRY="+cfg.FixedRetry.String())
	}
	var next atomic.Int64
	var swg sync.WaitGroup
	start := time.Now()
	for range min(starters(), n) {
		swg.Add(1)
		go func() {
			defer swg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				cmd := exec.Command(cfg.Agent, "--root", roots[i], "--timeout", cfg.Timeout.String())
				cmd.Env = env
				procs[i] = testcluster.StartProcess(t, fmt.Sprintf("kubebake-join %d", i), filepath.Join(roots[i], "agent.log"), cmd)
				_ = syscall.Setpriority(syscall.PRIO_PROCESS, procs[i].PID(), agentNice)
			}
		}()
	}
	swg.Wait()
	// StartProcess has failed the test for an agent it could not start
	// (and ended that starter); stop here, on the test's goroutine.
	for _, p := range procs {
		if p == nil {
			t.FailNow()
		}
	}
	res.Started = max(res.Started, time.Since(start))
	// Back to the normal priority (this needs CAP_SYS_NICE, which root has).
	for _, p := range procs {
		if exited, _ := p.Exited(); exited {
			continue
		}
		if err := syscall.Setpriority(syscall.PRIO_PROCESS, p.PID(), 0); err != nil && !errors.Is(err, syscall.ESRCH) {
			t.Logf("the agents stay at nice %d: cannot set their priority back: %v", agentNice, err)
			break
		}
	}
	for i := range procs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-procs[i].Done()
			_, err := procs[i].Exited()
			exits[i] = exit{at: time.Now(), code: testcluster.ExitCode(err)}
		}(i)
	}

	time.Sleep(cfg.SignAfter)
	createdAt := time.Now()
	c.CreateToken(t, tok, time.Hour)
	c.WaitJWS(t, tok.ID(), true, 60*time.Second)
	res.Signed = max(res.Signed, time.Since(createdAt))

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
		readLog(log, res, cfg.FixedRetry)
		if e.code != 0 {
			res.Failed = append(res.Failed, fmt.Sprintf("agent %d (%s): exit status %d: %s", i, roots[i], e.code, lastLines(log, 3)))
			continue
		}
		out = append(out, e.at.Sub(createdAt))
	}
	return out
}

// bootFiles are the files kubebake-join reads (those under /etc/kubebake:
// its config, the token, whichever part each belongs to), as kubebake
// render lays them down for token tok against c.
func bootFiles(t testing.TB, c *testcluster.Cluster, tok token.Token) []plan.File {
	t.Helper()
	in := spec.Defaults
	in.CA = []string{c.CACertFile}
	in.Token = tok.Value()
	in.APIServer = []string{c.Endpoint}
	in.JoinBinary = string(spec.JoinBaked)
	sp, _, err := spec.NewSpec(in, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.Build(sp, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out []plan.File
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

// What kubebake-join logs (internal/discovery: Discover and
// describeStatus; TestReadLog runs that code to hold these to its wording).
// Each failed attempt is one line, "attempt N: ENDPOINT: ERROR; ENDING",
// whose ERROR names a Retry-After the API server sent and whose ENDING says
// what the agent does next; a success ends with "verified after N
// attempt(s)".
var (
	attemptLine = regexp.MustCompile(`attempt (\d+): `)
	verifiedAt  = regexp.MustCompile(`verified after (\d+) attempt`)
	retryAfter  = regexp.MustCompile(`asks to retry in ([0-9.a-zµ]+)`)
	noAnswer    = regexp.MustCompile(`: no answer within [0-9.a-zµ]+: `)
	// The endings: wait, then try the endpoints again; wait out the
	// deadline, then exit (no request follows); try the next endpoint now.
	retryingIn = regexp.MustCompile(`; retrying in ([0-9.a-zµ]+)$`)
	givingUpIn = regexp.MustCompile(`deadline passes before the next try: giving up in ([0-9.a-zµ]+)$`)
	tryingNext = regexp.MustCompile(`; trying \S+ next$`)
)

// readLog adds an agent's attempts and its handling of Retry-After. A line
// about an attempt that it cannot read as the agent's wording goes to
// res.Unread, so that a change of wording fails the test rather than
// miscounts. fixed, when not zero, is what the agent really waits after
// each attempt (Config.FixedRetry).
func readLog(log string, res *Result, fixed time.Duration) {
	attempts := 0
	unread := func(line string) {
		res.Unread = append(res.Unread, line)
	}
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
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
		if noAnswer.MatchString(line) {
			res.NoAnswer++
		}
		ra := retryAfter.FindStringSubmatch(line)
		var asked time.Duration
		if ra != nil {
			res.RetryAfter++
			d, err := time.ParseDuration(ra[1])
			if err != nil {
				unread(line)
				continue
			}
			asked = d
			res.RetryAfterMax = max(res.RetryAfterMax, d)
		}
		switch {
		case retryingIn.MatchString(line):
			wait, err := time.ParseDuration(retryingIn.FindStringSubmatch(line)[1])
			if fixed > 0 {
				wait = fixed
			}
			if err != nil {
				unread(line)
			} else if ra != nil && wait >= asked {
				res.RetryAfterKept++
			}
		case givingUpIn.MatchString(line):
			// The agent sends nothing more: the Retry-After is kept.
			if ra != nil {
				res.RetryAfterKept++
			}
		case tryingNext.MatchString(line):
			// A round over several endpoints waits only what every one of
			// them asked for, so one endpoint cannot hold back the others:
			// a herd has one endpoint, and this is not for it to judge.
			if ra != nil {
				unread(line)
			}
		default:
			unread(line)
		}
	}
	if err := sc.Err(); err != nil {
		unread(fmt.Sprintf("(the rest of the log: %v)", err))
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
	f, err := os.Open(c.AuditLogFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	perSecond, perTenth := map[int64]int{}, map[int64]int{}
	type serverError struct {
		n           int
		first, last float64
	}
	errs := map[string]*serverError{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
	for sc.Scan() {
		var e struct {
			RequestURI string `json:"requestURI"`
			User       struct {
				Username string `json:"username"`
			} `json:"user"`
			ResponseStatus struct {
				Code    int    `json:"code"`
				Reason  string `json:"reason"`
				Message string `json:"message"`
			} `json:"responseStatus"`
			RequestReceivedTimestamp string `json:"requestReceivedTimestamp"`
		}
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("audit log %s: %v", c.AuditLogFile, err)
		}
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
			key := fmt.Sprintf("%d %s: %s", code, e.ResponseStatus.Reason, e.ResponseStatus.Message)
			if e.ResponseStatus.Message == "context canceled" {
				// Nobody got this answer: the client hung up first.
				key += " (the agent had given up on the request)"
			}
			into := at.Sub(from).Seconds()
			if se, ok := errs[key]; ok {
				se.n, se.last = se.n+1, into
			} else {
				errs[key] = &serverError{n: 1, first: into, last: into}
			}
		case code == 429:
			res.Code429++
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for _, n := range perSecond {
		res.PeakPerSecond = max(res.PeakPerSecond, n)
	}
	for _, n := range perTenth {
		res.PeakPer100ms = max(res.PeakPer100ms, n)
	}
	for key, se := range errs {
		res.ServerErrors = append(res.ServerErrors, fmt.Sprintf("%d× %s (%.1f to %.1f s into the herd)", se.n, key, se.first, se.last))
	}
	sort.Strings(res.ServerErrors)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// BuildAgent builds kubebake-join from this tree into a temporary
// directory as the Makefile builds the agent kubebake embeds (its build tag
// nethttpomithttp2, no symbols), with more build tags (kubebake_bench for
// the fixed-retry knob and the start-up trace).
func BuildAgent(t testing.TB, tags ...string) string {
	t.Helper()
	root, err := testcluster.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "kubebake-join")
	tags = append([]string{"nethttpomithttp2"}, tags...)
	args := []string{"build", "-trimpath", "-ldflags=-s -w -buildid=", "-tags", strings.Join(tags, ","), "-o", out}
	cmd := exec.Command("go", append(args, "./cmd/kubebake-join")...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building kubebake-join: %v\n%s", err, b)
	}
	return out
}
