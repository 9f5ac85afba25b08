package discovery_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubebake/kubebake/test/discoverytest"
)

// TestPinsMatchOpenSSL checks the pins discovery matches against the
// pipeline users run by hand (REFERENCE §2.5, kubeadm's documentation):
// openssl x509 -pubkey | openssl rsa -pubin -outform der | openssl dgst -sha256
// (openssl pkey for non-RSA keys).
func TestPinsMatchOpenSSL(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("openssl is not installed; CI=true, so this fails instead of skipping: apt-get install -y openssl")
		}
		t.Skip("openssl is not installed: apt-get install -y openssl")
	}
	for _, tc := range []struct {
		kt  discoverytest.KeyType
		cmd string
	}{
		{discoverytest.RSA, "rsa"},
		{discoverytest.ECDSA, "pkey"},
	} {
		t.Run(string(tc.kt), func(t *testing.T) {
			ca := discoverytest.NewCA(t, tc.kt)
			f := filepath.Join(t.TempDir(), "ca.crt")
			if err := os.WriteFile(f, ca.PEM, 0o644); err != nil {
				t.Fatal(err)
			}
			script := "set -o pipefail; openssl x509 -pubkey -noout -in \"$1\" | openssl " + tc.cmd + " -pubin -outform der 2>/dev/null | openssl dgst -sha256"
			out, err := exec.Command("bash", "-c", script, "pin", f).CombinedOutput()
			if err != nil {
				t.Fatalf("openssl: %v\n%s", err, out)
			}
			fields := strings.Fields(string(out))
			if len(fields) == 0 {
				t.Fatalf("openssl printed nothing")
			}
			want := "sha256:" + fields[len(fields)-1]
			if got := ca.Pin(); got != want {
				t.Errorf("pin %s, openssl says %s", got, want)
			}
			// And discovery accepts the cluster with openssl's value as the pin.
			srv := discoverytest.NewServer(t, discoverytest.Options{CA: ca})
			if _, err := discover(t, srv, []string{strings.ToUpper(want[:7]) + want[7:]}); err != nil {
				t.Errorf("discovery with openssl's pin: %v", err)
			}
		})
	}
}
