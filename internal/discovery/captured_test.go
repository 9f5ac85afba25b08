package discovery

import (
	"os"
	"strings"
	"testing"

	"github.com/kubebake/kubebake/internal/pin"
	"github.com/kubebake/kubebake/internal/token"
)

// The testdata holds cluster-info as a real kube-apiserver v1.37.2 served
// it, signed by its real bootstrapsigner, for a throwaway token of a test
// cluster that no longer exists (kube-apiserver-v1.37.2-token: the token,
// then the cluster CA's pin). It checks discovery's parsing against the
// real thing without starting a control plane.
func loadCapture(t testing.TB) ([]byte, token.Token, string) {
	t.Helper()
	body, err := os.ReadFile("testdata/kube-apiserver-v1.37.2-cluster-info.json")
	if err != nil {
		t.Fatal(err)
	}
	meta, err := os.ReadFile("testdata/kube-apiserver-v1.37.2-token")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Fields(string(meta))
	tok, err := token.Parse(lines[0])
	if err != nil {
		t.Fatal(err)
	}
	return body, tok, lines[1]
}

func TestCapturedClusterInfo(t *testing.T) {
	body, tok, wantPin := loadCapture(t)
	ci, err := parseClusterInfo(body)
	if err != nil {
		t.Fatal(err)
	}
	sig, ok := ci.Signatures[tok.ID()]
	if !ok {
		t.Fatalf("no signature for %s; have %v", tok.ID(), signedIDs(ci.Signatures))
	}
	if err := VerifyJWS(sig, []byte(ci.Kubeconfig), tok.ID(), tok.Secret()); err != nil {
		t.Errorf("the real bootstrapsigner's JWS does not verify: %v", err)
	}
	if err := VerifyJWS(sig, []byte(ci.Kubeconfig+"\n"), tok.ID(), tok.Secret()); err == nil {
		t.Error("a changed kubeconfig verifies")
	}
	set, _ := pin.NewSet(wantPin)
	v, err := Verify(body, tok, set)
	if err != nil {
		t.Fatalf("the real cluster-info does not verify with its pin %s: %v", wantPin, err)
	}
	if len(v.CAs) != 1 || v.Pins[0] != wantPin || !strings.HasPrefix(v.Server, "https://") {
		t.Errorf("verified %+v", v)
	}
}

func FuzzCapturedJWS(f *testing.F) {
	body, tok, _ := loadCapture(f)
	ci, err := parseClusterInfo(body)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(ci.Signatures[tok.ID()], ci.Kubeconfig)
	f.Fuzz(func(t *testing.T, sig, kubeconfig string) {
		err := VerifyJWS(sig, []byte(kubeconfig), tok.ID(), tok.Secret())
		if err == nil && (sig != ci.Signatures[tok.ID()] || kubeconfig != ci.Kubeconfig) {
			// Another (sig, payload) pair verifying would be a forgery,
			// unless it is only the same header spelled differently.
			h, _, _ := strings.Cut(sig, "..")
			if h == strings.SplitN(ci.Signatures[tok.ID()], "..", 2)[0] && kubeconfig != ci.Kubeconfig {
				t.Fatalf("a forged payload verifies")
			}
		}
	})
}
