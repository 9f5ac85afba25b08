package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kubebake/kubebake/internal/discovery"
	"github.com/kubebake/kubebake/internal/joinconfig"
	"github.com/kubebake/kubebake/internal/token"
	"github.com/kubebake/kubebake/test/discoverytest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"
)

// node is one agent run's world: a root directory laid out as the renderer
// does it, the fake API servers, a fake clock, and everything logged.
type node struct {
	t       *testing.T
	root    string
	cfg     *joinconfig.Config
	servers []*discoverytest.Server
	// secrets that must never be logged.
	secrets []string

	now    time.Time
	sleeps []time.Duration
	opts   discovery.Options
	stderr bytes.Buffer
}

// newNode writes a node root whose join config names endpoints and pins and
// carries tok.
func newNode(t *testing.T, endpoints, pins []string, tok token.Token) *node {
	t.Helper()
	n := &node{t: t, root: t.TempDir(), now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	n.cfg = discoverytest.Config(endpoints, pins, tok)
	discoverytest.WriteNode(t, n.root, n.cfg)
	n.secrets = append(n.secrets, tok.Secret())
	n.opts = discovery.Options{
		RequestTimeout: 2 * time.Second,
		Now:            func() time.Time { return n.now },
		Sleep: func(ctx context.Context, d time.Duration) error {
			n.sleeps = append(n.sleeps, d)
			n.now = n.now.Add(d)
			return nil
		},
		Rand: func() float64 { return 0.5 },
	}
	return n
}

// joinNode is a node rendered for srv: its endpoint, its CA's pin, its token.
func joinNode(t *testing.T, srv *discoverytest.Server) *node {
	n := newNode(t, []string{srv.Endpoint()}, []string{srv.CA.Pin()}, srv.Token)
	n.watch(srv)
	return n
}

// rewriteConfig writes n.cfg again, after a test changed it.
func (n *node) rewriteConfig() {
	n.t.Helper()
	y, err := n.cfg.Marshal()
	if err != nil {
		n.t.Fatal(err)
	}
	n.writeConfig(y)
}

func (n *node) watch(srvs ...*discoverytest.Server) {
	for _, s := range srvs {
		n.servers = append(n.servers, s)
		n.secrets = append(n.secrets, s.Token.Secret())
	}
}

func (n *node) path(p string) string { return filepath.Join(n.root, p) }

// total is the time the agent slept.
func (n *node) total() time.Duration {
	var d time.Duration
	for _, s := range n.sleeps {
		d += s
	}
	return d
}

func (n *node) wantExit(want int, args ...string) {
	n.t.Helper()
	n.stderr.Reset()
	code := run(context.Background(), append([]string{"--root", n.root}, args...), &n.stderr, n.opts)
	n.t.Logf("kubebake-join --root ROOT %s → exit %d\n%s", strings.Join(args, " "), code, n.stderr.String())
	record(n.stderr.String(), n.secrets)
	for _, s := range n.secrets {
		if strings.Contains(n.stderr.String(), s) {
			n.t.Errorf("the log holds a token secret:\n%s", n.stderr.String())
		}
	}
	for _, s := range n.servers {
		if a := s.AuthorizationSent(); len(a) > 0 {
			n.t.Errorf("a request to %s carried an Authorization header (%v)", s.Endpoint(), a)
		}
	}
	if code != want {
		n.t.Fatalf("exit status %d, want %d", code, want)
	}
}

// allLogs gathers everything every agent run of this package logged, and
// every token secret those runs knew, so that TestMain can check once more,
// across all the scenarios, that no secret was ever logged.
var allLogs struct {
	sync.Mutex
	out     bytes.Buffer
	runs    int
	secrets map[string]bool
}

func record(out string, secrets []string) {
	allLogs.Lock()
	defer allLogs.Unlock()
	if allLogs.secrets == nil {
		allLogs.secrets = map[string]bool{}
	}
	allLogs.out.WriteString(out)
	allLogs.runs++
	for _, s := range secrets {
		allLogs.secrets[s] = true
	}
}

// checkAllLogs is TestMain's final check: no secret in any run's log.
func checkAllLogs() error {
	allLogs.Lock()
	defer allLogs.Unlock()
	out := allLogs.out.String()
	for s := range allLogs.secrets {
		if strings.Contains(out, s) {
			return fmt.Errorf("a token secret appears in the agent's log (over %d runs)", allLogs.runs)
		}
	}
	return nil
}

func (n *node) wantLog(substr string) {
	n.t.Helper()
	if !strings.Contains(n.stderr.String(), substr) {
		n.t.Errorf("the log lacks %q", substr)
	}
}

// wantNothingWritten checks that neither the CA bundle nor the bootstrap
// kubeconfig exists.
func (n *node) wantNothingWritten() {
	n.t.Helper()
	for _, p := range []string{n.cfg.Paths.CACert, n.cfg.Paths.BootstrapKubeconfig} {
		if _, err := os.Lstat(n.path(p)); err == nil {
			n.t.Errorf("%s was written", p)
		}
	}
	// No temporary files left behind either.
	filepath.Walk(n.path("/etc/kubernetes"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n.t.Errorf("%s exists", p)
		}
		return nil
	})
}

