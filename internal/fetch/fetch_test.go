package fetch

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

var payload = []byte("#!/bin/sh\necho kubelet\n")

func sha512Of(b []byte) string { s := sha512.Sum512(b); return "sha512-" + hex.EncodeToString(s[:]) }
func sha256Of(b []byte) string { s := sha256.Sum256(b); return "sha256-" + hex.EncodeToString(s[:]) }

func noWait(int) time.Duration { return time.Millisecond }

// leftovers lists what is in dir besides want.
func leftovers(t *testing.T, dir string, want ...string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var extra []string
outer:
	for _, e := range ents {
		for _, w := range want {
			if e.Name() == w {
				continue outer
			}
		}
		extra = append(extra, e.Name())
	}
	return extra
}

func serve(t *testing.T, h http.HandlerFunc) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func TestInstallRightHash(t *testing.T) {
	for _, hash := range []string{sha512Of(payload), sha256Of(payload)} {
		srv := serve(t, func(w http.ResponseWriter, r *http.Request) { w.Write(payload) })
		root := t.TempDir()
		f := File{URL: srv.URL + "/v1/kubelet", Hash: hash, Path: "/opt/bin/kubelet"}
		if err := Run(context.Background(), &Config{Files: []File{f}}, Options{Root: root, Client: srv.Client(), Backoff: noWait}); err != nil {
			t.Fatal(err)
		}
		target := filepath.Join(root, "opt/bin/kubelet")
		got, err := os.ReadFile(target)
		if err != nil || string(got) != string(payload) {
			t.Fatalf("%s: %q, %v", target, got, err)
		}
		st, _ := os.Stat(target)
		if st.Mode().Perm() != 0o755 {
			t.Errorf("mode %v, want 0755", st.Mode().Perm())
		}
		if extra := leftovers(t, filepath.Dir(target), "kubelet"); extra != nil {
			t.Errorf("left behind: %v", extra)
		}
	}
}

// A wrong hash installs nothing, leaves no temporary file, and says which
// URL, which hash was expected and which arrived; Run retries it until its
// context ends.
func TestWrongHashInstallsNothing(t *testing.T) {
	var hits atomic.Int32
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) { hits.Add(1); w.Write(payload) })
	root := t.TempDir()
	want := sha512Of([]byte("another kubelet"))
	f := File{URL: srv.URL + "/kubelet", Hash: want, Path: "/usr/bin/kubelet"}
	var log strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := Run(ctx, &Config{Files: []File{f}}, Options{Root: root, Client: srv.Client(), Backoff: func(int) time.Duration { return 20 * time.Millisecond },
		Logf: func(format string, a ...any) { fmt.Fprintf(&log, format+"\n", a...) }})
	if err == nil {
		t.Fatal("a wrong hash installed")
	}
	if hits.Load() < 2 {
		t.Errorf("%d attempts: a mismatch must be retried", hits.Load())
	}
	if _, err := os.Lstat(filepath.Join(root, "usr/bin/kubelet")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("something is at the path: %v", err)
	}
	if extra := leftovers(t, filepath.Join(root, "usr/bin")); extra != nil {
		t.Errorf("left behind: %v", extra)
	}
	for _, s := range []string{srv.URL + "/kubelet", "expected " + want, "got " + sha512Of(payload), "nothing installed at /usr/bin/kubelet"} {
		if !strings.Contains(log.String(), s) {
			t.Errorf("the log does not say %q:\n%s", s, log.String())
		}
	}
}

func TestMismatchError(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) { w.Write(payload) })
	f := File{URL: srv.URL + "/kubelet", Hash: sha256Of(nil), Path: "/usr/bin/kubelet"}
	err := Install(context.Background(), srv.Client(), f, Options{Root: t.TempDir(), MaxSize: MaxSize})
	var me *MismatchError
	if !errors.As(err, &me) || me.Got.String() != sha256Of(payload) {
		t.Fatalf("%v", err)
	}
}

