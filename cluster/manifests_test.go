package cluster

import (
	"bytes"
	goldenfile "github.com/kubebake/kubebake/test/golden"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubebake/kubebake/internal/discovery"
	"github.com/kubebake/kubebake/internal/token"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/scheme"
)

func mustToken(t testing.TB) token.Token {
	t.Helper()
	data, err := os.ReadFile("testdata/token")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := token.ParseFile(data)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func mustCA(t testing.TB, files ...string) *CABundle {
	t.Helper()
	var paths []string
	for _, f := range files {
		paths = append(paths, filepath.Join("testdata", f))
	}
	ca, _, err := ReadCABundle(paths, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	goldenfile.Check(t, filepath.Join("testdata", name), got)
}

func TestManifestsGolden(t *testing.T) {
	tok := mustToken(t)
	for _, tc := range []struct {
		golden string
		spec   Spec
	}{
		{"manifests.golden.yaml", Spec{
			Token: tok, CA: mustCA(t, "ca.crt"), Endpoints: []string{"lb.example.com:6443"},
			Expires: time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC),
		}},
		// A CA rotation (two CAs), an IPv6 endpoint first, no expiry, two
		// groups and a description.
		{"manifests-rotation.golden.yaml", Spec{
			Token: tok, CA: mustCA(t, "ca.crt", "next-ca.crt", "ca.crt"), Endpoints: []string{"[fd00::1]:6443", "lb.example.com:443"},
			Groups:      []string{"system:bootstrappers:kubebake:workers", "system:bootstrappers:kubebake:gpu"},
			Description: "kubebake golden image token",
		}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			objs, err := Build(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			out, err := MarshalYAML(objs.List())
			if err != nil {
				t.Fatal(err)
			}
			golden(t, tc.golden, out)

			// Same input, same bytes.
			again, _ := Build(tc.spec)
			out2, _ := MarshalYAML(again.List())
			if !bytes.Equal(out, out2) {
				t.Error("two builds of the same spec differ")
			}
			checkDecodes(t, out, objs)
		})
	}
}

// checkDecodes decodes every document with client-go's scheme, strictly, as
// kubectl would, and requires the objects built.
func checkDecodes(t *testing.T, stream []byte, objs *Objects) {
	t.Helper()
	docs := strings.Split(string(stream), "\n---\n")
	want := objs.List()
	if len(docs) != len(want) {
		t.Fatalf("%d YAML documents, want %d", len(docs), len(want))
	}
	dec := scheme.Codecs.UniversalDeserializer()
	for i, doc := range docs {
		got, gvk, err := dec.Decode([]byte(doc), nil, nil)
		if err != nil {
			t.Fatalf("document %d does not decode as a Kubernetes object: %v", i, err)
		}
		got.GetObjectKind().SetGroupVersionKind(*gvk)
		if !equalObjects(got, want[i]) {
			t.Errorf("document %d decodes to %#v, want %#v", i, got, want[i])
		}
	}
}

func equalObjects(a, b runtime.Object) bool {
	ya, err1 := MarshalYAML([]runtime.Object{a})
	yb, err2 := MarshalYAML([]runtime.Object{b})
	return err1 == nil && err2 == nil && bytes.Equal(ya, yb)
}

func TestTokenSecret(t *testing.T) {
	tok := mustToken(t)
	exp := time.Date(2027, 1, 31, 12, 0, 0, 0, time.FixedZone("CET", 3600))
	objs, err := Build(Spec{Token: tok, CA: mustCA(t, "ca.crt"), Endpoints: []string{"10.0.0.1:6443"}, Expires: exp})
	if err != nil {
		t.Fatal(err)
	}
	s := objs.TokenSecret
	if s.Name != "bootstrap-token-lofdk1" || s.Namespace != "kube-system" || s.Type != corev1.SecretType("bootstrap.kubernetes.io/token") {
		t.Errorf("Secret %s/%s type %s", s.Namespace, s.Name, s.Type)
	}
	want := map[string]string{
		"token-id":                       "lofdk1",
		"token-secret":                   "egbg0rjhecsbxrds",
		"usage-bootstrap-authentication": "true",
		"usage-bootstrap-signing":        "true",
		"auth-extra-groups":              DefaultGroup,
		"expiration":                     "2027-01-31T11:00:00Z", // UTC
	}
	if len(s.Data) != len(want) {
		t.Errorf("Secret has keys %v, want %v", keys(s.Data), want)
	}
	for k, v := range want {
		if string(s.Data[k]) != v {
			t.Errorf("Secret %s = %q, want %q", k, s.Data[k], v)
		}
	}
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// The agent's own parser reads our cluster-info and finds the CA bundle,
// every certificate of a rotation.
func TestClusterInfoReadByAgent(t *testing.T) {
	ca := mustCA(t, "ca.crt", "next-ca.crt")
	objs, err := Build(Spec{Token: mustToken(t), CA: ca, Endpoints: []string{"[fd00::1]:6443"}})
	if err != nil {
		t.Fatal(err)
	}
	kc := objs.ClusterInfo.Data["kubeconfig"]
	cl, certs, err := discovery.ReadCluster([]byte(kc))
	if err != nil {
		t.Fatal(err)
	}
	if len(certs) != 2 || !bytes.Equal(cl.CAData, ca.PEM) {
		t.Errorf("agent read %d certificates, bundle equal %v", len(certs), bytes.Equal(cl.CAData, ca.PEM))
	}
	if cl.Server != "https://[fd00::1]:6443" {
		t.Errorf("server %q", cl.Server)
	}
}

func TestBuildRefuses(t *testing.T) {
	tok := mustToken(t)
	ca := mustCA(t, "ca.crt")
	for name, s := range map[string]Spec{
		"no token":         {CA: ca, Endpoints: []string{"a:1"}},
		"no CA":            {Token: tok, Endpoints: []string{"a:1"}},
		"no endpoint":      {Token: tok, CA: ca},
		"bad group":        {Token: tok, CA: ca, Endpoints: []string{"a:1"}, Groups: []string{"system:masters"}},
		"group ends in :":  {Token: tok, CA: ca, Endpoints: []string{"a:1"}, Groups: []string{"system:bootstrappers:x:"}},
		"duplicate groups": {Token: tok, CA: ca, Endpoints: []string{"a:1"}, Groups: []string{DefaultGroup, DefaultGroup}},
	} {
		if _, err := Build(s); err == nil {
			t.Errorf("%s: Build succeeded", name)
		} else if strings.Contains(err.Error(), tok.Secret()) {
			t.Errorf("%s: error leaks the secret: %v", name, err)
		}
	}
}

func TestReadCABundleRefuses(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "ca.key")
	os.WriteFile(key, []byte("-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n"), 0o600)
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte("not pem\n"), 0o644)
	for _, p := range []string{key, empty, filepath.Join(dir, "missing"), "../testdata/bad/leaf.crt", "../testdata/bad/expired-ca.crt"} {
		if _, _, err := ReadCABundle([]string{p}, time.Now()); err == nil {
			t.Errorf("ReadCABundle(%s) succeeded", p)
		} else if !strings.Contains(err.Error(), p) {
			t.Errorf("error does not name the file: %v", err)
		}
	}
}
