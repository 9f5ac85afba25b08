package discovery

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
)

// maxJWSLength bounds the detached JWS we are willing to parse. The one
// the bootstrapsigner writes is about 100 characters.
const maxJWSLength = 4096

// VerifyJWS checks that sig is the detached JWS (RFC 7515 appendix F:
// "header..signature") that the bootstrapsigner controller computes over
// payload with the bootstrap token tokenID.secret: protected header alg HS256
// and kid tokenID, HMAC-SHA256 keyed with the secret's bytes.
//
// go-jose parses the JWS and its protected header. Its Verify refuses HS256
// keys shorter than 32 bytes and a token secret has 16, so the MAC is
// computed here with crypto/hmac and compared in constant time.
//
// Errors describe what is wrong with the JWS; they never quote the secret.
func VerifyJWS(sig string, payload []byte, tokenID, secret string) error {
	if len(sig) > maxJWSLength {
		return fmt.Errorf("the JWS is %d bytes long, more than a detached HS256 JWS can be", len(sig))
	}
	// go-jose strips white space before parsing; we compute the signing
	// input from the raw parts ourselves, so they must be what go-jose saw.
	if strings.ContainsFunc(sig, func(r rune) bool { return r <= ' ' || r > '~' }) {
		return errors.New("the JWS holds white space or characters outside base64url")
	}
	parts := strings.Split(sig, ".")
	if len(parts) != 3 {
		return fmt.Errorf("the JWS has %d dot-separated parts, want 3 (header..signature)", len(parts))
	}
	if parts[1] != "" {
		return errors.New("the JWS carries its payload; want a detached JWS (header..signature)")
	}
	jws, err := jose.ParseDetached(sig, payload, []jose.SignatureAlgorithm{jose.HS256})
	if err != nil {
		return fmt.Errorf("the JWS does not parse: %v", strings.TrimPrefix(err.Error(), "go-jose/go-jose: "))
	}
	if len(jws.Signatures) != 1 {
		return fmt.Errorf("the JWS has %d signatures, want 1", len(jws.Signatures))
	}
	s := jws.Signatures[0]
	h := s.Protected
	if h.Algorithm != string(jose.HS256) {
		return fmt.Errorf("the JWS protected header names alg %q, want HS256", h.Algorithm)
	}
	if h.KeyID != tokenID {
		return fmt.Errorf("the JWS protected header names kid %q, want the token id %q", h.KeyID, tokenID)
	}
	// The bootstrapsigner sets alg and kid, nothing else; kubeadm compares
	// whole JWS strings, so it accepts no other header either. Anything
	// more ("crit", RFC 7797's "b64", "jwk") is refused.
	if len(h.ExtraHeaders) > 0 || h.JSONWebKey != nil || h.Nonce != "" {
		return errors.New("the JWS protected header holds more than alg and kid, which is all the bootstrapsigner sets")
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(parts[0]))
	mac.Write([]byte{'.'})
	mac.Write([]byte(base64.RawURLEncoding.EncodeToString(payload)))
	if !hmac.Equal(mac.Sum(nil), s.Signature) {
		return errSignatureMismatch
	}
	return nil
}

// errSignatureMismatch is the one VerifyJWS error a wrong secret produces.
var errSignatureMismatch = errors.New("the HMAC does not match")
