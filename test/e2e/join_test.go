package e2e

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kubebake/kubebake/internal/joinconfig"
	"github.com/kubebake/kubebake/internal/pin"
	"github.com/kubebake/kubebake/internal/token"
	"github.com/kubebake/kubebake/test/consumertest"
	"github.com/kubebake/kubebake/test/testcluster"
)

// shortTimeout is the discovery deadline the negative cases give
// kubebake-join: long enough for several attempts.
const shortTimeout = 12 * time.Second

// TestRenderedNodeJoins runs every scenario on one control plane.
func TestRenderedNodeJoins(t *testing.T) {
	testcluster.RequireSandbox(t)
	kubebake, fakecri := buildTools(t)
	testcluster.Bin(t, "kubelet")
	consumertest.Tools(t)

	c := testcluster.Start(t)
	// The cluster side is kubebake's own: each token's Secret, the
	// TLS-bootstrap bindings, cluster-info and its anonymous Role come from
	// `kubebake apply` (see newToken).
	newToken := func(t *testing.T) token.Token { return applyToken(t, kubebake, c) }

	t.Run("ignition", func(t *testing.T) {
		tok := newToken(t)
		root := ignitionNode(t, kubebake, c.Endpoint, c.CACertFile, tok)
		joinAndBootstrap(t, c, &node{root: root, hostname: "kubebake-e2e-ignition", tok: tok}, fakecri)
	})

	t.Run("ignition flatcar containerd", func(t *testing.T) {
		// Flatcar's layout: kubelet and agent under /opt/bin, Ignition 3.4.0.
		tok := newToken(t)
		root := ignitionNode(t, kubebake, c.Endpoint, c.CACertFile, tok, "--variant", "flatcar", "--runtime", "containerd")
		joinAndBootstrap(t, c, &node{root: root, hostname: "kubebake-e2e-flatcar", tok: tok}, fakecri)
	})

	t.Run("ignition with kubebake-join baked into the image", func(t *testing.T) {
		// The thin output for small user-data limits: the image ships the
		// agent (kubebake join-binary), the config only configures it.
		tok := newToken(t)
		root := ignitionImageNode(t, kubebake, c.Endpoint, c.CACertFile, tok, func(root string) {
			bin := filepath.Join(root, "usr/local/bin/kubebake-join")
			if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(kubebake, "join-binary", "-o", bin).CombinedOutput(); err != nil {
				t.Fatalf("kubebake join-binary: %v\n%s", err, out)
			}
		}, "--join-binary", "baked")
		joinAndBootstrap(t, c, &node{root: root, hostname: "kubebake-e2e-baked", tok: tok}, fakecri)
	})

	t.Run("golden image from the image part tar and the boot part", func(t *testing.T) {
		// The labels are the boot part's (the kubelet's flags file): the
		// Node must get them from it.
		tok := newToken(t)
		root := goldenNode(t, kubebake, c.Endpoint, c.CACertFile, tok, "--node-labels", "example.com/pool=golden,example.com/index=7")
		joinAndBootstrap(t, c, &node{root: root, hostname: "kubebake-e2e-golden", tok: tok,
			labels: map[string]string{"example.com/pool": "golden", "example.com/index": "7"}}, fakecri)
	})

	t.Run("golden image without the agent where the kubelet reads the token file", func(t *testing.T) {
		tok := newToken(t)
		root := goldenNode(t, kubebake, c.Endpoint, c.CACertFile, tok, "--join-binary", "none")
		noAgentBootstrap(t, c, &node{root: root, hostname: "kubebake-e2e-golden-none", tok: tok}, fakecri)
	})

	t.Run("cloud-init", func(t *testing.T) {
		tok := newToken(t)
		extra := []string{"--runtime", "containerd", "--node-labels", "example.com/pool=cloudinit"}
		userData := render(t, kubebake, c.Endpoint, c.CACertFile, tok, "cloud-init", extra...)
		plan := renderPlan(t, kubebake, c.Endpoint, c.CACertFile, tok, extra...)
		root := filepath.Join(t.TempDir(), "root")
		keepHostname(t)
		run := consumertest.ApplyCloudInit(t, mustRead(t, userData), root, func(root string) {
			for _, u := range plan.ImageUnits() {
				consumertest.StubUnit(t, root, u)
			}
		})
		// kubebake's start service (queued by bootcmd) asked systemd to start the join and left the
		// kubelet to it (the join's ExecStartPost); this test plays systemd.
		starts := startedUnits(run.Systemctl)
		if indexOf(starts, "kubebake-join.service") < 0 || indexOf(starts, "kubelet.service") >= 0 {
			t.Fatalf("cloud-init must start kubebake-join.service and leave the kubelet to it; it started %v", starts)
		}
		joinAndBootstrap(t, c, &node{root: root, hostname: "kubebake-e2e-cloudinit", tok: tok, labels: map[string]string{"example.com/pool": "cloudinit"}}, fakecri)
	})

	t.Run("pinned to another CA", func(t *testing.T) {
		tok := newToken(t)
		other := testcluster.NewCA(t, "not-this-cluster")
		otherFile := filepath.Join(t.TempDir(), "other-ca.crt")
		if err := os.WriteFile(otherFile, other.CertPEM, 0o644); err != nil {
			t.Fatal(err)
		}
		root := ignitionNode(t, kubebake, c.Endpoint, otherFile, tok)
		n := &node{root: root, hostname: "kubebake-e2e-wrong-ca", tok: tok}
		r := n.join(t, "--timeout", shortTimeout.String())
		// Signed with the token but for a CA no pin matches, until the
		// deadline: refused, final (the unit does not restart it).
		if r.code != 3 {
			t.Errorf("kubebake-join exited %d, want 3 (refused: cluster-info signed, CA not pinned)", r.code)
		}
		if !strings.Contains(r.stderr, "every endpoint served a cluster-info signed with the token whose CA matches no pin") {
			t.Errorf("kubebake-join should say every endpoint refused")
		}
		if !strings.Contains(r.stderr, c.CAPin()) || !strings.Contains(r.stderr, pin.Hash(other.Cert)) {
			t.Errorf("kubebake-join should name the cluster's CA pin %s and the pinned %s", c.CAPin(), pin.Hash(other.Cert))
		}
		assertNotJoined(t, c, n, r)
	})

	t.Run("unknown token", func(t *testing.T) {
		tok, err := token.Generate()
		if err != nil {
			t.Fatal(err)
		}
		root := ignitionNode(t, kubebake, c.Endpoint, c.CACertFile, tok)
		n := &node{root: root, hostname: "kubebake-e2e-unknown-token", tok: tok}
		r := assertRetriesUntilDeadline(t, n)
		assertNotJoined(t, c, n, r)
	})

	t.Run("token deleted after rendering", func(t *testing.T) {
		tok := newToken(t)
		root := ignitionNode(t, kubebake, c.Endpoint, c.CACertFile, tok)
		c.DeleteToken(t, tok.ID())
		took := c.WaitJWS(t, tok.ID(), false, 30*time.Second)
		t.Logf("the bootstrapsigner removed jws-kubeconfig-%s %v after the token was deleted", tok.ID(), took)
		n := &node{root: root, hostname: "kubebake-e2e-deleted-token", tok: tok}
		r := assertRetriesUntilDeadline(t, n)
		assertNotJoined(t, c, n, r)
	})
}