// wantJoined checks the installed files: the CA bundle, and the bootstrap
// kubeconfig (0600) naming server, with that bundle and the token of
// join.yaml, exactly as clientcmd writes such a kubeconfig.
func (n *node) wantJoined(server string, bundle []byte) {
	n.t.Helper()
	ca := n.readFile(n.cfg.Paths.CACert, 0o644)
	if !bytes.Equal(ca, bundle) {
		n.t.Errorf("ca.crt:\n%s\nwant:\n%s", ca, bundle)
	}
	kc := n.readFile(n.cfg.Paths.BootstrapKubeconfig, 0o600)
	tok, err := token.Parse(n.cfg.Token)
	if err != nil {
		n.t.Fatal(err)
	}
	want := discoverytest.BootstrapKubeconfig(n.t, server, bundle, tok)
	if !bytes.Equal(kc, want) {
		n.t.Errorf("bootstrap kubeconfig:\n%s\nwant:\n%s", redact(kc, n.secrets), redact(want, n.secrets))
	}
	// Read it as the kubelet does.
	got, err := clientcmd.Load(kc)
	if err != nil {
		n.t.Fatalf("clientcmd cannot load the bootstrap kubeconfig: %v", err)
	}
	if err := clientcmd.Validate(*got); err != nil {
		n.t.Errorf("clientcmd.Validate: %v", err)
	}
	n.wantNoLeftovers()
}

// wantNoLeftovers checks that no temporary file is left in the directories
// the agent writes to.
func (n *node) wantNoLeftovers() {
	n.t.Helper()
	for _, p := range []string{n.cfg.Paths.CACert, n.cfg.Paths.BootstrapKubeconfig} {
		left, _ := filepath.Glob(filepath.Join(filepath.Dir(n.path(p)), ".*.tmp-*"))
		if len(left) > 0 {
			n.t.Errorf("temporary files left: %v", left)
		}
	}
}

// wantNowhere checks that no file under the node root holds data (a CA
// that must not be installed).
func (n *node) wantNowhere(data []byte) {
	n.t.Helper()
	filepath.Walk(n.root, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return nil
		}
		if b, _ := os.ReadFile(p); bytes.Contains(b, data) || bytes.Contains(b, []byte(base64.StdEncoding.EncodeToString(data))) {
			n.t.Errorf("%s holds it", p)
		}
		return nil
	})
}

func redact(b []byte, secrets []string) string {
	s := string(b)
	for _, x := range secrets {
		s = strings.ReplaceAll(s, x, "<secret>")
	}
	return s
}

func (n *node) readFile(p string, mode os.FileMode) []byte {
	n.t.Helper()
	fi, err := os.Stat(n.path(p))
	if err != nil {
		n.t.Fatalf("%s was not written: %v", p, err)
	}
	if fi.Mode().Perm() != mode {
		n.t.Errorf("%s has mode %v, want %v", p, fi.Mode().Perm(), mode)
	}
	b, err := os.ReadFile(n.path(p))
	if err != nil {
		n.t.Fatal(err)
	}
	return b
}

