package cluster

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/cluster-bootstrap/token/jws"
)

// testServer is an API server stand-in for the endpoint checks: TLS with a
// certificate for 127.0.0.1 only, signed by a fresh CA, serving cluster-info
// from a fake clientset to requests without credentials.
type testServer struct {
	ca       *CABundle
	endpoint string // 127.0.0.1:port
	cs       *fake.Clientset
	// redirect, when set, answers cluster-info with a redirect to the same
	// path (which then serves it), as a proxy or load balancer might.
	redirect bool
}

func newTestServer(t *testing.T) *testServer {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "kube-apiserver"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"kubernetes"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{cs: fake.NewClientset()}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			t.Errorf("the check sent credentials to %s", r.URL)
		}
		if r.URL.Path != "/api/v1/namespaces/kube-public/configmaps/cluster-info" {
			http.NotFound(w, r)
			return
		}
		if ts.redirect && r.URL.RawQuery == "" {
			http.Redirect(w, r, r.URL.Path+"?redirected=1", http.StatusFound)
			return
		}
		cm, err := ts.cs.CoreV1().ConfigMaps("kube-public").Get(r.Context(), "cluster-info", metav1.GetOptions{})
		if err != nil {
			http.NotFound(w, r)
			return
		}
		cm.APIVersion, cm.Kind = "v1", "ConfigMap"
		json.NewEncoder(w).Encode(cm)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{leafDER}, PrivateKey: key}}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	ts.endpoint = srv.Listener.Addr().String()
	ts.ca = &CABundle{PEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), Certs: []*x509.Certificate{caCert}}
	return ts
}

