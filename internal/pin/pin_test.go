package pin

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"strings"
	"testing"
)

func load(t *testing.T, name string) *x509.Certificate {
	data, err := os.ReadFile("../../testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(data)
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestHashAndMatch(t *testing.T) {
	ca, next := load(t, "ca.crt"), load(t, "next-ca.crt")
	h := Hash(ca)
	if !strings.HasPrefix(h, "sha256:") || len(h) != 7+64 || h == Hash(next) {
		t.Fatalf("Hash = %q", h)
	}
	s, err := NewSet("sha256:"+strings.ToUpper(Hash(next)[7:]), h)
	if err != nil || s.Len() != 2 {
		t.Fatalf("NewSet: %v %d", err, s.Len())
	}
	// Any certificate matching any pin passes, whatever the order (kubeadm #2471).
	if c, ok := s.Match([]*x509.Certificate{next, ca}); !ok || c != next {
		t.Errorf("Match of a bundle: %v %v", c, ok)
	}
	only, _ := NewSet(Hash(next))
	if c, ok := only.Match([]*x509.Certificate{ca, next}); !ok || c != next {
		t.Errorf("the second certificate of a bundle must match too")
	}
	if _, ok := only.Match([]*x509.Certificate{ca}); ok {
		t.Errorf("a certificate with another key must not match")
	}
}

func TestNormalize(t *testing.T) {
	good := "sha256:" + strings.Repeat("ab", 32)
	for in, ok := range map[string]bool{
		good: true, strings.ToUpper(good): true, strings.Repeat("ab", 32): false,
		"sha256:abc": false, "sha1:" + strings.Repeat("ab", 32): false, "sha256:" + strings.Repeat("zz", 32): false,
	} {
		n, err := Normalize(in)
		if (err == nil) != ok || (ok && n != good) {
			t.Errorf("Normalize(%q) = %q, %v", in, n, err)
		}
	}
}