// applyToken makes a bootstrap token and prepares the cluster for it with
// `kubebake apply` (token Secret, bindings, cluster-info, anonymous Role),
// then waits for the bootstrapsigner to sign cluster-info with it, as it
// would have long before a node boots.
func applyToken(t *testing.T, kubebake string, c *testcluster.Cluster) token.Token {
	t.Helper()
	tok, err := token.Generate()
	if err != nil {
		t.Fatal(err)
	}
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(tok.Value()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"apply", "--kubeconfig", c.AdminKubeconfig, "--token-file", tokenFile, "--ca", c.CACertFile,
		"--api-server", c.Endpoint, "--ttl", "1h", "--description", "kubebake e2e"}
	out, err := exec.Command(kubebake, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("kubebake %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	if strings.Contains(string(out), tok.Secret()) {
		t.Errorf("kubebake apply printed the token secret")
	}
	t.Logf("kubebake apply:\n%s", out)
	took := c.WaitJWS(t, tok.ID(), true, 30*time.Second)
	t.Logf("token %s: cluster-info signed %v after kubebake apply", tok.ID(), took.Round(time.Millisecond))
	return tok
}

// joinAndBootstrap boots the node: kubebake-join verifies the cluster and
// installs the bootstrap kubeconfig, without ever using the token; then the
// kubelet TLS-bootstraps with it and its Node goes Ready.
func joinAndBootstrap(t *testing.T, c *testcluster.Cluster, n *node, fakecri string) {
	t.Helper()
	paths := joinconfig.DefaultPaths()
	n.kubeletRequiresJoin(t)
	if exists(filepath.Join(n.root, paths.BootstrapKubeconfig)) {
		t.Fatalf("%s exists before kubebake-join ran: the kubelet could send the token to an unverified server", paths.BootstrapKubeconfig)
	}

	r := n.join(t)
	if r.code != 0 {
		t.Fatalf("kubebake-join exited %d, want 0", r.code)
	}
	// The agent verified the cluster anonymously: no request carried the token.
	if ev := c.AuditEventsBy(t, "system:bootstrap:"+n.tok.ID()); len(ev) > 0 {
		t.Fatalf("requests authenticated with token %s before the kubelet started (kubebake-join must never send it):%s", n.tok.ID(), describe(ev))
	}
	// One anonymous GET an attempt, no second fetch: the agent verifies the
	// TLS session of its answer against the pinned CA (issue 21 item 4).
	attempts := 0
	if m := regexp.MustCompile(`verified after (\d+) attempt`).FindStringSubmatch(r.stderr); m != nil {
		attempts, _ = strconv.Atoi(m[1])
	}
	if anon := anonymousClusterInfoReads(t, c, r); attempts == 0 || anon != attempts {
		t.Errorf("the audit log has %d anonymous reads of cluster-info during kubebake-join, want one for each of its %d attempts", anon, attempts)
	}

	bootstrap := filepath.Join(n.root, paths.BootstrapKubeconfig)
	if m := fileMode(t, bootstrap); m != 0o600 {
		t.Errorf("%s has mode %o, want 0600 (it holds the token)", paths.BootstrapKubeconfig, m)
	}
	kc, err := testcluster.ParseKubeconfig(mustRead(t, bootstrap))
	if err != nil {
		t.Fatalf("%s: %v", paths.BootstrapKubeconfig, err)
	}
	if len(kc.Clusters) != 1 || kc.Clusters[0].Cluster.Server != c.Server() {
		t.Errorf("%s names servers %+v, want only %s", paths.BootstrapKubeconfig, kc.Clusters, c.Server())
	}
	if ca := mustRead(t, filepath.Join(n.root, paths.CACert)); string(ca) != string(c.CACertPEM) {
		t.Errorf("%s is not the cluster CA", paths.CACert)
	}

	kubeletStart := time.Now()
	k := n.startKubelet(t, fakecri)
	took := waitFile(t, n.root, paths.KubeletKubeconfig, 60*time.Second, k.proc.Done())
	t.Logf("TLS bootstrap: %s written %v after the kubelet started", paths.KubeletKubeconfig, took.Round(time.Millisecond))
	waitFile(t, n.root, "/var/lib/kubelet/pki/kubelet-client-current.pem", 10*time.Second, k.proc.Done())

	// The kubelet's client certificate is the cluster CA's, for this node.
	certPEM := readInRoot(t, n.root, "/var/lib/kubelet/pki/kubelet-client-current.pem")
	cert := firstCert(t, certPEM)
	wantCN := "system:node:" + n.hostname
	if cert.Subject.CommonName != wantCN || len(cert.Subject.Organization) != 1 || cert.Subject.Organization[0] != "system:nodes" {
		t.Errorf("kubelet client certificate is for %q %v, want %q [system:nodes]", cert.Subject.CommonName, cert.Subject.Organization, wantCN)
	}
	if err := cert.CheckSignatureFrom(c.CA.Cert); err != nil {
		t.Errorf("kubelet client certificate is not signed by the cluster CA: %v", err)
	}
	final, err := testcluster.ParseKubeconfig(mustRead(t, filepath.Join(n.root, paths.KubeletKubeconfig)))
	if err != nil || len(final.Clusters) != 1 || final.Clusters[0].Cluster.Server != c.Server() {
		t.Errorf("%s does not point at %s: %+v %v", paths.KubeletKubeconfig, c.Server(), final, err)
	}

	// Its CSR was made with the token, approved and signed by the controller-manager.
	var csr *testcluster.CSR
	for _, r := range c.CSRs(t) {
		if r.Spec.Username == "system:bootstrap:"+n.tok.ID() && r.Spec.SignerName == "kubernetes.io/kube-apiserver-client-kubelet" {
			csr = &r
		}
	}
	if csr == nil {
		t.Fatalf("no kubelet client CSR by system:bootstrap:%s", n.tok.ID())
	}
	if !csr.Approved() || len(csr.Status.Certificate) == 0 {
		t.Errorf("CSR %s: approved=%v, certificate %d bytes; want approved and signed", csr.Metadata.Name, csr.Approved(), len(csr.Status.Certificate))
	}
	withToken := c.AuditEventsBy(t, "system:bootstrap:"+n.tok.ID())
	if len(withToken) == 0 {
		t.Errorf("the audit log shows no request as system:bootstrap:%s although the kubelet bootstrapped with the token: the audit checks of this test would prove nothing", n.tok.ID())
	}
	for _, e := range withToken {
		if ts(t, e).Before(r.finish) {
			t.Errorf("request with token %s before kubebake-join had finished: %s %s", n.tok.ID(), e.Verb, e.RequestURI)
		}
	}

	node, took := c.WaitNodeReady(t, n.hostname, 90*time.Second, k.proc.Done())
	for k, v := range n.labels {
		if got, ok := node.Metadata.Labels[k]; !ok || got != v {
			t.Errorf("Node %s: label %s=%q, want %q (rendered --node-labels); its labels: %v", n.hostname, k, got, v, node.Metadata.Labels)
		}
	}
	logServingCSR(t, c, n.hostname)
	t.Logf("node %s Ready %v after the kubelet started (kubelet %s, runtime %s)", n.hostname, time.Since(kubeletStart).Round(time.Millisecond),
		node.Status.NodeInfo.KubeletVersion, node.Status.NodeInfo.ContainerRuntimeVersion)
	_ = took
}

// logServingCSR reports the kubelet's serving certificate request: with
// serverTLSBootstrap the kubelet asks for one, and nothing in a kubeadm-style
// cluster approves those, so kubectl logs/exec to the node need it approved.
func logServingCSR(t *testing.T, c *testcluster.Cluster, hostname string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		for _, r := range c.CSRs(t) {
			if r.Spec.Username == "system:node:"+hostname && r.Spec.SignerName == "kubernetes.io/kubelet-serving" {
				t.Logf("kubelet serving CSR %s: approved=%v", r.Metadata.Name, r.Approved())
				return
			}
		}
	}
	t.Logf("no kubelet serving CSR from %s within 5s of the node being Ready", hostname)
}

