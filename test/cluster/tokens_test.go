package cluster

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubebake/kubebake/cluster"
	"github.com/kubebake/kubebake/internal/token"
	"github.com/kubebake/kubebake/test/testcluster"
)

// joinAs creates a kubelet client CSR for node as a node booted with tok
// does (the token as the bearer), and waits until the controller manager's
// csrapproving approved it: one join.
func (e *env) joinAs(tok token.Token, node string) {
	e.t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		e.t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: "system:node:" + node, Organization: []string{"system:nodes"}}}, key)
	if err != nil {
		e.t.Fatal(err)
	}
	name := "node-csr-" + node + "-" + tok.ID()
	body, _ := json.Marshal(map[string]any{
		"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
		"metadata": map[string]any{"name": name},
		"spec": map[string]any{
			"signerName": cluster.KubeletClientSigner,
			"usages":     []string{"digital signature", "client auth"},
			"request":    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}),
		},
	})
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(e.c.CACertPEM)
	hc := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	defer hc.CloseIdleConnections()
	req, _ := http.NewRequest(http.MethodPost, e.c.Server()+"/apis/certificates.k8s.io/v1/certificatesigningrequests", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok.Value())
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		e.t.Fatalf("creating CSR %s as system:bootstrap:%s: HTTP %d: %s", name, tok.ID(), resp.StatusCode, out)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		var csr struct {
			Spec   struct{ Username string }
			Status struct {
				Conditions []struct{ Type, Status string }
			}
		}
		e.c.Get(e.t, "/apis/certificates.k8s.io/v1/certificatesigningrequests/"+name, &csr)
		if csr.Spec.Username != "system:bootstrap:"+tok.ID() {
			e.t.Fatalf("CSR %s made by %q", name, csr.Spec.Username)
		}
		for _, c := range csr.Status.Conditions {
			if c.Type == "Approved" && c.Status == "True" {
				return
			}
			if c.Type == "Denied" || c.Type == "Failed" {
				e.t.Fatalf("CSR %s: %s", name, c.Type)
			}
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("CSR %s not approved within 60 s", name)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (e *env) tokenExists(id string) bool {
	return e.c.Get(e.t, "/api/v1/namespaces/kube-system/secrets/bootstrap-token-"+id, nil)
}

type listed struct {
	Tokens []cluster.TokenInfo `json:"tokens"`
}

func (e *env) tokenList() map[string]cluster.TokenInfo {
	e.t.Helper()
	stdout, stderr, code := e.run("token", "list", "--kubeconfig", e.c.AdminKubeconfig, "--format", "json")
	if code != 0 {
		e.t.Fatalf("token list: exit %d: %s", code, stderr)
	}
	var l listed
	if err := json.Unmarshal([]byte(stdout), &l); err != nil {
		e.t.Fatal(err)
	}
	m := map[string]cluster.TokenInfo{}
	for _, ti := range l.Tokens {
		m[ti.ID] = ti
	}
	return m
}

// TestTokenPrune: two pools of a nodes file with max-joins 2 and 3, joined
// by CSRs the real controller manager approves; token list counts the
// joins; prune --dry-run changes nothing; prune deletes the first pool's
// token and keeps the second's; a token made by kubeadm token create with
// more joins than any limit is never pruned; prune --watch deletes the
// second pool's token seconds after its third join.
func TestTokenPrune(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	poolB, err := token.Generate()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "b.token"), []byte(poolB.Value()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	nodes := filepath.Join(dir, "nodes.yaml")
	doc := fmt.Sprintf(`defaults:
  token-file: %s
  max-joins: 2
  description: pool a
nodes:
- name: a1
- name: a2
- name: b1
  token-file: b.token
  max-joins: 3
  description: pool b
`, e.tokenFile)
	if err := os.WriteFile(nodes, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	kc := []string{"--kubeconfig", e.c.AdminKubeconfig}
	if _, stderr, code := e.run(append([]string{"apply", "--ca", e.c.CACertFile, "--api-server", e.c.Endpoint, "--nodes", nodes}, kc...)...); code != 0 {
		t.Fatalf("apply --nodes: exit %d: %s", code, stderr)
	}

	// kubeadm's own token, with more joins than any limit.
	out, err := exec.Command(testcluster.Bin(t, "kubeadm"), "token", "create", "--kubeconfig", e.c.AdminKubeconfig).Output()
	if err != nil {
		t.Fatalf("kubeadm token create: %v", err)
	}
	kadm, err := token.Parse(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("kubeadm token create printed no token: %v", err)
	}
	a := e.tok
	e.joinAs(a, "a1")
	e.joinAs(a, "a2")
	e.joinAs(poolB, "b1")
	e.joinAs(poolB, "b2")
	for i := range 4 {
		e.joinAs(kadm, fmt.Sprintf("k%d", i))
	}

	l := e.tokenList()
	for id, want := range map[string]struct {
		joins, max int
		kubebake   bool
		desc       string
	}{a.ID(): {2, 2, true, "pool a"}, poolB.ID(): {2, 3, true, "pool b"}, kadm.ID(): {4, 0, false, ""}} {
		ti, ok := l[id]
		if !ok || ti.Joins != want.joins || ti.MaxJoins != want.max || ti.Kubebake != want.kubebake || (want.desc != "" && ti.Description != want.desc) || ti.LastJoin == nil {
			t.Errorf("token list: %s: %+v, want joins %d, max-joins %d, kubebake %v, %q", id, ti, want.joins, want.max, want.kubebake, want.desc)
		}
	}
	text, _, _ := e.run("token", "list", "--kubeconfig", e.c.AdminKubeconfig)
	t.Logf("kubebake token list:\n%s", text)
	if strings.Contains(text, kadm.Secret()) || strings.Contains(text, poolB.Secret()) {
		t.Error("token list printed a secret")
	}

	// check: pool a reached its limit: a warning, not a failure. (Text:
	// check --nodes --format json trips over render's --format, cli's.)
	stdout, stderr, code := e.run(append([]string{"check", "--ca", e.c.CACertFile, "--api-server", e.c.Endpoint, "--nodes", nodes, "--min-ttl", "1h"}, kc...)...)
	if !strings.Contains(stdout, "! token-joins: 2 nodes joined with token "+a.ID()) || !strings.Contains(stdout, "its max-joins 2 is reached") ||
		!strings.Contains(stdout, "✓ token-joins: 2 nodes joined with token "+poolB.ID()) {
		t.Errorf("check does not report the joins, warning about pool a's (exit %d):\n%s\n%s", code, stdout, stderr)
	}

	prune := func(extra ...string) []cluster.Decision {
		t.Helper()
		stdout, stderr, code := e.run(append(append([]string{"token", "prune", "--format", "json"}, kc...), extra...)...)
		if code != 0 {
			t.Fatalf("token prune %v: exit %d: %s", extra, code, stderr)
		}
		var r struct{ Decisions []cluster.Decision }
		if err := json.Unmarshal([]byte(stdout), &r); err != nil {
			t.Fatal(err)
		}
		return r.Decisions
	}
	verdicts := func(ds []cluster.Decision) map[string]cluster.Verdict {
		m := map[string]cluster.Verdict{}
		for _, d := range ds {
			m[d.ID] = d.Verdict
			t.Logf("%s", d)
		}
		return m
	}
	v := verdicts(prune("--dry-run"))
	if v[a.ID()] != cluster.WouldDelete || v[poolB.ID()] != cluster.Kept || v[kadm.ID()] != cluster.Kept {
		t.Errorf("prune --dry-run: %v", v)
	}
	if !e.tokenExists(a.ID()) {
		t.Fatal("prune --dry-run deleted pool a's token")
	}
	v = verdicts(prune())
	if v[a.ID()] != cluster.Deleted || v[poolB.ID()] != cluster.Kept || v[kadm.ID()] != cluster.Kept {
		t.Errorf("prune: %v", v)
	}
	if e.tokenExists(a.ID()) || !e.tokenExists(poolB.ID()) || !e.tokenExists(kadm.ID()) {
		t.Fatalf("after prune: pool a %v, pool b %v, kubeadm's %v; want only pool a's gone", e.tokenExists(a.ID()), e.tokenExists(poolB.ID()), e.tokenExists(kadm.ID()))
	}

	// --watch, with no more rights than manifests --pruner-image grants
	// its ServiceAccount: pool b's third join gets its token deleted
	// within seconds.
	pruner, stderr, code := e.run("manifests", "--pruner-image", "example.com/kubebake:test")
	if code != 0 {
		t.Fatalf("manifests --pruner-image: exit %d: %s", code, stderr)
	}
	if out, err := e.c.KubectlStdin([]byte(pruner), "apply", "-f", "-"); err != nil {
		t.Fatalf("kubectl apply -f the pruner's manifests: %v\n%s", err, out)
	}
	saToken := strings.TrimSpace(e.c.Kubectl(t, "-n", "kube-system", "create", "token", cluster.PrunerName))
	saKubeconfig := filepath.Join(dir, "pruner.conf")
	if err := os.WriteFile(saKubeconfig, []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: %q, certificate-authority: %q}
users:
- name: pruner
  user: {token: %q}
contexts:
- name: c
  context: {cluster: c, user: pruner}
current-context: c
`, e.c.Server(), e.c.CACertFile, saToken)), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := exec.CommandContext(ctx, kubebakeBin(t), "token", "prune", "--watch", "--kubeconfig", saKubeconfig)
	w.Env = append(os.Environ(), "KUBECONFIG=/nonexistent")
	var wout, werr bytes.Buffer
	w.Stdout, w.Stderr = &wout, &werr
	w.Cancel = func() error { return w.Process.Signal(os.Interrupt) }
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cancel()
		w.Wait()
		t.Logf("prune --watch printed:\n%s%s", wout.String(), werr.String())
	}()
	time.Sleep(2 * time.Second) // its first list, and the watch, are under way
	created := time.Now()
	e.joinAs(poolB, "b3") // returns once the CSR is approved
	approved := time.Since(created)
	for e.tokenExists(poolB.ID()) {
		if time.Since(created) > 30*time.Second {
			t.Fatalf("prune --watch: pool b's token still exists 30 s after its third join's CSR was made")
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("prune --watch: pool b's token gone %.1f s after its third join's CSR was made (approved within %.1f s; the test polls every 0.2 s)", time.Since(created).Seconds(), approved.Seconds())
	if !e.tokenExists(kadm.ID()) {
		t.Error("prune --watch deleted kubeadm's token")
	}
	// delete names any token, kubeadm's too.
	if _, stderr, code := e.run(append([]string{"token", "delete", kadm.ID()}, kc...)...); code != 0 || e.tokenExists(kadm.ID()) {
		t.Errorf("token delete %s: exit %d: %s", kadm.ID(), code, stderr)
	}
}
