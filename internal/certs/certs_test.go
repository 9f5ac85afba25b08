package certs

import (
	"os"
	"strings"
	"testing"
)

func TestParsePEM(t *testing.T) {
	ca, err := os.ReadFile("../../testdata/ca.crt")
	if err != nil {
		t.Fatal(err)
	}
	next, err := os.ReadFile("../../testdata/next-ca.crt")
	if err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile("../../testdata/bad/private-key.pem")
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParsePEM(append(append([]byte("# a comment\n"), ca...), next...))
	if err != nil || len(got) != 2 {
		t.Fatalf("a bundle of two: %d %v", len(got), err)
	}
	if b := EncodePEM(got); !strings.HasPrefix(string(b), "-----BEGIN CERTIFICATE-----") || strings.Contains(string(b), "comment") {
		t.Errorf("EncodePEM must give a clean bundle:\n%s", b)
	}
	for name, c := range map[string]struct {
		data []byte
		want string
	}{
		"key":      {key, "holds a private key"},
		"empty":    {nil, "holds no PEM certificate"},
		"text":     {[]byte("hello"), "holds no PEM certificate"},
		"trailing": {append(append([]byte{}, ca...), "junk"...), "data after its last"},
		"other":    {[]byte("-----BEGIN FOO-----\nAAAA\n-----END FOO-----\n"), `"FOO" PEM block`},
		"garbage":  {[]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), "does not parse"},
	} {
		if _, err := ParsePEM(c.data); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: want %q, got %v", name, c.want, err)
		} else if strings.Contains(err.Error(), "BEGIN") && name == "key" {
			t.Errorf("%s: the error must not quote the key", name)
		}
	}
}
