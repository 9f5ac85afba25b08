package main

import (
	"bytes"
	"context"
	"crypto/sha512"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubebake/kubebake/internal/fetch"
	"sigs.k8s.io/yaml"
)

func writeFetchConfig(t *testing.T, root string, files ...fetch.File) {
	t.Helper()
	b, err := yaml.Marshal(fetch.Config{APIVersion: fetch.APIVersion, Kind: fetch.Kind, Files: files})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(root, fetch.DefaultPath)
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// kubebake-join fetch installs a verified file (0) and exits 1, with the
// URL and both hashes in the log and nothing at the path, on a mismatch
// that lasts until its deadline.
func TestFetchSubcommand(t *testing.T) {
	bin := []byte("kubelet bytes")
	sum := sha512.Sum512(bin)
	good := "sha512-" + hex.EncodeToString(sum[:])
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(bin) }))
	defer srv.Close()

	root := t.TempDir()
	writeFetchConfig(t, root, fetch.File{URL: srv.URL + "/kubelet", Hash: good, Path: "/usr/bin/kubelet"})
	var stderr bytes.Buffer
	if code := run(context.Background(), []string{"fetch", "--root", root}, &stderr, benchOptions()); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if st, err := os.Stat(filepath.Join(root, "usr/bin/kubelet")); err != nil || st.Mode().Perm() != 0o755 {
		t.Fatalf("%v %v", st, err)
	}

	root = t.TempDir()
	bad := "sha512-" + strings.Repeat("0", 128)
	writeFetchConfig(t, root, fetch.File{URL: srv.URL + "/kubelet", Hash: bad, Path: "/usr/bin/kubelet"})
	stderr.Reset()
	start := time.Now()
	if code := run(context.Background(), []string{"fetch", "--root", root, "--timeout", "1500ms"}, &stderr, benchOptions()); code != 1 {
		t.Fatalf("exit %d, want 1: %s", code, stderr.String())
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("the deadline was not kept")
	}
	for _, s := range []string{srv.URL + "/kubelet", "expected " + bad, "got " + good, "nothing installed at /usr/bin/kubelet", "the join does not start"} {
		if !strings.Contains(stderr.String(), s) {
			t.Errorf("the log does not say %q:\n%s", s, stderr.String())
		}
	}
	if _, err := os.Lstat(filepath.Join(root, "usr/bin/kubelet")); err == nil {
		t.Error("a file with the wrong hash was installed")
	}

	for _, args := range [][]string{{"fetch", "--root", t.TempDir()}, {"fetch", "extra"}, {"fetch", "--timeout", "0s"}} {
		stderr.Reset()
		if code := run(context.Background(), args, &stderr, benchOptions()); code != badConfig {
			t.Errorf("%v: exit %d, want 78: %s", args, code, stderr.String())
		}
	}
}
