package consumers

import (
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
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

// TestStockKubeletCloudInit: real cloud-init lays down the fetch
// configuration and the join's drop-in that runs kubebake-join fetch first;
// the agent built from this tree then runs as the drop-in says and installs
// the kubelet from a server on loopback only when its hash matched: while
// the server sends other bytes it installs nothing and names both hashes,
// then it installs the right ones 0755. (One cloud-init run: it takes a
// minute or two.)
func TestStockKubeletCloudInit(t *testing.T) {
	ready(t)
	kubelet := []byte("#!/bin/sh\n# a kubelet served by a mirror\n")
	var serve atomic.Value
	serve.Store([]byte("other bytes\n"))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(serve.Load().([]byte)) }))
	defer srv.Close()
	sum := sha512.Sum512(kubelet)
	hash := "sha512-" + hex.EncodeToString(sum[:])
	in := inputs{runtime: "containerd", joinBinary: "baked"}
	userData := render(t, in, "cloud-init", "--kubelet-url", srv.URL+"/kubelet", "--kubelet-hash", hash)
	ct.SchemaCheck(t, userData)
	a, _ := applyUserData(t, userData, renderPlan(t, in))
	dropin, err := os.ReadFile(filepath.Join(a.root, "etc/systemd/system/kubebake-join.service.d/50-kubebake-fetch.conf"))
	if err != nil {
		t.Fatal(err)
	}
	var pre []string
	for _, line := range strings.Split(string(dropin), "\n") {
		if v, ok := strings.CutPrefix(line, "ExecStartPre="); ok {
			pre = append(pre, v)
		}
	}
	if len(pre) != 1 || !strings.HasPrefix(pre[0], "/usr/local/bin/kubebake-join fetch ") {
		t.Fatalf("ExecStartPre= lines %q: want the agent's fetch", pre)
	}
	fetch := func() (string, error) {
		args := append(strings.Fields(pre[0])[1:], "--root", a.root, "--timeout", "3s")
		out, err := exec.Command(agentBin, args...).CombinedOutput()
		return string(out), err
	}
	target := filepath.Join(a.root, "usr/bin/kubelet")
	out, err := fetch()
	if err == nil || !strings.Contains(out, "hash mismatch: expected "+hash) || !strings.Contains(out, srv.URL+"/kubelet") {
		t.Fatalf("kubebake-join fetch while the server sends other bytes: %v\n%s", err, out)
	}
	if _, err := os.Lstat(target); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("/usr/bin/kubelet exists after a mismatch: %v", err)
	}
	serve.Store(kubelet)
	if out, err := fetch(); err != nil {
		t.Fatalf("kubebake-join fetch: %v\n%s", err, out)
	}
	if got, err := os.ReadFile(target); err != nil || string(got) != string(kubelet) {
		t.Fatalf("/usr/bin/kubelet: %q, %v", got, err)
	}
	if st, _ := os.Stat(target); st.Mode().Perm() != 0o755 {
		t.Errorf("/usr/bin/kubelet has mode %04o", st.Mode().Perm())
	}
}