func newToken(t *testing.T) token.Token {
	tok, err := token.Generate()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestSuccess(t *testing.T) {
	srv := discoverytest.NewServer(t, discoverytest.Options{})
	n := joinNode(t, srv)
	n.wantExit(0)
	n.wantJoined(discoverytest.ServerInClusterInfo, srv.CA.PEM)
	// One connection, one handshake, one request: the answer's session is
	// verified against the pinned CA; no second fetch (issue 21 item 4).
	if r, c, h := srv.Requests(), srv.Connections(), srv.Handshakes(); r != 1 || c != 1 || h != 1 {
		t.Errorf("%d requests over %d connections, %d TLS handshakes: want 1, 1, 1", r, c, h)
	}
	if len(n.sleeps) != 0 {
		t.Errorf("slept %v before the first try", n.sleeps)
	}
	n.wantLog("verified after 1 attempt(s)")
	n.wantLog("discovering the cluster with token " + srv.Token.ID())
}

func TestSuccessRSA(t *testing.T) {
	srv := discoverytest.NewServer(t, discoverytest.Options{CA: discoverytest.NewCA(t, discoverytest.RSA)})
	n := joinNode(t, srv)
	n.wantExit(0)
	n.wantJoined(discoverytest.ServerInClusterInfo, srv.CA.PEM)
}

func TestFirstEndpointsDead(t *testing.T) {
	srv := discoverytest.NewServer(t, discoverytest.Options{})
	dead1, dead2 := discoverytest.DeadEndpoint(t), discoverytest.DeadEndpoint(t)
	n := newNode(t, []string{dead1, dead2, srv.Endpoint()}, []string{srv.CA.Pin()}, srv.Token)
	n.watch(srv)
	n.wantExit(0)
	n.wantJoined(discoverytest.ServerInClusterInfo, srv.CA.PEM)
	n.wantLog("attempt 1: " + dead1 + ": connection refused")
	n.wantLog("trying " + dead2 + " next")
	n.wantLog("verified after 3 attempt(s)")
	if len(n.sleeps) != 0 {
		t.Errorf("slept %v between endpoints of one round", n.sleeps)
	}
}

func TestSignatureAppearsLater(t *testing.T) {
	srv := discoverytest.NewServer(t, discoverytest.Options{})
	srv.Respond(func(i int, w http.ResponseWriter, r *http.Request) bool {
		if i > 3 {
			return false
		}
		w.Write(srv.ClusterInfo(false)) // the bootstrapsigner has not signed yet
		return true
	})
	n := joinNode(t, srv)
	n.wantExit(0)
	n.wantJoined(discoverytest.ServerInClusterInfo, srv.CA.PEM)
	id := srv.Token.ID()
	n.wantLog(fmt.Sprintf("token %s is unknown to the cluster, expired, or lacks usage-bootstrap-signing (no jws-kubeconfig-%s in cluster-info)", id, id))
	n.wantLog("verified after 4 attempt(s)")
	// The API server answered: paced waits (internal/discovery/retry.go),
	// with Rand 0.5 the Pace itself.
	want := []time.Duration{discovery.Pace, discovery.Pace, discovery.Pace}
	if fmt.Sprint(n.sleeps) != fmt.Sprint(want) {
		t.Errorf("slept %v, want %v", n.sleeps, want)
	}
}

func TestRetryAfter(t *testing.T) {
	srv := discoverytest.NewServer(t, discoverytest.Options{})
	srv.Respond(func(i int, w http.ResponseWriter, r *http.Request) bool {
		if i > 2 {
			return false
		}
		w.Header().Set("Retry-After", "7")
		http.Error(w, "too many requests", http.StatusTooManyRequests)
		return true
	})
	n := joinNode(t, srv)
	n.wantExit(0)
	n.wantJoined(discoverytest.ServerInClusterInfo, srv.CA.PEM)
	n.wantLog("HTTP 429 Too Many Requests: the API server is busy and asks to retry in 7s")
	// Retry-After, plus the round's paced wait (Rand 0.5: the Pace), so
	// that a herd told the same Retry-After does not come back at once.
	if fmt.Sprint(n.sleeps) != fmt.Sprint([]time.Duration{7*time.Second + discovery.Pace, 7*time.Second + discovery.Pace}) {
		t.Errorf("slept %v, want 7s as Retry-After asked plus the paced wait", n.sleeps)
	}
}

func TestServiceUnavailableThenBackoffCap(t *testing.T) {
	srv := discoverytest.NewServer(t, discoverytest.Options{})
	srv.Respond(func(i int, w http.ResponseWriter, r *http.Request) bool {
		if i > 8 {
			return false
		}
		http.Error(w, "etcd is down", http.StatusServiceUnavailable)
		return true
	})
	n := joinNode(t, srv)
	n.opts.Rand = func() float64 { return 0.999 }
	n.wantExit(0)
	// A 503 is an answer: paced waits, just under 1.5 Pace at Rand 0.999.
	for i, d := range n.sleeps {
		ceil := discovery.Pace * 3 / 2
		if d > ceil || d < ceil*99/100 {
			t.Errorf("sleep %d: %v, want just under %v", i, d, ceil)
		}
	}
	if len(n.sleeps) != 8 {
		t.Errorf("sleeps %v: want 8", n.sleeps)
	}
	n.wantLog("HTTP 503 Service Unavailable: the API server is busy")
}

func TestPinMismatch(t *testing.T) {
	srv := discoverytest.NewServer(t, discoverytest.Options{})
	other := discoverytest.NewCA(t, discoverytest.RSA)
	n := newNode(t, []string{srv.Endpoint()}, []string{other.Pin()}, srv.Token)
	n.watch(srv)
	n.wantExit(3, "--timeout", "30s")
	n.wantNothingWritten()
	n.wantLog("cluster CA " + srv.CA.Pin() + " (CN=kubernetes) matches none of the pinned hashes " + other.Pin())
	n.wantLog("every endpoint served a cluster-info signed with the token whose CA matches no pin within 30s")
	n.wantLog("final")
	// Tried until the deadline, never over the verified connection.
	if srv.Requests() < 3 || n.total() != 30*time.Second {
		t.Errorf("%d requests over %v: want retries until the deadline", srv.Requests(), n.total())
	}
}

func TestWrongSecret(t *testing.T) {
	srv := discoverytest.NewServer(t, discoverytest.Options{})
	wrong, err := token.Parse(srv.Token.ID() + ".0123456789abcdef")
	if err != nil {
		t.Fatal(err)
	}
	n := newNode(t, []string{srv.Endpoint()}, []string{srv.CA.Pin()}, wrong)
	n.watch(srv)
	n.wantExit(4, "--timeout", "30s")
	n.wantNothingWritten()
	n.wantLog("does not verify with the token secret of join.yaml")
	n.wantLog("no endpoint proved to be the pinned cluster within 30s")
	n.wantLog("will be retried")
	if srv.Requests() < 3 || n.total() != 30*time.Second {
		t.Errorf("%d requests over %v: a wrong signature is retried until the deadline", srv.Requests(), n.total())
	}
}

func TestSignatureAbsentUntilDeadline(t *testing.T) {
	srv := discoverytest.NewServer(t, discoverytest.Options{})
	srv.Respond(func(i int, w http.ResponseWriter, r *http.Request) bool {
		w.Write(srv.ClusterInfo(false))
		return true
	})
	n := joinNode(t, srv)
	n.wantExit(1, "--timeout", "30s")
	n.wantNothingWritten()
	n.wantLog("no jws-kubeconfig-" + srv.Token.ID())
	n.wantLog("no endpoint passed discovery within 30s")
	if n.total() != 30*time.Second || srv.Requests() < 4 {
		t.Errorf("slept %v in all over %d requests: want several tries and to give up at the 30s deadline", n.total(), srv.Requests())
	}
}

func TestHostnameMismatch(t *testing.T) {
	srv := discoverytest.NewServer(t, discoverytest.Options{Hosts: []string{"kubernetes.default.svc", "10.96.0.1"}})
	n := joinNode(t, srv)
	n.wantExit(4, "--timeout", "20s")
	n.wantNothingWritten()
	n.wantLog("127.0.0.1 is not a name in the API server certificate (SANs: kubernetes.default.svc, 10.96.0.1)")
}

func TestClockBehindCertificateIsRetried(t *testing.T) {
	// The node's clock is behind (no NTP yet at first boot): the server
	// certificate looks not yet valid. That is no sign of an impostor; the
	// agent retries and explains, and systemd restarts it after the deadline.
	srv := discoverytest.NewServer(t, discoverytest.Options{NotBefore: time.Now().Add(time.Hour)})
	n := joinNode(t, srv)
	n.wantExit(1, "--timeout", "20s")
	n.wantNothingWritten()
	n.wantLog("is expired or not yet valid at this node's clock")
	n.wantLog("check the node's time (NTP)")
	if srv.Requests() < 2 {
		t.Errorf("%d requests: want retries", srv.Requests())
	}
}

func TestOversizedBody(t *testing.T) {
	srv := discoverytest.NewServer(t, discoverytest.Options{})
	srv.Respond(func(i int, w http.ResponseWriter, r *http.Request) bool {
		w.Write(bytes.Repeat([]byte("x"), 2<<20))
		return true
	})
	n := joinNode(t, srv)
	n.wantExit(1, "--timeout", "20s")
	n.wantNothingWritten()
	n.wantLog("the answer is larger than 1024 KiB")
}

func TestStallingServer(t *testing.T) {
	srv := discoverytest.NewServer(t, discoverytest.Options{})
	srv.Respond(func(i int, w http.ResponseWriter, r *http.Request) bool {
		<-r.Context().Done() // never answers
		return true
	})
	n := joinNode(t, srv)
	n.opts.RequestTimeout = 200 * time.Millisecond
	start := time.Now()
	n.wantExit(1, "--timeout", "5s")
	n.wantNothingWritten()
	n.wantLog(srv.Endpoint() + ": no answer within 200ms")
	if el := time.Since(start); el > 20*time.Second {
		t.Errorf("took %v: the per-request timeout did not bound the stall", el)
	}
}

func TestStallingFirstEndpoint(t *testing.T) {
	stall := discoverytest.NewServer(t, discoverytest.Options{})
	stall.Respond(func(i int, w http.ResponseWriter, r *http.Request) bool {
		<-r.Context().Done()
		return true
	})
	srv := discoverytest.NewServer(t, discoverytest.Options{})
	n := newNode(t, []string{stall.Endpoint(), srv.Endpoint()}, []string{srv.CA.Pin()}, srv.Token)
	n.watch(stall, srv)
	n.opts.RequestTimeout = 200 * time.Millisecond
	n.wantExit(0)
	n.wantJoined(discoverytest.ServerInClusterInfo, srv.CA.PEM)
}

func TestAlreadyJoined(t *testing.T) {
	srv := discoverytest.NewServer(t, discoverytest.Options{})
	n := joinNode(t, srv)
	os.MkdirAll(filepath.Dir(n.path(n.cfg.Paths.KubeletKubeconfig)), 0o755)
	if err := os.WriteFile(n.path(n.cfg.Paths.KubeletKubeconfig), []byte("joined"), 0o600); err != nil {
		t.Fatal(err)
	}
	n.wantExit(0)
	n.wantLog("has joined its cluster already")
	if srv.Requests() != 0 {
		t.Errorf("%d requests, want none", srv.Requests())
	}
	if _, err := os.Stat(n.path(n.cfg.Paths.BootstrapKubeconfig)); err == nil {
		t.Error("the bootstrap kubeconfig was written")
	}
	// The join config (it holds the token) may be gone after the join.
	os.Remove(n.path(joinconfig.DefaultPath))
	n.wantExit(0)
	if srv.Requests() != 0 {
		t.Errorf("%d requests, want none", srv.Requests())
	}
}

func TestCheckWritesNothing(t *testing.T) {
	srv := discoverytest.NewServer(t, discoverytest.Options{})
	n := joinNode(t, srv)
	n.wantExit(0, "--check")
	n.wantNothingWritten()
	n.wantLog("--check: the kubelet would talk to " + discoverytest.ServerInClusterInfo + "; wrote nothing")
	if srv.Requests() != 1 {
		t.Errorf("%d requests, want 1", srv.Requests())
	}
	// --check verifies even on a joined node.
	os.MkdirAll(filepath.Dir(n.path(n.cfg.Paths.KubeletKubeconfig)), 0o755)
	os.WriteFile(n.path(n.cfg.Paths.KubeletKubeconfig), []byte("joined"), 0o600)
	n.wantExit(0, "--check")
	if srv.Requests() != 2 {
		t.Errorf("%d requests, want 2", srv.Requests())
	}
	// And reports failure.
	srv.Respond(func(int, http.ResponseWriter, *http.Request) bool { return false })
	n.cfg.CACertHashes = []string{discoverytest.NewCA(t, discoverytest.ECDSA).Pin()}
	n.rewriteConfig()
	n.wantExit(3, "--check", "--timeout", "10s")
}

func TestProxy(t *testing.T) {
	srv := discoverytest.NewServer(t, discoverytest.Options{})
	proxy := newConnectProxy(t, nil)
	n := joinNode(t, srv)
	n.opts.Proxy = func(*url.URL) (*url.URL, error) { return proxy.url, nil }
	n.wantExit(0)
	n.wantJoined(discoverytest.ServerInClusterInfo, srv.CA.PEM)
	n.wantLog("connecting to " + srv.Endpoint() + " through proxy http://" + proxy.url.Host)
	if got := proxy.connects(); got != 1 {
		t.Errorf("the proxy saw %d CONNECTs, want 1", got)
	}
	if strings.Count(n.stderr.String(), "through proxy") != 1 {
		t.Errorf("the proxy is logged more than once")
	}
	if strings.Contains(n.stderr.String(), "hunter2") || strings.Contains(n.stderr.String(), "proxyuser") {
		t.Errorf("the proxy user or password is logged")
	}
	if a := proxy.auths(); len(a) != 1 || a[0] != "Basic "+base64.StdEncoding.EncodeToString([]byte("proxyuser:hunter2")) {
		t.Errorf("the proxy got Proxy-Authorization %q", a)
	}
}

// Issue 18, item 2: an https:// proxy is verified on its own, against the
// system's roots or join.yaml's proxyCA, never against the cluster's
// pinned CAs (so it works at all), and never skipped (so its credentials
// go to no one else). Before, the first fetch skipped its verification and
// sent it the credentials; the second checked it against the pinned CAs
// and failed for ever, blaming the API server's certificate.
func TestHTTPSProxy(t *testing.T) {
	proxyCA := discoverytest.NewCA(t, discoverytest.ECDSA)
	t.Run("trusted through join.yaml", func(t *testing.T) {
		srv := discoverytest.NewServer(t, discoverytest.Options{})
		proxy := newConnectProxy(t, proxyCA)
		n := joinNode(t, srv)
		n.cfg.ProxyCA = string(proxyCA.PEM)
		n.rewriteConfig()
		n.opts.Proxy = func(*url.URL) (*url.URL, error) { return proxy.url, nil }
		n.wantExit(0)
		n.wantJoined(discoverytest.ServerInClusterInfo, srv.CA.PEM)
		n.wantLog("through proxy https://" + proxy.url.Host)
		if got := proxy.connects(); got != 1 {
			t.Errorf("the proxy saw %d CONNECTs, want 1", got)
		}
	})
	t.Run("not trusted", func(t *testing.T) {
		srv := discoverytest.NewServer(t, discoverytest.Options{})
		proxy := newConnectProxy(t, discoverytest.NewCA(t, discoverytest.ECDSA)) // an impostor proxy
		n := joinNode(t, srv)
		n.cfg.ProxyCA = string(proxyCA.PEM)
		n.rewriteConfig()
		n.opts.Proxy = func(*url.URL) (*url.URL, error) { return proxy.url, nil }
		n.wantExit(1, "--timeout", "10s")
		n.wantNothingWritten()
		n.wantLog("(HTTPS_PROXY) did not prove its identity")
		if a := proxy.auths(); len(a) != 0 || proxy.connects() != 0 {
			t.Errorf("an unverified proxy got %d CONNECTs with credentials %q", proxy.connects(), a)
		}
		if strings.Contains(n.stderr.String(), "API server certificate") {
			t.Errorf("the proxy's certificate is blamed on the API server")
		}
	})
}

type connectProxy struct {
	url  *url.URL
	mu   sync.Mutex
	n    int
	auth []string
}

func (p *connectProxy) connects() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

func (p *connectProxy) auths() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.auth...)
}

