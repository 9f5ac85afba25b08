package discovery_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/kubebake/kubebake/internal/discovery"
	"k8s.io/cluster-bootstrap/token/jws"
)

const (
	tokenID     = "07401b"
	tokenSecret = "f395accd246ae52d"
	payload     = "apiVersion: v1\nclusters:\n- cluster:\n    server: https://10.0.0.10:6443\n  name: \"\"\nkind: Config\n"
)

func reference(t testing.TB, content, id, secret string) string {
	t.Helper()
	s, err := jws.ComputeDetachedSignature(content, id, secret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func TestVerifyJWSAcceptsTheReference(t *testing.T) {
	for _, content := range []string{payload, "", "x", strings.Repeat("ünïcödé\n", 500)} {
		sig := reference(t, content, tokenID, tokenSecret)
		if err := discovery.VerifyJWS(sig, []byte(content), tokenID, tokenSecret); err != nil {
			t.Errorf("reference signature over %d bytes refused: %v", len(content), err)
		}
	}
}

func TestVerifyJWSRefuses(t *testing.T) {
	good := reference(t, payload, tokenID, tokenSecret)
	header, sig, _ := strings.Cut(good, "..")
	// A correctly MACed JWS with another header, to show the header checks
	// are what refuses it.
	withHeader := func(h string) string {
		hb := b64(h)
		return hb + ".." + macOver(tokenSecret, hb, payload)
	}
	for _, tc := range []struct {
		name, sig, content, id, secret, want string
	}{
		{"wrong secret", good, payload, tokenID, "0123456789abcdef", "HMAC does not match"},
		{"other content", good, payload + " ", tokenID, tokenSecret, "HMAC does not match"},
		{"other token id", good, payload, "abcdef", tokenSecret, `kid "07401b", want the token id "abcdef"`},
		{"signed by another token", reference(t, payload, "abcdef", tokenSecret), payload, tokenID, tokenSecret, `kid "abcdef"`},
		{"attached payload", header + "." + b64(payload) + "." + sig, payload, tokenID, tokenSecret, "carries its payload"},
		{"two parts", header + "." + sig, payload, tokenID, tokenSecret, "2 dot-separated parts"},
		{"white space", header + "..\n" + sig, payload, tokenID, tokenSecret, "white space"},
		{"empty", "", payload, tokenID, tokenSecret, "1 dot-separated parts"},
		{"alg none", withHeader(`{"alg":"none","kid":"07401b"}`), payload, tokenID, tokenSecret, "does not parse"},
		{"alg HS512", withHeader(`{"alg":"HS512","kid":"07401b"}`), payload, tokenID, tokenSecret, "does not parse"},
		{"crit", withHeader(`{"alg":"HS256","kid":"07401b","crit":["exp"],"exp":1}`), payload, tokenID, tokenSecret, "more than alg and kid"},
		{"b64 false", withHeader(`{"alg":"HS256","kid":"07401b","b64":false,"crit":["b64"]}`), payload, tokenID, tokenSecret, "more than alg and kid"},
		{"extra header", withHeader(`{"alg":"HS256","kid":"07401b","typ":"JWT"}`), payload, tokenID, tokenSecret, "more than alg and kid"},
		{"nonce", withHeader(`{"alg":"HS256","kid":"07401b","nonce":"x"}`), payload, tokenID, tokenSecret, "more than alg and kid"},
		{"truncated signature", good[:len(good)-4], payload, tokenID, tokenSecret, ""},
		{"huge", strings.Repeat("a", 5000), payload, tokenID, tokenSecret, "more than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := discovery.VerifyJWS(tc.sig, []byte(tc.content), tc.id, tc.secret)
			if err == nil {
				t.Fatal("accepted")
			}
			t.Logf("%s: %v", tc.name, err)
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q lacks %q", err, tc.want)
			}
			if strings.Contains(err.Error(), tc.secret) {
				t.Errorf("error %q holds the secret", err)
			}
			if jws.DetachedTokenIsValid(tc.sig, tc.content, tc.id, tc.secret) {
				t.Errorf("the reference accepts what VerifyJWS refuses")
			}
		})
	}
}

func FuzzVerifyJWS(f *testing.F) {
	f.Add(reference(f, payload, tokenID, tokenSecret), payload, tokenID, tokenSecret)
	f.Add(reference(f, "", tokenID, tokenSecret), "", tokenID, tokenSecret)
	f.Add(reference(f, payload, tokenID, tokenSecret), payload, tokenID, "0123456789abcdef")
	f.Add("eyJhbGciOiJIUzI1NiIsImtpZCI6IjkxMDQwZiJ9..UYyEW_", payload, "91040f", tokenSecret)
	f.Add("..", "", "", "")
	f.Add(b64(`{"alg":"HS256","kid":"07401b","crit":["b64"],"b64":false}`)+"..AAAA", payload, tokenID, tokenSecret)
	f.Fuzz(func(t *testing.T, sig, content, id, secret string) {
		err := discovery.VerifyJWS(sig, []byte(content), id, secret)
		ref := jws.DetachedTokenIsValid(sig, content, id, secret)
		// Whatever the reference accepts, we accept (for secrets the
		// reference can sign with); whatever we accept carries a correct MAC.
		if ref && secret != "" && err != nil {
			t.Fatalf("the reference accepts %q, VerifyJWS refuses: %v", sig, err)
		}
		if err == nil {
			h, _, _ := strings.Cut(sig, "..")
			if want := h + ".." + macOver(secret, h, content); sig != want && !ref {
				t.Fatalf("VerifyJWS accepted %q, whose MAC is not over the payload", sig)
			}
		}
		if err != nil && secret != "" && len(secret) >= 4 && strings.Contains(err.Error(), secret) {
			t.Fatalf("error %q holds the secret", err)
		}
	})
}
