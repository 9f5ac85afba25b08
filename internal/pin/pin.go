// Package pin computes and checks CA public key pins: "sha256:" followed by the
// lowercase hex SHA-256 of a certificate's DER SubjectPublicKeyInfo, the format of
// kubeadm's --discovery-token-ca-cert-hash (RFC 7469's pin-sha256, hex encoded).
package pin

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
)

const prefix = "sha256:"

// Hash returns the pin of cert.
func Hash(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return prefix + hex.EncodeToString(sum[:])
}

// Normalize checks that s is a well-formed pin and returns it in canonical form
// (lowercase). An upper-case hex digest is accepted; a bare digest without the
// "sha256:" prefix is refused, since it is ambiguous with other hash formats.
func Normalize(s string) (string, error) {
	h, ok := strings.CutPrefix(strings.ToLower(s), prefix)
	if !ok {
		return "", fmt.Errorf("%q is not a CA pin: want sha256:<64 hex digits> (kubebake hash ca.crt prints it)", s)
	}
	if len(h) != 64 {
		return "", fmt.Errorf("%q is not a CA pin: the digest has %d hex digits, want 64", s, len(h))
	}
	if _, err := hex.DecodeString(h); err != nil {
		return "", fmt.Errorf("%q is not a CA pin: the digest is not hexadecimal", s)
	}
	return prefix + h, nil
}

// Set is a set of pins.
type Set struct{ m map[string]bool }

// NewSet builds a set from pins, normalizing each.
func NewSet(pins ...string) (Set, error) {
	s := Set{m: make(map[string]bool, len(pins))}
	for _, p := range pins {
		n, err := Normalize(p)
		if err != nil {
			return Set{}, err
		}
		s.m[n] = true
	}
	return s, nil
}

// Len is the number of distinct pins.
func (s Set) Len() int { return len(s.m) }

// Match returns the first certificate of certs whose pin is in the set. Any
// certificate matching any pin passes: during a CA rotation the bundle holds the
// old and the new CA and an image may pin either (kubeadm #2471 only counted the
// first).
func (s Set) Match(certs []*x509.Certificate) (*x509.Certificate, bool) {
	for _, c := range certs {
		if s.m[Hash(c)] {
			return c, true
		}
	}
	return nil, false
}

// Has reports whether cert's pin is in the set.
func (s Set) Has(cert *x509.Certificate) bool { return s.m[Hash(cert)] }

// List returns the pins, sorted.
func (s Set) List() []string {
	out := make([]string, 0, len(s.m))
	for p := range s.m {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// Of is the set of certs' pins.
func Of(certs ...*x509.Certificate) Set {
	s := Set{m: make(map[string]bool, len(certs))}
	for _, c := range certs {
		s.m[Hash(c)] = true
	}
	return s
}

// MustSet is NewSet for pins known to be well-formed (tests, constants):
// it panics on a malformed one.
func MustSet(pins ...string) Set {
	s, err := NewSet(pins...)
	if err != nil {
		panic(err)
	}
	return s
}
