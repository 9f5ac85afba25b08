package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// buildKubebake builds the real kubebake binary into the test's temporary
// directory, for tests that need a process of their own (another user's,
// a signal's). Go's build cache makes the second build quick.
func buildKubebake(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "kubebake")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// Issue 18, item 5: SIGHUP (a closed terminal) or SIGQUIT at any moment of
// a render leaves no temporary file or directory beside -o or --out-dir.
// Before, 300 renders with SIGHUP at 10-70 ms left 38 files, 20 of them
// whole outputs with the token.
func TestSignalsLeaveNoToken(t *testing.T) {
	bin := buildKubebake(t)
	dir := t.TempDir()
	common := []string{"--ca", "../../testdata/ca.crt", "--token-file", "../../testdata/token", "--api-server", "10.0.0.10:6443"}
	sigs := []syscall.Signal{syscall.SIGHUP, syscall.SIGQUIT}
	for i := 0; i < 24; i++ {
		args := append([]string{"render"}, common...)
		if i%2 == 0 {
			args = append(args, "-o", filepath.Join(dir, "worker.ign"))
		} else {
			args = append(args, "--nodes", "../../testdata/fleet/nodes.yaml", "--out-dir", filepath.Join(dir, "fleet"))
		}
		c := exec.Command(bin, args...)
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(5+i*4) * time.Millisecond)
		c.Process.Signal(sigs[i%2])
		c.Wait()
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if strings.Contains(e.Name(), ".tmp-") {
				t.Fatalf("after %v at %d ms: %s left beside the output", sigs[i%2], 5+i*4, e.Name())
			}
		}
	}
}

// Issue 18, item 1: another local user plants a FIFO or a symbolic link at
// the path root names with -o, or a FIFO at --token-file, to steal the
// token or feed their own. The real kubebake binary, run by root, against
// things made by a real other user (nobody, through the kernel's
// credentials, not a mocked owner). Before the fix the FIFO's reader got
// the token and render took the planted one.
func TestPlantedPathsRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to act as another user")
	}
	const nobody = 65534
	bin := buildKubebake(t)
	// A directory like /tmp: every user may write it, sticky.
	base := t.TempDir()
	for d := base; d != filepath.Dir(os.TempDir()) && d != "/"; d = filepath.Dir(d) {
		if fi, err := os.Stat(d); err == nil && fi.Mode().Perm()&0o005 != 0o005 {
			os.Chmod(d, fi.Mode().Perm()|0o055) // let nobody in
		}
	}
	shared := filepath.Join(base, "tmp")
	if err := os.Mkdir(shared, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(shared, os.ModeSticky|0o777); err != nil {
		t.Fatal(err)
	}
	asNobody := func(name string, args ...string) *exec.Cmd {
		c := exec.Command(name, args...)
		c.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
		return c
	}
	runNobody := func(name string, args ...string) {
		t.Helper()
		if out, err := asNobody(name, args...).CombinedOutput(); err != nil {
			t.Fatalf("as nobody: %s %v: %v\n%s", name, args, err, out)
		}
	}
	kubebake := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		c := exec.Command(bin, args...)
		c.Stdout, c.Stderr = &stdout, &stderr
		err := c.Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return code, stdout.String(), stderr.String()
	}
	// openReader opens a FIFO for reading without blocking, as the
	// attacker's `cat fifo > stolen &` would be waiting.
	openReader := func(p string) *os.File {
		t.Helper()
		f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	drained := func(f *os.File) string {
		b := make([]byte, 4096)
		n, _ := f.Read(b)
		return string(b[:max(n, 0)])
	}
	wantRefused := func(name string, code int, stderr, want string) {
		t.Helper()
		if code != 2 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.Contains(stderr, want) {
			t.Errorf("%s: exit %d, stderr %q; want exit 2 and one line saying %q", name, code, stderr, want)
		}
	}

	t.Run("FIFO at -o", func(t *testing.T) {
		fifo := filepath.Join(shared, "worker.token")
		runNobody("mkfifo", "-m", "622", fifo)
		r := openReader(fifo)
		code, _, stderr := kubebake("token", "generate", "-o", fifo)
		wantRefused("token generate -o FIFO", code, stderr, "a FIFO that belongs to another user (uid 65534)")
		if got := drained(r); got != "" {
			t.Errorf("the other user's FIFO got %q", got)
		}
	})
	t.Run("symlink at -o", func(t *testing.T) {
		stolen := filepath.Join(shared, "stolen")
		link := filepath.Join(shared, "worker.ign")
		runNobody("ln", "-s", stolen, link)
		code, _, stderr := kubebake("token", "generate", "-o", link)
		wantRefused("token generate -o symlink", code, stderr, "a symbolic link that belongs to another user (uid 65534)")
		if _, err := os.Lstat(stolen); err == nil {
			t.Errorf("something was written through the other user's link")
		}
	})
	t.Run("FIFO at --token-file", func(t *testing.T) {
		fifo := filepath.Join(shared, "token")
		runNobody("mkfifo", "-m", "644", fifo)
		feeder := asNobody("sh", "-c", "echo attack.0123456789attack > "+fifo)
		if err := feeder.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { feeder.Process.Kill(); feeder.Wait() })
		code, stdout, stderr := kubebake("manifests", "--token-file", fifo, "--ca", "../../testdata/ca.crt", "--api-server", "10.0.0.10:6443")
		wantRefused("manifests --token-file FIFO", code, stderr, "a FIFO that belongs to another user (uid 65534)")
		if strings.Contains(stdout, "attack") {
			t.Errorf("the planted token was used:\n%s", stdout)
		}
	})
	t.Run("a token file another user put in /tmp", func(t *testing.T) {
		f := filepath.Join(shared, "planted.token")
		runNobody("sh", "-c", "echo attack.0123456789attack > "+f)
		code, _, stderr := kubebake("manifests", "--token-file", f, "--ca", "../../testdata/ca.crt", "--api-server", "10.0.0.10:6443")
		wantRefused("manifests --token-file planted", code, stderr, "a file that belongs to another user (uid 65534)")
	})
	t.Run("what is ours still works", func(t *testing.T) {
		fifo := filepath.Join(shared, "mine")
		if err := syscall.Mkfifo(fifo, 0o600); err != nil {
			t.Fatal(err)
		}
		r := openReader(fifo)
		if code, _, stderr := kubebake("token", "generate", "-o", fifo); code != 0 {
			t.Fatalf("our own FIFO: exit %d: %s", code, stderr)
		}
		time.Sleep(10 * time.Millisecond)
		if got := drained(r); len(strings.TrimSpace(got)) != 23 {
			t.Errorf("our own FIFO got %q, want a token", got)
		}
		for _, p := range []string{"/dev/null", "-", "/dev/stdout"} {
			if code, _, stderr := kubebake("token", "generate", "-o", p); code != 0 {
				t.Errorf("-o %s: exit %d: %s", p, code, stderr)
			}
		}
	})
}