// newConnectProxy is a minimal proxy on loopback: it tunnels CONNECT
// requests. With ca, it is an https:// proxy serving a certificate from ca
// for 127.0.0.1.
func newConnectProxy(t *testing.T, ca *discoverytest.CA) *connectProxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	scheme := "http"
	if ca != nil {
		scheme = "https"
		l = tls.NewListener(l, &tls.Config{Certificates: []tls.Certificate{ca.ServerCert(t, "127.0.0.1")}})
	}
	t.Cleanup(func() { l.Close() })
	p := &connectProxy{url: &url.URL{Scheme: scheme, Host: l.Addr().String(), User: url.UserPassword("proxyuser", "hunter2")}}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				req, err := http.ReadRequest(br)
				if err != nil || req.Method != http.MethodConnect {
					return
				}
				p.mu.Lock()
				if a := req.Header.Get("Proxy-Authorization"); a != "" {
					p.auth = append(p.auth, a)
				}
				p.mu.Unlock()
				up, err := net.Dial("tcp", req.Host)
				if err != nil {
					fmt.Fprintf(c, "HTTP/1.1 502 Bad Gateway\r\n\r\n")
					return
				}
				defer up.Close()
				p.mu.Lock()
				p.n++
				p.mu.Unlock()
				fmt.Fprintf(c, "HTTP/1.1 200 Connection established\r\n\r\n")
				go io.Copy(up, br)
				io.Copy(c, up)
			}()
		}
	}()
	return p
}