// assertRetriesUntilDeadline runs kubebake-join with a short deadline on a
// node whose token the cluster does not know: it must retry, say so plainly,
// and give up with the transient status 1 at the deadline.
func assertRetriesUntilDeadline(t *testing.T, n *node) joinResult {
	t.Helper()
	r := n.join(t, "--timeout", shortTimeout.String())
	if r.code != 1 {
		t.Errorf("kubebake-join exited %d, want 1 (transient: systemd retries it)", r.code)
	}
	if r.took() < shortTimeout-time.Second || r.took() > shortTimeout+10*time.Second {
		t.Errorf("kubebake-join gave up after %v, want about its --timeout %v", r.took(), shortTimeout)
	}
	want := "token " + n.tok.ID() + " is unknown to the cluster"
	if !strings.Contains(r.stderr, want) {
		t.Errorf("kubebake-join should say plainly %q", want)
	}
	if !strings.Contains(r.stderr, "attempt 2") {
		t.Errorf("kubebake-join should have retried (no \"attempt 2\" in its output)")
	}
	return r
}

// assertNotJoined checks that a failed join left no way for the kubelet to
// send the token, that systemd would not start the kubelet, and that no
// request ever carried the token, although kubebake-join did reach the
// cluster (anonymously).
func assertNotJoined(t *testing.T, c *testcluster.Cluster, n *node, r joinResult) {
	t.Helper()
	paths := joinconfig.DefaultPaths()
	for _, p := range []string{paths.BootstrapKubeconfig, paths.KubeletKubeconfig} {
		if exists(filepath.Join(n.root, p)) {
			t.Errorf("%s exists after a failed join", p)
		}
	}
	n.kubeletRequiresJoin(t)
	if anon := anonymousClusterInfoReads(t, c, r); anon == 0 {
		t.Errorf("the audit log shows no anonymous read of cluster-info while kubebake-join ran: it never reached the cluster, so the test proves nothing")
	}
	if ev := c.AuditEventsBy(t, "system:bootstrap:"+n.tok.ID()); len(ev) > 0 {
		t.Errorf("requests authenticated with token %s:%s", n.tok.ID(), describe(ev))
	}
}