// Transient failures (5xx, a body cut short) are retried until the file
// arrives whole.
func TestRetriesTransientErrors(t *testing.T) {
	var n atomic.Int32
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) {
		case 1:
			http.Error(w, "busy", http.StatusServiceUnavailable)
		case 2:
			w.Header().Set("Content-Length", fmt.Sprint(len(payload)+10))
			w.Write(payload) // cut short
		case 3:
			w.Write([]byte("garbage")) // wrong hash: a mirror mid-update, or someone on the path
		default:
			w.Write(payload)
		}
	})
	root := t.TempDir()
	var log strings.Builder
	f := File{URL: srv.URL + "/kubelet", Hash: sha512Of(payload), Path: "/usr/bin/kubelet"}
	err := Run(context.Background(), &Config{Files: []File{f}}, Options{Root: root, Client: srv.Client(), Backoff: noWait,
		Logf: func(format string, a ...any) { fmt.Fprintf(&log, format+"\n", a...) }})
	if err != nil {
		t.Fatal(err)
	}
	if n.Load() != 4 {
		t.Errorf("%d requests, want 4", n.Load())
	}
	for _, s := range []string{"503", "after 23 bytes", "hash mismatch", "installed /usr/bin/kubelet"} {
		if !strings.Contains(log.String(), s) {
			t.Errorf("the log does not say %q:\n%s", s, log.String())
		}
	}
	if extra := leftovers(t, filepath.Join(root, "usr/bin"), "kubelet"); extra != nil {
		t.Errorf("left behind: %v", extra)
	}
}

// A file that is there with the right hash is not fetched again (a restart
// after a later step failed); one with another hash is replaced.
func TestAlreadyInstalled(t *testing.T) {
	var hits atomic.Int32
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) { hits.Add(1); w.Write(payload) })
	root := t.TempDir()
	target := filepath.Join(root, "usr/bin/kubelet")
	os.MkdirAll(filepath.Dir(target), 0o755)
	os.WriteFile(target, payload, 0o755)
	f := File{URL: srv.URL + "/kubelet", Hash: sha512Of(payload), Path: "/usr/bin/kubelet"}
	if err := Run(context.Background(), &Config{Files: []File{f}}, Options{Root: root, Client: srv.Client()}); err != nil {
		t.Fatal(err)
	}
	if hits.Load() != 0 {
		t.Errorf("fetched a file that was there")
	}
	os.WriteFile(target, []byte("old"), 0o755)
	if err := Run(context.Background(), &Config{Files: []File{f}}, Options{Root: root, Client: srv.Client()}); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(target); string(got) != string(payload) || hits.Load() != 1 {
		t.Errorf("not replaced: %q after %d requests", got, hits.Load())
	}
}

func TestLinkHeadersRedirect(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/old/kubernetes.raw", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/new/kubernetes.raw", http.StatusFound)
	})
	mux.HandleFunc("/new/kubernetes.raw", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Mirror-Key") != "k" {
			http.Error(w, "no key", http.StatusForbidden)
			return
		}
		w.Write(payload)
	})
	srv := serve(t, mux.ServeHTTP)
	root := t.TempDir()
	f := File{URL: srv.URL + "/old/kubernetes.raw", Hash: sha512Of(payload), Path: "/opt/extensions/kubernetes/kubernetes-v1.37.2-x86-64.raw",
		Link: "/etc/extensions/kubernetes.raw", HTTPHeaders: []Header{{"X-Mirror-Key", "k"}}}
	f.Mode = "0644"
	for range 2 { // the second run finds both in place
		if err := Run(context.Background(), &Config{Files: []File{f}}, Options{Root: root, Client: srv.Client()}); err != nil {
			t.Fatal(err)
		}
	}
	if dest, err := os.Readlink(filepath.Join(root, f.Link)); err != nil || dest != f.Path {
		t.Fatalf("link: %q, %v", dest, err)
	}
	if st, err := os.Stat(filepath.Join(root, f.Path)); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("mode: %v, %v; want 0644", st.Mode(), err)
	}
}

