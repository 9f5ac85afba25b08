package discovery_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/kubebake/kubebake/internal/discovery"
	"github.com/kubebake/kubebake/test/discoverytest"
)

func TestReadCluster(t *testing.T) {
	a := discoverytest.NewCA(t, discoverytest.RSA)
	b := discoverytest.NewCA(t, discoverytest.ECDSA)
	bundle := append(append([]byte{}, a.PEM...), b.PEM...)
	cl, certs, err := discovery.ReadCluster([]byte(discoverytest.Kubeconfig(t, "https://10.0.0.10:6443", bundle)))
	if err != nil {
		t.Fatal(err)
	}
	if len(certs) != 2 || !certs[0].Equal(a.Cert) || !certs[1].Equal(b.Cert) || !bytes.Equal(cl.CAData, bundle) || cl.Server != "https://10.0.0.10:6443" {
		t.Errorf("got %d certs, cluster %+v", len(certs), cl)
	}

	// The current context's cluster wins over the first one.
	kc := `apiVersion: v1
kind: Config
clusters:
- name: other
  cluster: {server: "https://x", certificate-authority-data: ` + b64std(b.PEM) + `}
- name: mine
  cluster: {server: "https://y", certificate-authority-data: ` + b64std(a.PEM) + `}
contexts:
- name: c
  context: {cluster: mine, user: u}
current-context: c
`
	cl, certs, err = discovery.ReadCluster([]byte(kc))
	if err != nil || len(certs) != 1 || !certs[0].Equal(a.Cert) || cl.Server != "https://y" {
		t.Errorf("current context's cluster: %v, %d certs", err, len(certs))
	}

	for _, tc := range []struct{ name, kc, want string }{
		{"not yaml", "clusters: [", "does not parse"},
		{"no cluster", "apiVersion: v1\nkind: Config\n", "has 0 clusters and no current context"},
		{"two clusters", "clusters: [{name: a, cluster: {server: https://x}}, {name: b, cluster: {server: https://y}}]", "has 2 clusters"},
		{"no server", "clusters: [{name: a, cluster: {certificate-authority-data: " + b64std(a.PEM) + "}}]", "has no server"},
		{"no CA", "clusters: [{name: a, cluster: {server: https://x}}]", "no certificate-authority-data"},
		{"not base64", "clusters: [{name: a, cluster: {server: https://x, certificate-authority-data: '!!'}}]", "does not parse"},
		{"not PEM", "clusters: [{name: a, cluster: {server: https://x, certificate-authority-data: " + b64std([]byte("hello")) + "}}]", "holds no certificate"},
		{"a key", "clusters: [{name: a, cluster: {server: https://x, certificate-authority-data: " + b64std([]byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")) + "}}]", "holds no certificate"},
		{"bad cert", "clusters: [{name: a, cluster: {server: https://x, certificate-authority-data: " + b64std([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")) + "}}]", "holds no certificate"},
		{"dangling context", "clusters: [{name: a, cluster: {server: https://x, certificate-authority-data: " + b64std(a.PEM) + "}}]\ncurrent-context: nope", `current context "nope"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := discovery.ReadCluster([]byte(tc.kc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func b64std(b []byte) string {
	j, _ := json.Marshal(b) // []byte marshals as standard base64
	return string(j)
}

func FuzzReadCluster(f *testing.F) {
	ca := discoverytest.NewCA(f, discoverytest.ECDSA)
	f.Add([]byte(discoverytest.Kubeconfig(f, "https://10.0.0.10:6443", ca.PEM)))
	f.Add([]byte("clusters: [{name: a, cluster: {server: x, certificate-authority-data: " + b64std(ca.PEM) + "}}]\ncurrent-context: nope"))
	f.Add([]byte("{}"))
	f.Add([]byte("clusters: [{cluster: {certificate-authority-data: 'AAAA'}}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cl, certs, err := discovery.ReadCluster(data)
		if err != nil {
			return
		}
		if len(certs) == 0 || cl.Server == "" {
			t.Fatalf("success with %d certificates and server %q", len(certs), cl.Server)
		}
	})
}
