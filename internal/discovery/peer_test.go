package discovery

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"
)

// testCert issues a certificate from parent (nil: self-signed CA).
func testCert(t *testing.T, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, tmpl *x509.Certificate) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = big.NewInt(time.Now().UnixNano())
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, key
}

func caTemplate(cn string) *x509.Certificate {
	return &x509.Certificate{Subject: pkix.Name{CommonName: cn}, NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(time.Hour * 24 * 365),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
}

func leafTemplate(eku []x509.ExtKeyUsage, notAfter time.Time, ips ...string) *x509.Certificate {
	c := &x509.Certificate{Subject: pkix.Name{CommonName: "kube-apiserver"}, NotBefore: time.Now().Add(-24 * time.Hour), NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: eku, DNSNames: []string{"api.example"}}
	for _, ip := range ips {
		c.IPAddresses = append(c.IPAddresses, net.ParseIP(ip))
	}
	return c
}

// TestPeerVerified holds the check of an answer's session to what a TLS
// client trusting only the pinned CAs checks in its handshake.
func TestPeerVerified(t *testing.T) {
	ca, caKey := testCert(t, nil, nil, caTemplate("kubernetes"))
	other, otherKey := testCert(t, nil, nil, caTemplate("kubernetes"))
	inter, interKey := testCert(t, ca, caKey, caTemplate("intermediate"))
	server := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	later := time.Now().Add(time.Hour)
	leaf, _ := testCert(t, ca, caKey, leafTemplate(server, later, "127.0.0.1", "::1"))
	viaInter, _ := testCert(t, inter, interKey, leafTemplate(server, later, "127.0.0.1"))
	foreign, _ := testCert(t, other, otherKey, leafTemplate(server, later, "127.0.0.1"))
	clientOnly, _ := testCert(t, ca, caKey, leafTemplate([]x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, later, "127.0.0.1"))
	expired, _ := testCert(t, ca, caKey, leafTemplate(server, time.Now().Add(-time.Hour), "127.0.0.1"))
	session := func(certs ...*x509.Certificate) *tls.ConnectionState {
		return &tls.ConnectionState{HandshakeComplete: true, PeerCertificates: certs}
	}
	resumed := session(leaf)
	resumed.DidResume = true
	pinned := []*x509.Certificate{ca}
	for _, tc := range []struct {
		name    string
		cs      *tls.ConnectionState
		ep      string
		wantErr string // "" means accepted
	}{
		{"leaf from the pinned CA, IP", session(leaf), "127.0.0.1:6443", ""},
		{"leaf from the pinned CA, IPv6", session(leaf), "[::1]:6443", ""},
		{"leaf from the pinned CA, DNS name", session(leaf), "api.example:6443", ""},
		{"through an intermediate the server sent", session(viaInter, inter), "127.0.0.1:6443", ""},
		{"intermediate not sent", session(viaInter), "127.0.0.1:6443", "not signed by a pinned cluster CA"},
		{"another CA", session(foreign), "127.0.0.1:6443", "not signed by a pinned cluster CA"},
		{"another CA, the pinned CA sent along", session(foreign, ca), "127.0.0.1:6443", "not signed by a pinned cluster CA"},
		{"the pinned CA itself as the leaf, no name", session(ca), "127.0.0.1:6443", "is not a name in the API server certificate"},
		{"wrong name", session(leaf), "10.0.0.1:6443", "10.0.0.1 is not a name in the API server certificate"},
		{"client auth only", session(clientOnly), "127.0.0.1:6443", "does not verify against the pinned cluster CA"},
		{"expired", session(expired), "127.0.0.1:6443", "expired or not yet valid"},
		{"resumed session", resumed, "127.0.0.1:6443", "resumed TLS session"},
		{"handshake not complete", &tls.ConnectionState{PeerCertificates: []*x509.Certificate{leaf}}, "127.0.0.1:6443", "no TLS session"},
		{"no certificate", session(), "127.0.0.1:6443", "no TLS session"},
		{"no session", nil, "127.0.0.1:6443", "no TLS session"},
	} {
		err := peerVerified(tc.cs, pinned, tc.ep)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: %v, want accepted", tc.name, err)
		case tc.wantErr != "" && err == nil:
			t.Errorf("%s: accepted, want %q", tc.name, tc.wantErr)
		case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
			t.Errorf("%s: %v, want %q", tc.name, err, tc.wantErr)
		case tc.wantErr != "":
			var fe *fetchError
			if !errors.As(err, &fe) || fe.verify == nil {
				t.Errorf("%s: %T %v, want a *fetchError with verify set", tc.name, err, err)
			}
		}
	}
	// The empty pin set trusts nothing.
	if err := peerVerified(session(leaf), nil, "127.0.0.1:6443"); err == nil {
		t.Errorf("no pinned CA: accepted")
	}
}
