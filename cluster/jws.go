package cluster

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// VerifyJWS checks that sig is the detached JWS ("header..signature", RFC
// 7515 appendix F) the bootstrapsigner controller puts in cluster-info for
// token tokenID.secret: protected header {"alg":"HS256","kid":tokenID}, HMAC-
// SHA256 keyed with the secret over base64url(header) "." base64url(payload).
// The MAC is compared in constant time. Errors never quote the secret.
func VerifyJWS(sig string, payload []byte, tokenID, secret string) error {
	if len(sig) > 4096 {
		return errors.New("the JWS is longer than any the bootstrapsigner writes")
	}
	parts := strings.Split(sig, ".")
	if len(parts) != 3 || parts[1] != "" {
		return errors.New("not a detached compact JWS (header..signature)")
	}
	hdrJSON, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return fmt.Errorf("the JWS header is not base64url: %v", err)
	}
	var hdr map[string]any
	if err := json.Unmarshal(hdrJSON, &hdr); err != nil {
		return fmt.Errorf("the JWS header is not JSON: %v", err)
	}
	if hdr["alg"] != "HS256" {
		return fmt.Errorf("the JWS header names alg %v, want HS256", hdr["alg"])
	}
	if hdr["kid"] != tokenID {
		return fmt.Errorf("the JWS header names kid %v, want the token id %q", hdr["kid"], tokenID)
	}
	for _, k := range []string{"crit", "b64"} {
		if _, ok := hdr[k]; ok {
			return fmt.Errorf("the JWS header holds %q, which the bootstrapsigner never sets", k)
		}
	}
	got, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return fmt.Errorf("the JWS signature is not base64url: %v", err)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload)))
	if !hmac.Equal(mac.Sum(nil), got) {
		return errors.New("the signature was not made with this token's secret")
	}
	return nil
}
