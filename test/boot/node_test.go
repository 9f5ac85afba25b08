package boot

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kubebake/kubebake/embed"
	"github.com/kubebake/kubebake/internal/joinconfig"
	"github.com/kubebake/kubebake/internal/token"
	"github.com/kubebake/kubebake/test/boottest"
	"github.com/kubebake/kubebake/test/consumertest"
	"github.com/kubebake/kubebake/test/testcluster"
)

// slirpHost is where a qemu guest with user networking reaches the
// namespace's 127.0.0.1.
var slirpHost = net.ParseIP("10.0.2.2")

// Generous: under TCG on a loaded 2-core machine a boot to a joined node
// takes minutes (the figures are in `make bench`, not asserted here).
const (
	bootTimeout     = 20 * time.Minute
	poweroffTimeout = 5 * time.Minute
)

var built struct {
	once     sync.Once
	dir      string
	kubebake string
	err      error
}

// buildKubebake builds kubebake (with the agents of `make embed`) once.
func buildKubebake(t testing.TB) string {
	t.Helper()
	if _, err := embed.Load("amd64"); err != nil {
		testcluster.Missing(t, "kubebake cannot embed kubebake-join: "+err.Error(), "make embed")
	}
	root, err := testcluster.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "kubebake-boot-bin-"); built.err != nil {
			return
		}
		built.kubebake = filepath.Join(built.dir, "kubebake")
		cmd := exec.Command("go", "build", "-o", built.kubebake, "./cmd/kubebake")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "GOWORK=off", "CGO_ENABLED=0", "GOFLAGS=-mod=mod", "GOPROXY=off")
		if out, err := cmd.CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go build ./cmd/kubebake: %v\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.kubebake
}