// prepare applies the objects of spec and signs cluster-info as the
// bootstrapsigner would (with k8s.io/cluster-bootstrap's own signer).
func (ts *testServer) prepare(t *testing.T, spec Spec, sign bool) {
	t.Helper()
	objs, err := Build(spec)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := Apply(ctx, fakeAPI{ts.cs}, objs.List(), ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	if sign {
		signClusterInfo(t, ts.cs, spec.Token.ID(), spec.Token.Secret())
	}
}

func signClusterInfo(t *testing.T, cs kubernetes.Interface, id, secret string) {
	t.Helper()
	ctx := context.Background()
	cm, err := cs.CoreV1().ConfigMaps("kube-public").Get(ctx, "cluster-info", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sig, err := jws.ComputeDetachedSignature(cm.Data["kubeconfig"], id, secret)
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["jws-kubeconfig-"+id] = sig
	if _, err := cs.CoreV1().ConfigMaps("kube-public").Update(ctx, cm, metav1.UpdateOptions{FieldManager: "bootstrapsigner"}); err != nil {
		t.Fatal(err)
	}
}

func (ts *testServer) spec(t *testing.T) Spec {
	return Spec{Token: mustToken(t), CA: ts.ca, Endpoints: []string{ts.endpoint}, Expires: time.Now().Add(30 * 24 * time.Hour)}
}

func (ts *testServer) check(t *testing.T, s Spec, eps ...string) *Report {
	t.Helper()
	if eps == nil {
		eps = s.Endpoints
	}
	return Check(context.Background(), fakeAPI{ts.cs}, CheckSpec{Token: s.Token, CA: s.CA, Endpoints: eps, MinTTL: 7 * 24 * time.Hour, Timeout: 5 * time.Second})
}

// failed returns the IDs of the checks with status st.
func withStatus(r *Report, st Status) []string {
	var out []string
	for _, c := range r.Checks {
		if c.Status == st {
			out = append(out, c.ID)
		}
	}
	return out
}

func find(r *Report, id string) Result {
	for _, c := range r.Checks {
		if c.ID == id {
			return c
		}
	}
	return Result{}
}

func TestCheckPasses(t *testing.T) {
	ts := newTestServer(t)
	s := ts.spec(t)
	ts.prepare(t, s, true)
	r := ts.check(t, s)
	if !r.OK || len(withStatus(r, Pass)) != len(r.Checks) {
		for _, c := range r.Checks {
			t.Logf("%s %s: %s", c.Status, c.ID, c.Message)
		}
		t.Fatal("check failed on a prepared cluster")
	}
	for _, id := range []string{CheckTokenSecret, CheckTokenExpiry, CheckClusterInfoSigned, CheckClusterInfoCA, CheckServerCertificate, CheckAnonymousGet, CheckNodeDiscovery} {
		if find(r, id).Status != Pass {
			t.Errorf("check %s missing from the report", id)
		}
	}
	out, _ := json.Marshal(r)
	if strings.Contains(string(out), s.Token.Secret()) {
		t.Error("the report holds the token secret")
	}
}

// The anonymous GET is the agent's own fetch: an endpoint that redirects
// cluster-info fails it, because kubebake-join never follows a redirect.
// (check's own http.Client followed it and passed.)
func TestCheckAnonymousGetIsTheAgents(t *testing.T) {
	ts := newTestServer(t)
	s := ts.spec(t)
	ts.prepare(t, s, true)
	ts.redirect = true
	r := ts.check(t, s)
	if c := find(r, CheckAnonymousGet); c.Status != Fail || !strings.Contains(c.Message, "302 Found") {
		t.Errorf("anonymous-get: %s: %s; want a failure naming the redirect", c.Status, c.Message)
	}
	if c := find(r, CheckNodeDiscovery); c.Status != Skip {
		t.Errorf("node-discovery: %s: %s; want skipped", c.Status, c.Message)
	}
}

func TestCheckEmptyCluster(t *testing.T) {
	ts := newTestServer(t)
	s := ts.spec(t)
	r := ts.check(t, s)
	if r.OK {
		t.Fatal("check passed on an empty cluster")
	}
	for _, id := range []string{CheckTokenSecret, CheckClusterInfo, CheckAnonymousGet} {
		if c := find(r, id); c.Status != Fail || c.Fix == "" {
			t.Errorf("%s: %s, fix %q; want a failure with a fix", id, c.Status, c.Fix)
		}
	}
}

func TestCheckMissingBinding(t *testing.T) {
	ts := newTestServer(t)
	s := ts.spec(t)
	ts.prepare(t, s, true)
	if err := ts.cs.RbacV1().ClusterRoleBindings().Delete(context.Background(), Bindings[1].Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	r := ts.check(t, s)
	if got := withStatus(r, Fail); len(got) != 1 || got[0] != BindingCheckID(Bindings[1]) {
		t.Fatalf("failed checks %v, want only %s", got, BindingCheckID(Bindings[1]))
	}
	c := find(r, BindingCheckID(Bindings[1]))
	if !strings.Contains(c.Message, RoleNodeClient) || !strings.Contains(c.Fix, "kubectl create clusterrolebinding") {
		t.Errorf("message %q fix %q", c.Message, c.Fix)
	}
}

func TestCheckExpiringToken(t *testing.T) {
	ts := newTestServer(t)
	s := ts.spec(t)
	s.Expires = time.Now().Add(time.Hour)
	ts.prepare(t, s, true)
	r := ts.check(t, s)
	if got := withStatus(r, Fail); len(got) != 1 || got[0] != CheckTokenExpiry {
		t.Fatalf("failed checks %v, want only %s", got, CheckTokenExpiry)
	}
	if c := find(r, CheckTokenExpiry); !strings.Contains(c.Message, "--min-ttl") {
		t.Errorf("message %q does not name --min-ttl", c.Message)
	}
}

func TestCheckUnsignedAndWrongSecret(t *testing.T) {
	ts := newTestServer(t)
	s := ts.spec(t)
	ts.prepare(t, s, false)
	r := ts.check(t, s)
	if c := find(r, CheckClusterInfoSigned); c.Status != Fail || !strings.Contains(c.Fix, "bootstrapsigner") {
		t.Errorf("unsigned cluster-info: %+v", c)
	}
	if c := find(r, CheckNodeDiscovery); c.Status != Skip {
		t.Errorf("node discovery without a signature: %+v", c)
	}

	// Signed with another secret for the same id: the Secret and the
	// signature both disagree with our token.
	signClusterInfo(t, ts.cs, s.Token.ID(), "ffffffffffffffff")
	sec, _ := ts.cs.CoreV1().Secrets("kube-system").Get(context.Background(), TokenSecretName(s.Token.ID()), metav1.GetOptions{})
	sec.Data["token-secret"] = []byte("ffffffffffffffff")
	ts.cs.CoreV1().Secrets("kube-system").Update(context.Background(), sec, metav1.UpdateOptions{})
	r = ts.check(t, s)
	for _, id := range []string{CheckTokenSecret, CheckClusterInfoSigned} {
		if c := find(r, id); c.Status != Fail {
			t.Errorf("%s with another secret: %+v", id, c)
		}
		// Issue 18: the fix is one that works: apply refuses to give an
		// existing token another secret (SecretChangedError), so the advice
		// is to delete the Secret first (a rotation), never "apply this one".
		c := find(r, id)
		if strings.Contains(c.Fix, "apply this one") || !strings.Contains(c.Fix, "kubectl -n kube-system delete secret "+TokenSecretName(s.Token.ID())) {
			t.Errorf("%s fix %q: advice apply refuses", id, c.Fix)
		}
	}
}

// Issue 18: a token Secret being deleted (deletionTimestamp set, a
// finalizer holding it) is ignored by the bootstrap token authenticator:
// check fails it rather than pass a token no node can use.
func TestCheckTokenBeingDeleted(t *testing.T) {
	ts := newTestServer(t)
	s := ts.spec(t)
	ts.prepare(t, s, true)
	ctx := context.Background()
	sec, _ := ts.cs.CoreV1().Secrets("kube-system").Get(ctx, TokenSecretName(s.Token.ID()), metav1.GetOptions{})
	now := metav1.Now()
	sec.DeletionTimestamp, sec.Finalizers = &now, []string{"example.com/hold"}
	if _, err := ts.cs.CoreV1().Secrets("kube-system").Update(ctx, sec, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	r := ts.check(t, s)
	c := find(r, CheckTokenSecret)
	if r.OK || c.Status != Fail || !strings.Contains(c.Message, "being deleted") || !strings.Contains(c.Fix, "example.com/hold") {
		t.Errorf("a token Secret being deleted: ok %v, %+v", r.OK, c)
	}
}

func TestCheckCertificateName(t *testing.T) {
	ts := newTestServer(t)
	s := ts.spec(t)
	ts.prepare(t, s, true)
	_, port, _ := net.SplitHostPort(ts.endpoint)
	other := net.JoinHostPort("localhost", port)
	r := ts.check(t, s, ts.endpoint, other)
	var certs []Result
	for _, c := range r.Checks {
		if c.ID == CheckServerCertificate {
			certs = append(certs, c)
		}
	}
	if len(certs) != 2 || certs[0].Status != Pass || certs[1].Status != Fail || certs[1].Endpoint != other {
		t.Fatalf("certificate checks %+v", certs)
	}
	if !strings.Contains(certs[1].Message, `"localhost"`) || !strings.Contains(certs[1].Message, "127.0.0.1") {
		t.Errorf("message %q should name the missing name and the ones the certificate has", certs[1].Message)
	}

	// Another CA: nothing verifies, and cluster-info's CA matches no pin.
	other2 := newTestServer(t)
	s.CA = other2.ca
	r = ts.check(t, s)
	for _, id := range []string{CheckClusterInfoCA, CheckServerCertificate} {
		if c := find(r, id); c.Status != Fail {
			t.Errorf("%s with another CA: %+v", id, c)
		}
	}
}
