package testcluster

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kubebake/kubebake/internal/pin"
	"sigs.k8s.io/yaml"
)

// Cluster is a running control plane on 127.0.0.1.
type Cluster struct {
	Dir             string // temp dir: PKI, configs, logs
	Endpoint        string // "127.0.0.1:PORT" of kube-apiserver
	CACertFile      string // the cluster CA, PEM
	CACertPEM       []byte
	CAKeyFile       string
	AdminKubeconfig string // path, system:masters
	// AuditLogFile is the API server's audit log: one JSON event per line,
	// every request at level Request (Secrets at Metadata, so token secrets
	// stay out of it). user.username says who made each request:
	// system:bootstrap:<id> for a bootstrap token, system:anonymous for none.
	AuditLogFile string

	CA *CA

	Etcd, APIServer, ControllerManager *Process

	client *http.Client
}

// Start starts etcd, kube-apiserver and kube-controller-manager on
// 127.0.0.1 (free ports) with fresh PKI, bootstrap-token auth,
// --controllers=*,bootstrapsigner,tokencleaner, the CSR signing flags and an
// audit log, and waits until the API answers. t.Cleanup stops every process
// by PID (also when the test fails) and dumps their logs on failure.
func Start(t testing.TB) *Cluster { return StartWith(t, Options{}) }

// Options changes what Start makes. The zero value is Start's.
type Options struct {
	// CA is the cluster CA to use instead of a fresh one, so that a node's
	// config can be rendered (pinned) before the control plane starts.
	CA *CA
	// Port is the API server's port on 127.0.0.1 instead of a free one.
	Port int
	// ServingIPs are more addresses the API server's certificate names,
	// such as 10.0.2.2, where a qemu guest with user networking reaches the
	// 127.0.0.1 of the network namespace qemu runs in.
	ServingIPs []net.IP
}