// kb runs kubebake and returns its stdout; the token secret must never
// appear in what it prints.
func kb(t testing.TB, tok token.Token, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(buildKubebake(t), args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kubebake %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	if tok.Value() != "" && strings.Contains(stderr.String(), tok.Secret()) {
		t.Fatalf("kubebake %s printed the token secret", args[0])
	}
	return out
}

// node is one rendered node: its inputs and outputs.
type node struct {
	tok      token.Token
	ep       string // the endpoint the node is given, 10.0.2.2:PORT
	caFile   string
	hostname string
	config   string // the rendered config's path
	plan     *consumertest.Plan
}

// render renders the node's config in format with extra flags, and its plan.
func render(t testing.TB, tok token.Token, ep, caFile, hostname, format string, extra ...string) *node {
	t.Helper()
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(tok.Value()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	n := &node{tok: tok, ep: ep, caFile: caFile, hostname: hostname, config: filepath.Join(dir, "node."+format)}
	base := []string{"render", "--ca", caFile, "--token-file", tokenFile, "--api-server", ep}
	kb(t, tok, append(append(append([]string{}, base...), "--format", format, "-o", n.config), extra...)...)
	plan, err := consumertest.ParsePlan(kb(t, tok, append(append(append([]string{}, base...), "--format", "plan"), extra...)...))
	if err != nil {
		t.Fatal(err)
	}
	n.plan = plan
	if fi, err := os.Stat(n.config); err == nil {
		t.Logf("kubebake render --format %s %s: %d bytes", format, strings.Join(extra, " "), fi.Size())
	}
	return n
}

// tokenFiles are the files the plan writes the token to, and the bootstrap
// kubeconfig the agent installs.
func (n *node) tokenFiles() []string {
	files := []string{joinconfig.DefaultPaths().BootstrapKubeconfig}
	for _, f := range n.plan.Files {
		if f.Secret {
			files = append(files, f.Path)
		}
	}
	return files
}

// layer is the node's machine-specific files: the kubelet of setup-k8s at
// the path the units run it from, and the probe.
func (n *node) layer(t testing.TB) *boottest.Layer {
	t.Helper()
	l := boottest.NewLayer(t)
	l.Copy(testcluster.Bin(t, "kubelet"), "/usr/bin/kubelet", 0o755)
	l.AddProbe(n.tok.ID(), n.tokenFiles())
	return l
}

// applyToken prepares the cluster for tok with `kubebake apply`, naming the
// endpoint the node uses, and waits for cluster-info to be signed with it.
func applyToken(t testing.TB, c *testcluster.Cluster, tok token.Token, ep string) {
	t.Helper()
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(tok.Value()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	kb(t, tok, "apply", "--kubeconfig", c.AdminKubeconfig, "--token-file", tokenFile, "--ca", c.CACertFile,
		"--api-server", ep, "--ttl", "2h", "--description", "kubebake boot tier")
	c.WaitJWS(t, tok.ID(), true, time.Minute)
}

func newToken(t testing.TB) token.Token {
	t.Helper()
	tok, err := token.Generate()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func writeCA(t testing.TB, ca *testcluster.CA) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(f, ca.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// settled: the machine has finished starting (or failed), and the kubelet
// runs with its kubeconfig and the token scan is done.
func joined(s boottest.State) bool {
	return (s.Get("state") == "running" || s.Get("state") == "degraded") &&
		s.Get("kubelet.ActiveState") == "active" && s.Get("scan") == "done"
}

// assertJoinedState checks a machine that joined, as the probe saw it.
func assertJoinedState(t *testing.T, name string, s boottest.State) {
	t.Helper()
	if s.Get("state") != "running" || len(s.List("failed")) > 0 {
		t.Errorf("%s: systemctl is-system-running = %q, failed units %v; want running and none", name, s.Get("state"), s.List("failed"))
	}
	if s.Get("kubelet.ActiveState") != "active" {
		t.Errorf("%s: kubelet is %s", name, s.Get("kubelet.ActiveState"))
	}
	if len(s.List("tokenfiles")) > 0 || len(s.List("tokenscan")) > 0 {
		t.Errorf("%s: files still hold the token: plan's %v, found by scanning %v", name, s.List("tokenfiles"), s.List("tokenscan"))
	}
	// The node's own account (internal/status): status.json says joined,
	// Cluster API's sentinel holds success, no failure marker.
	if s.Get("jphase") != "joined" || s.Get("sentinel") != "success" || s.Get("failmark") != "no" {
		t.Errorf("%s: status.json phase %q, bootstrap-success.complete %q, failure marker %s; want joined, success, none", name, s.Get("jphase"), s.Get("sentinel"), s.Get("failmark"))
	}
	if cc := s.List("cloudcopies"); len(cc) > 0 {
		t.Logf("%s: cloud-init's own copies of the user-data hold the token (not kubebake's to remove; README): %v", name, cc)
	}
}

// assertRegistered checks the cluster side of a join: a node client CSR from
// system:bootstrap:<id>, approved and issued; the Node object; the token
// used only by the kubelet.
func assertRegistered(t *testing.T, c *testcluster.Cluster, n *node) {
	t.Helper()
	csrs := clientCSRs(t, c, n.tok)
	issued := 0
	for _, csr := range csrs {
		if csr.issued() {
			issued++
		}
	}
	if issued == 0 {
		t.Errorf("no node client CSR of system:bootstrap:%s was approved and issued (%d CSRs)", n.tok.ID(), len(csrs))
	}
	if !c.Get(t, "/api/v1/nodes/"+n.hostname, nil) {
		t.Errorf("Node %s is not registered", n.hostname)
	}
	for _, e := range c.AuditEventsBy(t, "system:bootstrap:"+n.tok.ID()) {
		if !strings.HasPrefix(e.UserAgent, "kubelet/") {
			t.Errorf("a request with the token came from %q, not the kubelet: %s %s", e.UserAgent, e.Verb, e.RequestURI)
		}
	}
}

type csr struct {
	Spec struct {
		Username   string `json:"username"`
		SignerName string `json:"signerName"`
	} `json:"spec"`
	Status struct {
		Certificate string `json:"certificate"`
		Conditions  []struct {
			Type string `json:"type"`
		} `json:"conditions"`
	} `json:"status"`
}

func (c csr) issued() bool {
	approved := false
	for _, cond := range c.Status.Conditions {
		approved = approved || cond.Type == "Approved"
	}
	return approved && c.Status.Certificate != ""
}

// clientCSRs are the node client CSRs the token's identity created.
func clientCSRs(t *testing.T, c *testcluster.Cluster, tok token.Token) []csr {
	t.Helper()
	var list struct {
		Items []csr `json:"items"`
	}
	c.Get(t, "/apis/certificates.k8s.io/v1/certificatesigningrequests", &list)
	var out []csr
	for _, i := range list.Items {
		if i.Spec.Username == "system:bootstrap:"+tok.ID() && i.Spec.SignerName == "kubernetes.io/kube-apiserver-client-kubelet" {
			out = append(out, i)
		}
	}
	return out
}

// nodeRegistered reports whether the Node exists, remembering when it was
// first seen.
func nodeRegistered(t *testing.T, c *testcluster.Cluster, name string, seen *time.Time) bool {
	t.Helper()
	if c == nil {
		return false
	}
	if seen.IsZero() && c.Get(t, "/api/v1/nodes/"+name, nil) {
		*seen = time.Now()
	}
	return !seen.IsZero()
}

// figure prints one boot figure in the form scripts/bench-boot.sh collects.
func figure(t *testing.T, scenario, name string, seconds float64) {
	t.Helper()
	t.Logf("BOOTFIGURE %s | %s | %s", scenario, name, boottest.Seconds(seconds))
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
