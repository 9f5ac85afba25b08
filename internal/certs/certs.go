// Package certs reads PEM certificate bundles the same way everywhere in
// kubebake: only CERTIFICATE blocks, a clear word when a private key is
// given by mistake, and the bundle re-encoded without comments or stray text.
package certs

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// ErrPrivateKey says a private key was given where certificates belong.
var ErrPrivateKey = errors.New("holds a private key, not a certificate")

// ParsePEM parses every certificate in data. It refuses private keys, other
// PEM blocks, text after the last block, and data with no certificate.
func ParsePEM(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if strings.Contains(b.Type, "PRIVATE KEY") {
			return nil, fmt.Errorf("%w (%s)", ErrPrivateKey, b.Type)
		}
		if b.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("holds a %q PEM block: want CERTIFICATE blocks only", b.Type)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d does not parse: %v", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("holds no PEM certificate (want -----BEGIN CERTIFICATE-----)")
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return nil, errors.New("has data after its last PEM certificate")
	}
	return certs, nil
}

// EncodePEM is the bundle of certs as PEM, one CERTIFICATE block each.
func EncodePEM(certs []*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}