func TestCARotationAnyCertMatchesAnyPin(t *testing.T) {
	// During a rotation the bundle holds the new and the old CA; the image
	// pinned the old one, listed second (kubeadm #2471 only counted the first).
	old := discoverytest.NewCA(t, discoverytest.RSA)
	srv := discoverytest.NewServer(t, discoverytest.Options{CA: old})
	next := discoverytest.NewCA(t, discoverytest.ECDSA)
	bundle := append(append([]byte{}, next.PEM...), old.PEM...)
	srv.Kubeconfig = discoverytest.Kubeconfig(t, "https://control-plane.example:6443", bundle)
	unrelated := discoverytest.NewCA(t, discoverytest.ECDSA)
	n := newNode(t, []string{srv.Endpoint()}, []string{unrelated.Pin(), old.Pin()}, srv.Token)
	n.watch(srv)
	n.wantExit(0)
	// Only the pinned CA is trusted and installed; the other is reported.
	n.wantJoined(discoverytest.ServerInClusterInfo, old.PEM)
	n.wantLog("also holds " + next.Pin() + " (CN=kubernetes), which no pin matches: not trusted, not installed")
	n.wantNowhere(next.PEM)

	// Pinning both, as the README says to during a rotation, installs both.
	os.Remove(n.path(n.cfg.Paths.BootstrapKubeconfig))
	n.cfg.CACertHashes = []string{next.Pin(), old.Pin()}
	n.rewriteConfig()
	n.wantExit(0)
	n.wantJoined(discoverytest.ServerInClusterInfo, bundle)
}

