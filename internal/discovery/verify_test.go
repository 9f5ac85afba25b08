package discovery_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/kubebake/kubebake/internal/discovery"
	"github.com/kubebake/kubebake/internal/pin"
	"github.com/kubebake/kubebake/internal/token"
	"github.com/kubebake/kubebake/test/discoverytest"
)

func mustPins(t testing.TB, pins ...string) pin.Set {
	t.Helper()
	s, err := pin.NewSet(pins...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func failureOf(err error) discovery.Failure {
	var ve *discovery.VerifyError
	if errors.As(err, &ve) {
		return ve.Failure
	}
	return 0
}

// Verify keeps only the pinned CAs of the bundle; every other outcome is a
// classified failure.
func TestVerify(t *testing.T) {
	tok, _ := token.Generate()
	other, _ := token.Generate()
	pinned := discoverytest.NewCA(t, discoverytest.ECDSA)
	extra := discoverytest.NewCA(t, discoverytest.RSA)
	bundle := append(append([]byte{}, extra.PEM...), pinned.PEM...)
	kc := discoverytest.Kubeconfig(t, "https://api.example:6443", bundle)
	signed := map[string]string{tok.ID(): discoverytest.Sign(t, kc, tok)}

	v, err := discovery.Verify(discoverytest.ClusterInfo(t, kc, signed), tok, mustPins(t, pinned.Pin()))
	if err != nil {
		t.Fatal(err)
	}
	if len(v.CAs) != 1 || !v.CAs[0].Equal(pinned.Cert) || string(v.Bundle) != string(pinned.PEM) ||
		len(v.Unpinned) != 1 || !v.Unpinned[0].Equal(extra.Cert) || v.Server != "https://api.example:6443" || v.Kubeconfig != kc {
		t.Errorf("verified %+v", v)
	}

	garbled := discoverytest.Sign(t, kc, tok)
	garbled = garbled[:len(garbled)-4] + "AAAA"
	for _, tc := range []struct {
		name string
		body []byte
		pins pin.Set
		want discovery.Failure
		msg  string
	}{
		{"not JSON", []byte("<html>"), mustPins(t, pinned.Pin()), discovery.Unparsable, "not a Kubernetes ConfigMap"},
		{"unsigned", discoverytest.ClusterInfo(t, kc, nil), mustPins(t, pinned.Pin()), discovery.Unsigned, "signed for no token at all"},
		{"signed for another token", discoverytest.ClusterInfo(t, kc, map[string]string{other.ID(): discoverytest.Sign(t, kc, other)}), mustPins(t, pinned.Pin()), discovery.Unsigned, "signed for tokens " + other.ID()},
		{"garbled", discoverytest.ClusterInfo(t, kc, map[string]string{tok.ID(): garbled}), mustPins(t, pinned.Pin()), discovery.BadSignature, "does not verify with the token secret"},
		{"not a JWS", discoverytest.ClusterInfo(t, kc, map[string]string{tok.ID(): "x"}), mustPins(t, pinned.Pin()), discovery.BadSignature, "not a valid signature"},
		{"signed with another secret", discoverytest.ClusterInfo(t, kc, map[string]string{tok.ID(): discoverytest.Sign(t, kc, mustToken(t, tok.ID()+".0123456789abcdef"))}), mustPins(t, pinned.Pin()), discovery.BadSignature, "does not verify"},
		{"not pinned", discoverytest.ClusterInfo(t, kc, signed), mustPins(t, discoverytest.NewCA(t, discoverytest.ECDSA).Pin()), discovery.NotPinned, "matches any of the pinned hashes"},
		{"signed, unusable", discoverytest.ClusterInfo(t, "clusters: []", map[string]string{tok.ID(): discoverytest.Sign(t, "clusters: []", tok)}), mustPins(t, pinned.Pin()), discovery.SignedUnusable, "signed for token " + tok.ID() + " but unusable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := discovery.Verify(tc.body, tok, tc.pins)
			if got := failureOf(err); got != tc.want || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("failure %v (%v), want %v with %q", got, err, tc.want, tc.msg)
			}
			if strings.Contains(err.Error(), tok.Secret()) {
				t.Error("the error quotes the secret")
			}
			if tc.want.Signed() != (tc.want == discovery.NotPinned || tc.want == discovery.SignedUnusable) {
				t.Error("Signed() misclassifies")
			}
		})
	}
}

func mustToken(t testing.TB, s string) token.Token {
	t.Helper()
	tok, err := token.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// FuzzVerify: whatever arrives, Verify never panics, never quotes the
// secret, and accepts only a cluster-info signed with the token, keeping
// only pinned CAs. The seeds are a few KB: run it with -fuzzminimizetime 0,
// or the engine spends minutes minimizing each new input.
func FuzzVerify(f *testing.F) {
	tok := mustToken(f, tokenID+"."+tokenSecret)
	pinned := discoverytest.NewCA(f, discoverytest.ECDSA)
	extra := discoverytest.NewCA(f, discoverytest.ECDSA)
	pins := mustPins(f, pinned.Pin())
	kc := discoverytest.Kubeconfig(f, "https://10.0.0.10:6443", append(append([]byte{}, extra.PEM...), pinned.PEM...))
	good := discoverytest.ClusterInfo(f, kc, map[string]string{tok.ID(): discoverytest.Sign(f, kc, tok)})
	f.Add(good)
	f.Add(discoverytest.ClusterInfo(f, kc, nil))
	f.Add([]byte(`{"kind":"ConfigMap","data":{"kubeconfig":"x","jws-kubeconfig-` + tokenID + `":"eyJhbGciOiJIUzI1NiIsImtpZCI6ImFiY2RlZiJ9..AAAA"}}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		v, err := discovery.Verify(body, tok, pins)
		if err != nil {
			if strings.Contains(err.Error(), tokenSecret) {
				t.Fatalf("error %q holds the secret", err)
			}
			if failureOf(err) == 0 {
				t.Fatalf("unclassified failure %v", err)
			}
			return
		}
		if len(v.CAs) == 0 || len(v.CAs) != len(v.Pins) {
			t.Fatalf("verified with %d CAs, %d pins", len(v.CAs), len(v.Pins))
		}
		for _, c := range v.CAs {
			if !pins.Has(c) {
				t.Fatalf("an unpinned CA %s is trusted", pin.Hash(c))
			}
		}
		for _, c := range v.Unpinned {
			if pins.Has(c) {
				t.Fatalf("a pinned CA is listed as unpinned")
			}
		}
		// Only what the token signed passes: the exact kubeconfig bytes.
		if v.Kubeconfig != kc {
			t.Fatalf("a kubeconfig the test never signed verifies:\n%q", v.Kubeconfig)
		}
	})
}
