package discovery_test

import (
	"fmt"
	"net/url"

	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
)

// macOver is the HS256 signature part for header (base64url) over content
// with secret.
func macOver(secret, header, content string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(header + "." + base64.RawURLEncoding.EncodeToString([]byte(content))))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func sprintf(f string, a ...any) string { return fmt.Sprintf(f, a...) }

// noProxy keeps the environment's proxy settings out of tests that talk to
// loopback servers.
func noProxy(*url.URL) (*url.URL, error) { return nil, nil }