// StartWith is Start with options.
func StartWith(t testing.TB, o Options) *Cluster {
	t.Helper()
	etcdBin, apiBin, cmBin := Bin(t, "etcd"), Bin(t, "kube-apiserver"), Bin(t, "kube-controller-manager")
	Bin(t, "kubectl")

	dir := t.TempDir()
	pki := filepath.Join(dir, "pki")
	if err := os.MkdirAll(pki, 0o700); err != nil {
		t.Fatal(err)
	}
	c := &Cluster{Dir: dir}
	port := o.Port
	if port == 0 {
		port = freePort(t)
	}
	c.Endpoint = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	server := "https://" + c.Endpoint

	// PKI, laid out like kubeadm's /etc/kubernetes/pki.
	c.CA = o.CA
	if c.CA == nil {
		c.CA = NewCA(t, "kubernetes")
	}
	c.CACertPEM = c.CA.CertPEM
	c.CACertFile = filepath.Join(pki, "ca.crt")
	c.CAKeyFile = filepath.Join(pki, "ca.key")
	writeFile(t, c.CACertFile, c.CA.CertPEM, 0o644)
	writeFile(t, c.CAKeyFile, c.CA.KeyPEM, 0o600)
	pair := func(name string, l leaf) (string, string) {
		crt, key := c.CA.issue(t, l)
		cf, kf := filepath.Join(pki, name+".crt"), filepath.Join(pki, name+".key")
		writeFile(t, cf, crt, 0o644)
		writeFile(t, kf, key, 0o600)
		return cf, kf
	}
	apiCrt, apiKey := pair("apiserver", leaf{
		commonName: "kube-apiserver", server: true,
		ips: append([]net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("10.96.0.1")}, o.ServingIPs...),
		dns: []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
	})
	kubeletClientCrt, kubeletClientKey := pair("apiserver-kubelet-client", leaf{commonName: "kube-apiserver-kubelet-client", orgs: []string{"kubeadm:cluster-admins"}, client: true})
	adminCrt, adminKey := pair("admin", leaf{commonName: "kubernetes-admin", orgs: []string{"system:masters"}, client: true})
	cmCrt, cmKey := pair("controller-manager", leaf{commonName: "system:kube-controller-manager", client: true})
	saKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	saKeyFile, saPubFile := filepath.Join(pki, "sa.key"), filepath.Join(pki, "sa.pub")
	writeFile(t, saKeyFile, keyPEM(t, saKey), 0o600)
	writeFile(t, saPubFile, publicKeyPEM(t, saKey), 0o644)

	c.AdminKubeconfig = filepath.Join(dir, "admin.conf")
	writeKubeconfig(t, c.AdminKubeconfig, server, c.CACertFile, adminCrt, adminKey)
	cmKubeconfig := filepath.Join(dir, "controller-manager.conf")
	writeKubeconfig(t, cmKubeconfig, server, c.CACertFile, cmCrt, cmKey)

	c.AuditLogFile = filepath.Join(dir, "audit.log")
	auditPolicy := filepath.Join(dir, "audit-policy.yaml")
	writeYAML(t, auditPolicy, auditPolicyDoc())

	adminPair, err := tls.LoadX509KeyPair(adminCrt, adminKey)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(c.CA.Cert)
	c.client = &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{adminPair}}, Proxy: nil},
	}

	// etcd: plain HTTP on loopback, fsync off (the data is thrown away).
	etcdClient, etcdPeer := freePort(t), freePort(t)
	clientURL := fmt.Sprintf("http://127.0.0.1:%d", etcdClient)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", etcdPeer)
	c.Etcd = StartProcess(t, "etcd", filepath.Join(dir, "etcd.log"), exec.Command(etcdBin,
		"--name=default",
		"--data-dir="+filepath.Join(dir, "etcd"),
		"--listen-client-urls="+clientURL,
		"--advertise-client-urls="+clientURL,
		"--listen-peer-urls="+peerURL,
		"--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=default="+peerURL,
		"--unsafe-no-fsync=true",
		"--log-level=warn",
	))

	c.APIServer = StartProcess(t, "kube-apiserver", filepath.Join(dir, "kube-apiserver.log"), exec.Command(apiBin,
		"--etcd-servers="+clientURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(port),
		"--endpoint-reconciler-type=none",
		"--enable-bootstrap-token-auth=true",
		"--anonymous-auth=true",
		"--authorization-mode=Node,RBAC",
		"--client-ca-file="+c.CACertFile,
		"--tls-cert-file="+apiCrt,
		"--tls-private-key-file="+apiKey,
		"--kubelet-client-certificate="+kubeletClientCrt,
		"--kubelet-client-key="+kubeletClientKey,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+saPubFile,
		"--service-account-signing-key-file="+saKeyFile,
		"--service-cluster-ip-range=10.96.0.0/12",
		"--cert-dir="+filepath.Join(dir, "apiserver-certs"),
		"--audit-policy-file="+auditPolicy,
		"--audit-log-path="+c.AuditLogFile,
		"--audit-log-mode=blocking",
		"--audit-log-format=json",
		"--profiling=false",
	))

	// The controller-manager reads kube-system configmaps at start-up, which
	// RBAC allows only once the API server has made its bootstrap roles.
	c.waitReady(t, 90*time.Second)

	flexDir := filepath.Join(dir, "flexvolume")
	if err := os.MkdirAll(flexDir, 0o755); err != nil {
		t.Fatal(err)
	}
	c.ControllerManager = StartProcess(t, "kube-controller-manager", filepath.Join(dir, "kube-controller-manager.log"), exec.Command(cmBin,
		"--kubeconfig="+cmKubeconfig,
		"--authentication-kubeconfig="+cmKubeconfig,
		"--authorization-kubeconfig="+cmKubeconfig,
		"--bind-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(freePort(t)),
		"--controllers=*,bootstrapsigner,tokencleaner",
		"--cluster-signing-cert-file="+c.CACertFile,
		"--cluster-signing-key-file="+c.CAKeyFile,
		"--root-ca-file="+c.CACertFile,
		"--service-account-private-key-file="+saKeyFile,
		"--use-service-account-credentials=true",
		"--leader-elect=false",
		"--kube-api-qps=200",
		"--kube-api-burst=400",
		"--flex-volume-plugin-dir="+flexDir,
		"--cert-dir="+filepath.Join(dir, "controller-manager-certs"),
		"--profiling=false",
	))

	c.waitControllerManager(t, 60*time.Second)
	return c
}

// CAPin is the CA's pin, "sha256:<hex of its SubjectPublicKeyInfo>".
func (c *Cluster) CAPin() string { return pin.Hash(c.CA.Cert) }

// Server is the API server's URL.
func (c *Cluster) Server() string { return "https://" + c.Endpoint }

