// Package token parses, validates and generates Kubernetes bootstrap tokens
// (<token-id>.<token-secret>, k8s.io/cluster-bootstrap's format).
//
// The secret half is what lets a node authenticate to the cluster: a Token never
// prints it. Use Secret() where it is really needed (the JWS key, the bootstrap
// kubeconfig) and String() or ID() everywhere else.
package token

import (
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Format is the bootstrap token grammar of k8s.io/cluster-bootstrap/token/api.
var format = regexp.MustCompile(`\A([a-z0-9]{6})\.([a-z0-9]{16})\z`)

const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// Token is a parsed bootstrap token.
type Token struct {
	id, secret string
}

// ErrFormat says a token does not match <6 chars a-z0-9>.<16 chars a-z0-9>.
// It never quotes the input, which may be a real secret with a typo.
var ErrFormat = errors.New(`not a bootstrap token: want "<id>.<secret>", a 6-character id and a 16-character secret of lowercase letters and digits (kubebake token generate makes one)`)

// Parse parses s, which must be exactly one token with no surrounding space.
func Parse(s string) (Token, error) {
	m := format.FindStringSubmatch(s)
	if m == nil {
		return Token{}, ErrFormat
	}
	return Token{id: m[1], secret: m[2]}, nil
}

// ParseFile parses the contents of a token file: one token, optionally followed
// by a newline (as `kubebake token generate > token` writes it) and blank lines.
func ParseFile(data []byte) (Token, error) {
	// Trailing blank lines (an editor's, or echo >> FILE) end the one
	// line; they are no second token.
	s := strings.TrimRight(string(data), " \t\r\n")
	if strings.ContainsAny(s, "\r\n") {
		return Token{}, errors.New("holds more than one line: a token file holds exactly one token")
	}
	return Parse(strings.TrimSpace(s))
}

// Generate returns a new random token from crypto/rand.
func Generate() (Token, error) {
	id, err := randomString(6)
	if err != nil {
		return Token{}, err
	}
	secret, err := randomString(16)
	if err != nil {
		return Token{}, err
	}
	return Token{id: id, secret: secret}, nil
}

func randomString(n int) (string, error) {
	// Rejection sampling keeps every character equally likely.
	const max = 256 - 256%len(alphabet)
	out := make([]byte, 0, n)
	buf := make([]byte, 2*n)
	for len(out) < n {
		if _, err := rand.Read(buf); err != nil {
			return "", fmt.Errorf("reading random bytes: %w", err)
		}
		for _, b := range buf {
			if int(b) < max && len(out) < n {
				out = append(out, alphabet[int(b)%len(alphabet)])
			}
		}
	}
	return string(out), nil
}

// ID is the public half of the token.
func (t Token) ID() string { return t.id }

// Secret is the private half. Never log it.
func (t Token) Secret() string { return t.secret }

// Value is the whole token, "<id>.<secret>", for the places that must carry it
// (a bootstrap kubeconfig, the token Secret). Never log it.
func (t Token) Value() string {
	if t.id == "" {
		return ""
	}
	return t.id + "." + t.secret
}

// IsZero reports whether t is the zero Token.
func (t Token) IsZero() bool { return t.id == "" }

// String shows the id only, so a Token printed by mistake leaks nothing.
func (t Token) String() string {
	if t.id == "" {
		return "<no token>"
	}
	return t.id + ".<redacted>"
}

// GoString keeps %#v from printing the secret too.
func (t Token) GoString() string { return "token.Token(" + t.String() + ")" }

// Equal compares two tokens in constant time.
func (t Token) Equal(u Token) bool {
	return subtle.ConstantTimeCompare([]byte(t.Value()), []byte(u.Value())) == 1
}
