package consumers

import (
	"bytes"
	"compress/gzip"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kubebake/kubebake/internal/token"
	ct "github.com/kubebake/kubebake/test/consumertest"
	"github.com/vincent-petithory/dataurl"
)

// loopbackTLS is a CA (PEM) and a server certificate for 127.0.0.1 it
// signed.
func loopbackTLS(t *testing.T) ([]byte, tls.Certificate) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "pointer test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// decodings are the byte strings s may stand for: itself, a data URL's
// contents, base64 (standard or URL alphabet), gzip; recursively.
func decodings(s []byte, depth int) [][]byte {
	out := [][]byte{s}
	if depth == 0 {
		return out
	}
	var next [][]byte
	if du, err := dataurl.DecodeString(string(s)); err == nil {
		next = append(next, du.Data)
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if d, err := enc.DecodeString(strings.TrimSpace(string(s))); err == nil && len(d) > 0 {
			next = append(next, d)
		}
	}
	if zr, err := gzip.NewReader(bytes.NewReader(s)); err == nil {
		if d, err := io.ReadAll(zr); err == nil {
			next = append(next, d)
		}
	}
	for _, n := range next {
		out = append(out, decodings(n, depth-1)...)
	}
	return out
}

// jsonStrings lists every string of a JSON document, keys too.
func jsonStrings(v any, out *[]string) {
	switch x := v.(type) {
	case string:
		*out = append(*out, x)
	case []any:
		for _, e := range x {
			jsonStrings(e, out)
		}
	case map[string]any:
		for k, e := range x {
			*out = append(*out, k)
			jsonStrings(e, out)
		}
	}
}

// secretIn says whether the pointer holds the token's secret in any
// encoding: raw, in any string, decoded from data URLs, base64 or gzip.
func secretIn(t *testing.T, doc []byte, secret string) bool {
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		t.Fatal(err)
	}
	strs := []string{string(doc)}
	jsonStrings(v, &strs)
	for _, s := range strs {
		for _, d := range decodings([]byte(s), 4) {
			if bytes.Contains(d, []byte(secret)) {
				return true
			}
		}
	}
	return false
}

// TestPointer: the user-data --pointer renders holds no secret in any
// encoding; the real Ignition applier fetches the boot part through it from
// a loopback HTTPS server (trusting the CA the pointer names), checks its
// hash and writes the token; a boot part with another hash is refused.
func TestPointer(t *testing.T) {
	ct.Tools(t)
	ready(t)
	caPEM, cert := loopbackTLS(t)
	var served atomic.Value
	var hits atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write(served.Load().([]byte))
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	defer srv.Close()

	dir := t.TempDir()
	caFilePtr := filepath.Join(dir, "pointer-ca.pem")
	if err := os.WriteFile(caFilePtr, caPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	tokData, err := os.ReadFile(tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := token.ParseFile(tokData)
	if err != nil {
		t.Fatal(err)
	}
	pointerFile, bootFile := filepath.Join(dir, "user-data.ign"), filepath.Join(dir, "boot.ign")
	url := srv.URL + "/kubebake/boot.ign"
	cmd := exec.Command(kubebakeBin, "render", "--ca", caFile, "--token-file", tokenFile, "--api-server", apiServer,
		"--part", "boot", "--pointer", url, "--pointer-ca", caFilePtr, "--boot-output", bootFile, "-o", pointerFile)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kubebake render --pointer: %v\n%s", err, out)
	}
	pointer, _ := os.ReadFile(pointerFile)
	boot, _ := os.ReadFile(bootFile)
	t.Logf("the pointer (%d bytes): %s", len(pointer), pointer)
	if secretIn(t, pointer, tok.Secret()) {
		t.Fatal("the pointer holds the token's secret")
	}
	if !secretIn(t, boot, tok.Secret()) {
		t.Fatal("the scan does not find the secret in the boot part: it would find nothing anywhere")
	}
	for f, want := range map[string]os.FileMode{pointerFile: 0o644, bootFile: 0o600} {
		if st, _ := os.Stat(f); st.Mode().Perm() != want {
			t.Errorf("%s: mode %04o, want %04o", f, st.Mode().Perm(), want)
		}
	}

	// Through the pointer, with the hash: the token is written.
	served.Store(boot)
	root := t.TempDir()
	run := ct.RunIgnitionFetch(t, pointerFile, root)
	if run.Err != nil {
		t.Fatalf("ignition with the pointer: %v\n%s", run.Err, run.Log)
	}
	if hits.Load() == 0 {
		t.Fatal("ignition did not fetch the boot part")
	}
	got, err := os.ReadFile(filepath.Join(root, "etc/kubebake/token"))
	if err != nil || !strings.Contains(string(got), tok.Value()) {
		t.Fatalf("after the pointer: /etc/kubebake/token %q, %v", got, err)
	}

	// Another boot part (one byte more) behind the same pointer: refused,
	// and nothing written.
	served.Store(append(append([]byte{}, boot...), '\n'))
	root = t.TempDir()
	run = ct.RunIgnitionFetch(t, pointerFile, root)
	if run.Err == nil {
		t.Fatalf("ignition accepted a boot part whose hash differs:\n%s", run.Log)
	}
	if !strings.Contains(run.Log, "hash") {
		t.Errorf("ignition's log does not say the hash differed:\n%s", run.Log)
	}
	if _, err := os.Stat(filepath.Join(root, "etc/kubebake/token")); err == nil {
		t.Error("a refused boot part was written")
	}
}