// anonymousClusterInfoReads counts the anonymous GETs of cluster-info the
// API server received while kubebake-join ran.
func anonymousClusterInfoReads(t *testing.T, c *testcluster.Cluster, r joinResult) int {
	t.Helper()
	n := 0
	for _, e := range c.AuditEventsBy(t, "system:anonymous") {
		when := ts(t, e)
		if strings.HasPrefix(e.RequestURI, "/api/v1/namespaces/kube-public/configmaps/cluster-info") && !when.Before(r.start) && !when.After(r.finish) {
			n++
		}
	}
	return n
}

func ts(t *testing.T, e testcluster.AuditEvent) time.Time {
	t.Helper()
	when, err := time.Parse(time.RFC3339Nano, e.RequestReceivedTimestamp)
	if err != nil {
		t.Fatalf("audit event timestamp %q: %v", e.RequestReceivedTimestamp, err)
	}
	return when
}

func firstCert(t *testing.T, data []byte) *x509.Certificate {
	t.Helper()
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			t.Fatal("no CERTIFICATE PEM block")
		}
		if b.Type == "CERTIFICATE" {
			cert, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			return cert
		}
	}
}

// keepHostname puts the host's hostname back if it changes during the test:
// cloud-init's set_hostname runs `hostname` in consumertest's chroot, which
// shares the host's UTS namespace.
func keepHostname(t *testing.T) {
	t.Helper()
	before, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if now, _ := os.Hostname(); now != before {
			t.Logf("the host's hostname changed from %q to %q during the cloud-init run (set_hostname in a chroot that shares the host's UTS namespace); restoring it", before, now)
			if err := syscall.Sethostname([]byte(before)); err != nil {
				t.Errorf("restoring the hostname %q: %v", before, err)
			}
		}
	})
}

// startedUnits returns the units a recorded systemctl call list (re)started,
// in order.
func startedUnits(calls []string) []string {
	var units []string
	for _, call := range calls {
		f := strings.Fields(call)
		if len(f) >= 2 && (f[0] == "start" || f[0] == "restart") {
			units = append(units, f[1:]...)
		}
	}
	return units
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}
