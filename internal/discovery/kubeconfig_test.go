package discovery_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/kubebake/kubebake/internal/discovery"
	"github.com/kubebake/kubebake/internal/discovery/discoverytest"
	"github.com/kubebake/kubebake/internal/token"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"
)

func TestParseKubeconfigCA(t *testing.T) {
	a := discoverytest.NewCA(t, discoverytest.RSA)
	b := discoverytest.NewCA(t, discoverytest.ECDSA)
	bundle := append(append([]byte{}, a.PEM...), b.PEM...)
	certs, got, err := discovery.ParseKubeconfigCA([]byte(discoverytest.Kubeconfig(t, "https://10.0.0.10:6443", bundle)))
	if err != nil {
		t.Fatal(err)
	}
	if len(certs) != 2 || !certs[0].Equal(a.Cert) || !certs[1].Equal(b.Cert) || !bytes.Equal(got, bundle) {
		t.Errorf("got %d certs, bundle %q", len(certs), got)
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
	certs, _, err = discovery.ParseKubeconfigCA([]byte(kc))
	if err != nil || len(certs) != 1 || !certs[0].Equal(a.Cert) {
		t.Errorf("current context's cluster: %v, %d certs", err, len(certs))
	}

	for _, tc := range []struct{ name, kc, want string }{
		{"not yaml", "clusters: [", "does not parse"},
		{"no cluster", "apiVersion: v1\nkind: Config\n", "names no cluster"},
		{"no CA", "clusters: [{name: a, cluster: {server: https://x}}]", "no certificate-authority-data"},
		{"not base64", "clusters: [{name: a, cluster: {certificate-authority-data: '!!'}}]", "does not parse"},
		{"not PEM", "clusters: [{name: a, cluster: {certificate-authority-data: " + b64std([]byte("hello")) + "}}]", "holds no PEM certificate"},
		{"a key", "clusters: [{name: a, cluster: {certificate-authority-data: " + b64std([]byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")) + "}}]", "holds a private key"},
		{"bad cert", "clusters: [{name: a, cluster: {certificate-authority-data: " + b64std([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")) + "}}]", "certificate 1"},
		{"dangling context", "clusters: [{name: a, cluster: {certificate-authority-data: " + b64std(a.PEM) + "}}]\ncurrent-context: nope", `current context "nope"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := discovery.ParseKubeconfigCA([]byte(tc.kc))
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

func TestRewriteBootstrapKubeconfig(t *testing.T) {
	tok, _ := token.Generate()
	oldCA := discoverytest.NewCA(t, discoverytest.ECDSA)
	newCA := discoverytest.NewCA(t, discoverytest.RSA)
	src := discoverytest.BootstrapKubeconfig(t, "https://api.example:6443", oldCA.PEM, tok)
	// Fields this package does not know must survive.
	src = append(src, []byte("extensions:\n- name: kept\n  extension: {kind: Anything, answer: 42}\n")...)
	src = bytes.Replace(src, []byte("    server:"), []byte("    tls-server-name: api.example\n    server:"), 1)
	t.Logf("rendered:\n%s", bytes.ReplaceAll(src, []byte(tok.Secret()), []byte("<secret>")))
	kc, err := discovery.ParseBootstrapKubeconfig(src, tok.Value())
	if err != nil {
		t.Fatal(err)
	}
	out, err := kc.Rewrite("[fd00::10]:6443", newCA.PEM)
	if err != nil {
		t.Fatal(err)
	}
	// The real consumer: the kubelet loads it with clientcmd.
	cfg, err := clientcmd.Load(out)
	if err != nil {
		t.Fatalf("clientcmd cannot load the rewritten kubeconfig: %v\n%s", err, out)
	}
	if err := clientcmd.Validate(*cfg); err != nil {
		t.Errorf("clientcmd.Validate: %v", err)
	}
	ctx := cfg.Contexts[cfg.CurrentContext]
	cl := cfg.Clusters[ctx.Cluster]
	if cl.Server != "https://[fd00::10]:6443" || !bytes.Equal(cl.CertificateAuthorityData, newCA.PEM) || cl.TLSServerName != "api.example" {
		t.Errorf("cluster %+v", cl)
	}
	if cfg.AuthInfos[ctx.AuthInfo].Token != tok.Value() {
		t.Error("the token was lost")
	}
	var doc map[string]any
	if err := yaml.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	ext, _ := doc["extensions"].([]any)
	if len(ext) != 1 || !strings.Contains(string(out), "answer: 42") {
		t.Errorf("unknown fields were not kept:\n%s", out)
	}
}

func TestParseBootstrapKubeconfigRefuses(t *testing.T) {
	tok, _ := token.Generate()
	other, _ := token.Generate()
	ca := discoverytest.NewCA(t, discoverytest.ECDSA)
	good := string(discoverytest.BootstrapKubeconfig(t, "https://a:6443", ca.PEM, tok))
	for _, tc := range []struct{ name, kc, want string }{
		{"empty", "", "is empty"},
		{"no current context", strings.Replace(good, "current-context: kubelet-bootstrap@kubernetes", "current-context: \"\"", 1), "sets no current-context"},
		{"dangling context", strings.Replace(good, "current-context: kubelet-bootstrap@kubernetes", "current-context: x", 1), `has no context "x"`},
		{"no user", strings.Replace(good, "- name: kubelet-bootstrap\n", "- name: somebody\n", 1), `has no user "kubelet-bootstrap"`},
		{"no cluster", strings.Replace(good, "  name: kubernetes\n", "  name: k8s\n", 1), `has no cluster "kubernetes"`},
		{"other token", string(discoverytest.BootstrapKubeconfig(t, "https://a:6443", ca.PEM, other)), "is not the token of join.yaml"},
		{"no token", strings.Replace(good, "token: "+tok.Value(), "tokenFile: /x", 1), "has no token"},
		{"broken", good + "\n\t: [", "not valid YAML"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := discovery.ParseBootstrapKubeconfig([]byte(tc.kc), tok.Value())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
			if err != nil && (strings.Contains(err.Error(), tok.Secret()) || strings.Contains(err.Error(), other.Secret())) {
				t.Errorf("error %q holds a token secret", err)
			}
		})
	}
}

func FuzzParseKubeconfigCA(f *testing.F) {
	ca := discoverytest.NewCA(f, discoverytest.ECDSA)
	f.Add([]byte(discoverytest.Kubeconfig(f, "https://10.0.0.10:6443", ca.PEM)))
	f.Add([]byte("clusters: [{name: a, cluster: {certificate-authority-data: " + b64std(ca.PEM) + "}}]\ncurrent-context: nope"))
	f.Add([]byte("{}"))
	f.Add([]byte("clusters: [{cluster: {certificate-authority-data: 'AAAA'}}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		certs, bundle, err := discovery.ParseKubeconfigCA(data)
		if err != nil {
			return
		}
		if len(certs) == 0 || len(bundle) == 0 {
			t.Fatalf("success with %d certificates and %d bundle bytes", len(certs), len(bundle))
		}
		// The bundle parses back to the same certificates.
		again, _, err := discovery.ParseKubeconfigCA([]byte(discoverytest.Kubeconfig(t, "https://x", bundle)))
		if err != nil || len(again) != len(certs) {
			t.Fatalf("the bundle does not round-trip: %v", err)
		}
	})
}

func FuzzBootstrapKubeconfig(f *testing.F) {
	tok, _ := token.Parse(tokenID + "." + tokenSecret)
	ca := discoverytest.NewCA(f, discoverytest.ECDSA)
	f.Add(discoverytest.BootstrapKubeconfig(f, "https://a:6443", ca.PEM, tok))
	f.Add([]byte("current-context: c\ncontexts: [{name: c, context: {cluster: k, user: u}}]\nclusters: [{name: k}]\nusers: [{name: u, user: {token: " + tok.Value() + "}}]"))
	f.Add([]byte("current-context: c\ncontexts: [{name: c}]\nclusters: [{name: \"\", cluster: 1}]\nusers: [{name: \"\", user: {token: " + tok.Value() + "}}]"))
	f.Add([]byte("[]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		kc, err := discovery.ParseBootstrapKubeconfig(data, tok.Value())
		if err != nil {
			if strings.Contains(err.Error(), tokenSecret) {
				t.Fatalf("error %q holds the secret", err)
			}
			return
		}
		out, err := kc.Rewrite("10.0.0.10:6443", ca.PEM)
		if err != nil {
			return
		}
		// What we write parses again, points at the endpoint and keeps the token.
		again, err := discovery.ParseBootstrapKubeconfig(out, tok.Value())
		if err != nil {
			t.Fatalf("the rewritten kubeconfig does not parse: %v\n%s", err, out)
		}
		out2, err := again.Rewrite("10.0.0.10:6443", ca.PEM)
		if err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("rewriting is not idempotent: %v", err)
		}
		if !strings.Contains(string(out), "server: https://10.0.0.10:6443") {
			t.Fatalf("no server in\n%s", out)
		}
	})
}
