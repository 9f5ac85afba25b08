package consumers

import (
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	ct "github.com/kubebake/kubebake/test/consumertest"
)

// TestStockKubeletIgnition: the real Ignition applier fetches the kubelet
// of --kubelet-url from a server on loopback. The right hash installs it at
// the kubelet's path, 0755; a wrong one fails the files stage (on a node:
// the boot stops in the initramfs) and leaves nothing at the path.
func TestStockKubeletIgnition(t *testing.T) {
	ready(t)
	kubelet := []byte("#!/bin/sh\n# a kubelet served by a mirror\nexec sleep infinity\n")
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path != "/v1.37.2/bin/linux/amd64/kubelet" {
			http.NotFound(w, r)
			return
		}
		w.Write(kubelet)
	}))
	defer srv.Close()
	url := srv.URL + "/v1.37.2/bin/linux/amd64/kubelet"
	sum := sha512.Sum512(kubelet)
	right := "sha512-" + hex.EncodeToString(sum[:])
	wrong := "sha512-" + strings.Repeat("0", 128)
	for _, variant := range variants {
		in := inputs{variant: variant, runtime: "containerd", joinBinary: "baked"}
		plan := renderPlan(t, in)
		kubeletPath := "/usr/bin/kubelet"
		if variant == "flatcar" {
			kubeletPath = "/opt/bin/kubelet"
		}
		for _, c := range []struct {
			name, hash string
			ok         bool
		}{{"right hash", right, true}, {"wrong hash", wrong, false}} {
			t.Run(variant+" "+c.name, func(t *testing.T) {
				cfg := filepath.Join(t.TempDir(), "config.ign")
				if err := os.WriteFile(cfg, render(t, in, "ignition", "--kubelet-url", url, "--kubelet-hash", c.hash), 0o600); err != nil {
					t.Fatal(err)
				}
				root := t.TempDir()
				ct.ImageRoot(t, root, plan.ImageUnits()...)
				before := hits.Load()
				run := ct.RunIgnitionNet(t, cfg, root)
				if hits.Load() == before {
					t.Fatalf("the applier never asked the server for the kubelet:\n%s", run.Log)
				}
				target := filepath.Join(root, kubeletPath)
				if !c.ok {
					if run.Err == nil {
						t.Fatalf("a wrong hash did not fail the files stage:\n%s", run.Log)
					}
					if !strings.Contains(run.Log, "hash verification failed") {
						t.Errorf("the applier's log does not say the hash failed:\n%s", run.Log)
					}
					if _, err := os.Lstat(target); !errors.Is(err, os.ErrNotExist) {
						t.Errorf("%s exists after a failed verification: %v", kubeletPath, err)
					}
					return
				}
				if run.Err != nil {
					t.Fatalf("ignition failed: %v\n%s", run.Err, run.Log)
				}
				if bad := ct.IgnitionComplaints(run.Log); len(bad) > 0 {
					t.Errorf("ignition reported:\n%s", strings.Join(bad, "\n"))
				}
				got, err := os.ReadFile(target)
				if err != nil || string(got) != string(kubelet) {
					t.Fatalf("%s: %q, %v", kubeletPath, got, err)
				}
				if st, _ := os.Stat(target); st.Mode().Perm() != 0o755 {
					t.Errorf("%s has mode %04o, want 0755", kubeletPath, st.Mode().Perm())
				}
			})
		}
	}
}
