// Package discoverytest runs fake API servers for discovery tests: TLS
// httptest servers publishing kube-public/cluster-info signed by the
// reference implementation, k8s.io/cluster-bootstrap/token/jws. Only tests
// import it.
package discoverytest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/kubebake/kubebake/internal/discovery"
	"github.com/kubebake/kubebake/internal/joinconfig"
	"github.com/kubebake/kubebake/internal/kubeconfig"
	"github.com/kubebake/kubebake/internal/pin"
	"github.com/kubebake/kubebake/internal/token"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/cluster-bootstrap/token/jws"
	"sigs.k8s.io/yaml"
)

// KeyType is a CA key algorithm.
type KeyType string

const (
	RSA   KeyType = "rsa"
	ECDSA KeyType = "ecdsa"
)

// CA is a self-signed cluster CA.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
	PEM  []byte
}

func newKey(t testing.TB, kt KeyType) crypto.Signer {
	t.Helper()
	var k crypto.Signer
	var err error
	switch kt {
	case RSA:
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	case ECDSA, "":
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		t.Fatalf("unknown key type %q", kt)
	}
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var serial struct {
	sync.Mutex
	n int64
}

func nextSerial() *big.Int {
	serial.Lock()
	defer serial.Unlock()
	serial.n++
	return big.NewInt(serial.n)
}

// NewCA makes a CA like kubeadm's ("kubernetes", 10 years).
func NewCA(t testing.TB, kt KeyType) *CA {
	t.Helper()
	return NewCANamed(t, kt, "kubernetes")
}

// NewCANamed is NewCA with the common name cn (which may be anything a
// certificate can hold: a line break, for log forgery tests).
func NewCANamed(t testing.TB, kt KeyType, cn string) *CA {
	t.Helper()
	return newCA(t, kt, cn, time.Now().Add(-time.Hour))
}

// NewCASince is NewCA valid from notBefore (for ten years): older than
// the server certificates it issues, as real CAs are.
func NewCASince(t testing.TB, kt KeyType, notBefore time.Time) *CA {
	t.Helper()
	return newCA(t, kt, "kubernetes", notBefore)
}

func newCA(t testing.TB, kt KeyType, cn string, notBefore time.Time) *CA {
	t.Helper()
	key := newKey(t, kt)
	tmpl := &x509.Certificate{
		SerialNumber:          nextSerial(),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             notBefore,
		NotAfter:              notBefore.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &CA{Cert: cert, Key: key, PEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// Pin is the CA's sha256 SPKI pin.
func (ca *CA) Pin() string { return pin.Hash(ca.Cert) }

// ServerCert issues an API server certificate for hosts (IP addresses or
// DNS names), valid from an hour ago for a year.
func (ca *CA) ServerCert(t testing.TB, hosts ...string) tls.Certificate {
	return ca.serverCert(t, time.Now().Add(-time.Hour), nil, hosts...)
}

func (ca *CA) serverCert(t testing.TB, notBefore time.Time, eku []x509.ExtKeyUsage, hosts ...string) tls.Certificate {
	if eku == nil {
		eku = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	t.Helper()
	key := newKey(t, ECDSA)
	tmpl := &x509.Certificate{
		SerialNumber: nextSerial(),
		Subject:      pkix.Name{CommonName: "kube-apiserver"},
		NotBefore:    notBefore,
		NotAfter:     notBefore.Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  eku,
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// Kubeconfig is the kubeconfig kubeadm publishes in cluster-info: one
// unnamed cluster, no users.
func Kubeconfig(t testing.TB, server string, caPEM []byte) string {
	t.Helper()
	type cluster struct {
		Server string `json:"server"`
		CAData []byte `json:"certificate-authority-data"`
	}
	type named struct {
		Name    string  `json:"name"`
		Cluster cluster `json:"cluster"`
	}
	out, err := yaml.Marshal(struct {
		APIVersion     string         `json:"apiVersion"`
		Kind           string         `json:"kind"`
		Clusters       []named        `json:"clusters"`
		Contexts       []any          `json:"contexts"`
		CurrentContext string         `json:"current-context"`
		Preferences    map[string]any `json:"preferences"`
		Users          []any          `json:"users"`
	}{
		APIVersion:  "v1",
		Kind:        "Config",
		Clusters:    []named{{Cluster: cluster{Server: server, CAData: caPEM}}},
		Preferences: map[string]any{},
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// Sign is the bootstrapsigner's detached JWS of kubeconfig for tok, made by
// the reference implementation.
func Sign(t testing.TB, kubeconfig string, tok token.Token) string {
	t.Helper()
	s, err := jws.ComputeDetachedSignature(kubeconfig, tok.ID(), tok.Secret())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// ClusterInfo is the API server's JSON for the cluster-info ConfigMap.
func ClusterInfo(t testing.TB, kubeconfig string, sigs map[string]string) []byte {
	t.Helper()
	data := map[string]string{"kubeconfig": kubeconfig}
	for id, s := range sigs {
		data["jws-kubeconfig-"+id] = s
	}
	out, err := json.Marshal(map[string]any{
		"kind":       "ConfigMap",
		"apiVersion": "v1",
		"metadata":   map[string]any{"name": "cluster-info", "namespace": "kube-public", "resourceVersion": "312"},
		"data":       data,
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// ServerInClusterInfo is the server a fake API server's cluster-info names.
const ServerInClusterInfo = "https://control-plane.example:6443"

// Server is a fake API server serving cluster-info.
type Server struct {
	*httptest.Server
	CA    *CA
	Token token.Token
	// Kubeconfig is the cluster-info payload; its server is ServerInClusterInfo,
	// deliberately not this server's address, so that tests see which
	// server the agent chose.
	Kubeconfig string

	mu         sync.Mutex
	requests   int
	conns      int
	handshakes int
	auth       []string
	respond    func(n int, w http.ResponseWriter, r *http.Request) bool
}

// Options configure NewServer.
type Options struct {
	CA *CA // nil: a new ECDSA CA
	// Hosts are the server certificate's SANs; nil means 127.0.0.1 and localhost.
	Hosts []string
	// Token is the token cluster-info is signed for; zero means a new one.
	Token token.Token
	// Listen is the address to listen on; empty means 127.0.0.1:0.
	Listen string
	// NotBefore starts the server certificate's validity (a year long);
	// zero means an hour ago.
	NotBefore time.Time
	// ExtKeyUsage is the server certificate's; nil means server auth.
	ExtKeyUsage []x509.ExtKeyUsage
}

// NewServer starts a fake API server on 127.0.0.1.
func NewServer(t testing.TB, o Options) *Server {
	t.Helper()
	if o.CA == nil {
		o.CA = NewCA(t, ECDSA)
	}
	if o.Hosts == nil {
		o.Hosts = []string{"127.0.0.1", "localhost"}
	}
	if o.Token.IsZero() {
		tok, err := token.Generate()
		if err != nil {
			t.Fatal(err)
		}
		o.Token = tok
	}
	s := &Server{CA: o.CA, Token: o.Token, Kubeconfig: Kubeconfig(t, ServerInClusterInfo, o.CA.PEM)}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	if o.NotBefore.IsZero() {
		o.NotBefore = time.Now().Add(-time.Hour)
	}
	s.Server.TLS = &tls.Config{
		Certificates: []tls.Certificate{o.CA.serverCert(t, o.NotBefore, o.ExtKeyUsage, o.Hosts...)},
		// Every full handshake the server completes (a resumed one would
		// not run this).
		VerifyConnection: func(cs tls.ConnectionState) error {
			if !cs.DidResume {
				s.mu.Lock()
				s.handshakes++
				s.mu.Unlock()
			}
			return nil
		},
	}
	s.Server.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.mu.Lock()
			s.conns++
			s.mu.Unlock()
		}
	}
	s.Server.Config.ErrorLog = log.New(io.Discard, "", 0)
	if o.Listen != "" {
		l, err := net.Listen("tcp", o.Listen)
		if err != nil {
			t.Fatal(err)
		}
		s.Server.Listener.Close()
		s.Server.Listener = l
	}
	s.Server.StartTLS()
	t.Cleanup(s.Close)
	return s
}

// Respond installs a handler for the n-th request (1-based); it returns
// false to let the server give its normal answer.
func (s *Server) Respond(f func(n int, w http.ResponseWriter, r *http.Request) bool) {
	s.mu.Lock()
	s.respond = f
	s.mu.Unlock()
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	n := s.requests
	if h := r.Header.Values("Authorization"); len(h) > 0 {
		s.auth = append(s.auth, r.URL.Path)
	}
	f := s.respond
	s.mu.Unlock()
	if f != nil && f(n, w, r) {
		return
	}
	if r.URL.Path != discovery.ClusterInfoPath || r.Method != http.MethodGet {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(s.ClusterInfo(true))
}

// ClusterInfo is the server's cluster-info JSON, with or without the token's
// signature.
func (s *Server) ClusterInfo(signed bool) []byte {
	sigs := map[string]string{}
	if signed {
		sig, err := jws.ComputeDetachedSignature(s.Kubeconfig, s.Token.ID(), s.Token.Secret())
		if err != nil {
			panic(err)
		}
		sigs[s.Token.ID()] = sig
	}
	data := map[string]string{"kubeconfig": s.Kubeconfig}
	for id, sig := range sigs {
		data["jws-kubeconfig-"+id] = sig
	}
	out, _ := json.Marshal(map[string]any{
		"kind": "ConfigMap", "apiVersion": "v1",
		"metadata": map[string]any{"name": "cluster-info", "namespace": "kube-public"},
		"data":     data,
	})
	return out
}

// Endpoint is the server's "host:port".
func (s *Server) Endpoint() string { return s.Listener.Addr().String() }

// Requests counts the requests served.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Connections counts the TCP connections the server accepted.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

// Handshakes counts the full TLS handshakes the server completed.
func (s *Server) Handshakes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.handshakes
}

// AuthorizationSent lists the paths of requests that carried an
// Authorization header. Discovery must never send one.
func (s *Server) AuthorizationSent() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.auth...)
}

// DeadEndpoint returns a loopback address nothing listens on.
func DeadEndpoint(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// Config is a join configuration with the default paths.
func Config(endpoints, pins []string, tok token.Token) *joinconfig.Config {
	return &joinconfig.Config{
		APIVersion:   joinconfig.APIVersion,
		Kind:         joinconfig.Kind,
		Endpoints:    endpoints,
		CACertHashes: pins,
		Token:        tok.Value(),
		Paths:        joinconfig.DefaultPaths(),
	}
}

// BootstrapKubeconfig is the bootstrap kubeconfig as client-go's
// clientcmd.Write writes it (as kubebake render does for --join-binary
// none): one cluster (server, the CA bundle), one user with the token, one
// context, current-context set. The agent's own writer must match it.
func BootstrapKubeconfig(t testing.TB, server string, caPEM []byte, tok token.Token) []byte {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	cl := clientcmdapi.NewCluster()
	cl.Server, cl.CertificateAuthorityData = server, caPEM
	cfg.Clusters[kubeconfig.BootstrapClusterName] = cl
	u := clientcmdapi.NewAuthInfo()
	u.Token = tok.Value()
	cfg.AuthInfos[kubeconfig.BootstrapUserName] = u
	ctx := clientcmdapi.NewContext()
	ctx.Cluster, ctx.AuthInfo = kubeconfig.BootstrapClusterName, kubeconfig.BootstrapUserName
	cfg.Contexts[kubeconfig.BootstrapContextName] = ctx
	cfg.CurrentContext = kubeconfig.BootstrapContextName
	out, err := clientcmd.Write(*cfg)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// WriteNode lays down under root what the renderer installs for the agent:
// the join config (0600).
func WriteNode(t testing.TB, root string, cfg *joinconfig.Config) {
	t.Helper()
	y, err := cfg.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(root, joinconfig.DefaultPath), y)
}

func write(t testing.TB, p string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