func TestIPv6Endpoint(t *testing.T) {
	l, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	}
	l.Close()
	srv := discoverytest.NewServer(t, discoverytest.Options{Hosts: []string{"::1"}, Listen: "[::1]:0"})
	n := joinNode(t, srv)
	n.wantExit(0)
	n.wantJoined(discoverytest.ServerInClusterInfo, srv.CA.PEM)
}

func TestBadConfig(t *testing.T) {
	srv := discoverytest.NewServer(t, discoverytest.Options{})
	for _, tc := range []struct {
		name   string
		change func(n *node)
		args   []string
		log    string
	}{
		{"unknown flag", nil, []string{"--frobnicate"}, "flag provided but not defined"},
		{"argument", nil, []string{"join"}, `unexpected argument "join"`},
		{"negative timeout", nil, []string{"--timeout", "-1s"}, "--timeout -1s"},
		{"missing config", nil, []string{"--config", "/etc/kubebake/nope.yaml"}, "nope.yaml: no such file"},
		{"not yaml", func(n *node) { n.writeConfig([]byte("endpoints: [")) }, nil, "not a valid JoinConfiguration"},
		{"no pins", func(n *node) {
			n.cfg.CACertHashes = nil
			y, _ := yaml.Marshal(n.cfg)
			n.writeConfig(y)
		}, nil, "caCertHashes: at least one CA pin is needed"},
		{"bad token", func(n *node) {
			n.cfg.Token = "abcdef." + srv.Token.Secret()[:15] // a secret with a typo
			n.secrets = append(n.secrets, srv.Token.Secret()[:15])
			y, _ := yaml.Marshal(n.cfg)
			n.writeConfig(y)
		}, nil, "token: not a bootstrap token"},
		// The decoders quote what they cannot decode; the token never shows.
		{"token as an int", func(n *node) {
			y, _ := yaml.Marshal(n.cfg)
			n.writeConfig([]byte(strings.Replace(string(y), "token: "+srv.Token.Value(), "token: !!int "+srv.Token.Value(), 1)))
		}, nil, "not a valid JoinConfiguration"},
		{"token as a key", func(n *node) {
			y, _ := yaml.Marshal(n.cfg)
			n.writeConfig(append(y, []byte(srv.Token.Value()+": 1\n")...))
		}, nil, "not a valid JoinConfiguration"},
		{"token in a list", func(n *node) {
			y, _ := yaml.Marshal(n.cfg)
			n.writeConfig([]byte(strings.Replace(string(y), "token: "+srv.Token.Value(), "token: ["+srv.Token.Value()+"]", 1)))
		}, nil, "not a valid JoinConfiguration"},
		{"secret as the timeout", func(n *node) {
			n.cfg.Timeout = srv.Token.Secret()
			y, _ := yaml.Marshal(n.cfg)
			n.writeConfig(y)
		}, nil, "timeout: \"<redacted>\" is not a positive duration"},
		{"bad server", func(n *node) {
			n.cfg.Server = "http://lb.example:6443"
			y, _ := yaml.Marshal(n.cfg)
			n.writeConfig(y)
		}, nil, "server: \"http://lb.example:6443\" is not cluster-info, discovered or an address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := joinNode(t, srv)
			if tc.change != nil {
				tc.change(n)
			}
			before := srv.Requests()
			n.wantExit(badConfig, tc.args...)
			n.wantLog(tc.log)
			n.wantNothingWritten()
			if srv.Requests() != before {
				t.Errorf("a bad config made %d requests", srv.Requests()-before)
			}
		})
	}
}

func (n *node) writeConfig(b []byte) {
	if err := os.WriteFile(n.path(joinconfig.DefaultPath), b, 0o600); err != nil {
		n.t.Fatal(err)
	}
}

func TestHelp(t *testing.T) {
	var out bytes.Buffer
	if code := run(context.Background(), []string{"--help"}, &out, discovery.Options{}); code != 0 {
		t.Errorf("--help: exit %d", code)
	}
	for _, f := range []string{"-config", "-root", "-timeout", "-check", "Exit status"} {
		if !strings.Contains(out.String(), f) {
			t.Errorf("--help lacks %q:\n%s", f, out.String())
		}
	}
}