// Neither a declared nor a streamed body larger than the cap is kept.
func TestSizeCap(t *testing.T) {
	big := []byte(strings.Repeat("x", 100))
	for _, declare := range []bool{true, false} {
		srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
			if !declare {
				w.Header().Set("Transfer-Encoding", "chunked")
				w.(http.Flusher).Flush()
			}
			w.Write(big)
		})
		root := t.TempDir()
		f := File{URL: srv.URL + "/kubelet", Hash: sha512Of(big), Path: "/kubelet"}
		err := Install(context.Background(), srv.Client(), f, Options{Root: root, MaxSize: 50})
		if err == nil || !strings.Contains(err.Error(), "50") {
			t.Errorf("declared %v: %v", declare, err)
		}
		if extra := leftovers(t, root); extra != nil {
			t.Errorf("left behind: %v", extra)
		}
	}
}

// An https mirror whose CA is given in the config.
func TestMirrorCA(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(payload) }))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	ca := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))
	f := File{URL: srv.URL + "/kubelet", Hash: sha512Of(payload), Path: "/kubelet"}
	plain, _ := NewClient("")
	if err := Install(context.Background(), plain, f, Options{Root: t.TempDir(), MaxSize: MaxSize}); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("an unknown CA was trusted: %v", err)
	}
	withCA, err := NewClient(ca)
	if err != nil {
		t.Fatal(err)
	}
	if err := Install(context.Background(), withCA, f, Options{Root: t.TempDir(), MaxSize: MaxSize}); err != nil {
		t.Error(err)
	}
}

func TestParseHash(t *testing.T) {
	good := []string{sha512Of(payload), sha256Of(payload)}
	for _, s := range good {
		h, err := ParseHash(s)
		if err != nil || h.String() != s {
			t.Errorf("%s: %v, %v", s, h, err)
		}
	}
	bad := []string{"", "sha512", "md5-" + strings.Repeat("0", 32), "sha256-" + strings.Repeat("0", 63),
		"sha256-" + strings.Repeat("A", 64), "sha256-" + strings.Repeat("g", 64), "sha256:" + strings.Repeat("0", 64),
		"sha512-" + strings.Repeat("0", 64)}
	for _, s := range bad {
		if _, err := ParseHash(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
}

func TestParseURL(t *testing.T) {
	for _, s := range []string{"http://10.0.2.2:8080/kubelet", "https://dl.k8s.io/release/v1.37.2/bin/linux/amd64/kubelet"} {
		if _, err := ParseURL(s); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	for _, s := range []string{"", "dl.k8s.io/kubelet", "ftp://h/kubelet", "file:///kubelet", "s3://b/kubelet", "https://h", "https://h/", "https://h/dir/", "https:///kubelet", "https://h/a b", "https://h/k#x"} {
		if _, err := ParseURL(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
}

func TestParseConfig(t *testing.T) {
	good := fmt.Sprintf("apiVersion: %s\nkind: %s\nfiles:\n- url: http://m/kubelet\n  hash: %s\n  path: /usr/bin/kubelet\n", APIVersion, Kind, sha512Of(payload))
	if _, err := Parse([]byte(good)); err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]string{
		"unknown key":   good + "mode: 0644\n",
		"no files":      fmt.Sprintf("apiVersion: %s\nkind: %s\nfiles: []\n", APIVersion, Kind),
		"relative path": strings.Replace(good, "/usr/bin/kubelet", "kubelet", 1),
		"bad hash":      strings.Replace(good, "sha512-", "sha1-", 1),
		"bad kind":      strings.Replace(good, Kind, "JoinConfiguration", 1),
		"bad CA":        good + "certificateAuthorities: nope\n",
		"bad mode":      strings.Replace(good, "  path:", "  mode: \"0888\"\n  path:", 1),
	} {
		if _, err := Parse([]byte(s)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