// waitReady polls /readyz as the admin until it answers 200.
func (c *Cluster) waitReady(t testing.TB, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		for _, p := range []*Process{c.Etcd, c.APIServer} {
			if exited, err := p.Exited(); exited {
				t.Fatalf("%s exited while the control plane was starting (%v); last lines:\n%s", p.Name, err, tail(p.LogFile, logTailLines))
			}
		}
		code, body, err := c.do(http.MethodGet, "/readyz", nil)
		if err == nil && code == http.StatusOK {
			return
		}
		if err != nil {
			last = err.Error()
		} else {
			last = fmt.Sprintf("HTTP %d: %s", code, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("kube-apiserver at %s not ready after %v: %s", c.Endpoint, timeout, last)
}

// waitControllerManager waits until the controller-manager's controllers
// run: the kube-root-ca.crt ConfigMap it publishes in every namespace exists
// in kube-public.
func (c *Cluster) waitControllerManager(t testing.TB, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if exited, err := c.ControllerManager.Exited(); exited {
			t.Fatalf("kube-controller-manager exited while starting (%v); last lines:\n%s", err, tail(c.ControllerManager.LogFile, logTailLines))
		}
		if c.Get(t, "/api/v1/namespaces/kube-public/configmaps/kube-root-ca.crt", nil) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("kube-controller-manager did not publish kube-public/kube-root-ca.crt within %v; last lines:\n%s", timeout, tail(c.ControllerManager.LogFile, logTailLines))
}

// Kubectl runs kubectl with the admin kubeconfig and returns its stdout; it
// fails the test if kubectl fails.
func (c *Cluster) Kubectl(t testing.TB, args ...string) string {
	t.Helper()
	out, err := c.KubectlStdin(nil, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// KubectlStdin runs kubectl with stdin and the admin kubeconfig; the error
// carries kubectl's stderr.
func (c *Cluster) KubectlStdin(stdin []byte, args ...string) (string, error) {
	cache, err := CacheDir()
	if err != nil {
		return "", err
	}
	cmd := exec.Command(filepath.Join(cache, "k8s", "bin", "kubectl"), append([]string{"--kubeconfig=" + c.AdminKubeconfig}, args...)...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("kubectl %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// do makes one request as the admin (system:masters) and returns the status
// code and body.
func (c *Cluster) do(method, path string, body any) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		r = bytes.NewReader(data)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.Server()+path, r)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, data, err
}

// Get GETs an API path as the admin into out (JSON). It returns false if the
// object does not exist and fails the test on any other error.
func (c *Cluster) Get(t testing.TB, path string, out any) bool {
	t.Helper()
	code, body, err := c.do(http.MethodGet, path, nil)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	if code == http.StatusNotFound {
		return false
	}
	if code != http.StatusOK {
		t.Fatalf("GET %s: HTTP %d: %s", path, code, body)
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
	}
	return true
}

// Create POSTs obj to a collection path as the admin; it fails the test
// unless the API server answers 201.
func (c *Cluster) Create(t testing.TB, collection string, obj any) {
	t.Helper()
	code, body, err := c.do(http.MethodPost, collection, obj)
	if err != nil {
		t.Fatalf("POST %s: %v", collection, err)
	}
	if code != http.StatusCreated {
		t.Fatalf("POST %s: HTTP %d: %s", collection, code, body)
	}
}

// Delete DELETEs an object as the admin; a missing object is no error.
func (c *Cluster) Delete(t testing.TB, path string) {
	t.Helper()
	code, body, err := c.do(http.MethodDelete, path, nil)
	if err != nil {
		t.Fatalf("DELETE %s: %v", path, err)
	}
	if code != http.StatusOK && code != http.StatusAccepted && code != http.StatusNotFound {
		t.Fatalf("DELETE %s: HTTP %d: %s", path, code, body)
	}
}

func writeKubeconfig(t testing.TB, path, server, caFile, certFile, keyFile string) {
	t.Helper()
	data, err := clientKubeconfig(server, caFile, certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, data, 0o600)
}

func writeYAML(t testing.TB, path string, v any) {
	t.Helper()
	data, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, data, 0o644)
}

// freePort asks the kernel for a free TCP port on 127.0.0.1.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// FreePort is a free TCP port on 127.0.0.1, for a kubelet's ports.
func FreePort(t testing.TB) int { return freePort(t) }
