package atomicfile

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestMain lets the test binary act as a process interrupted mid-write.
func TestMain(m *testing.M) {
	if dir := os.Getenv("ATOMICFILE_HELPER_TMPDIR"); dir != "" {
		// A fleet's directory of outputs, mid-write.
		CleanupOnSignal(os.Exit)
		tmp, err := MkdirTemp(dir, ".out.tmp-")
		if err != nil {
			panic(err)
		}
		f, err := Create(filepath.Join(tmp, "node.ign"), 0o600)
		if err != nil {
			panic(err)
		}
		f.WriteString("secret")
		fmt.Println("created", tmp)
		select {}
	}
	if dir := os.Getenv("ATOMICFILE_HELPER_DIR"); dir != "" {
		CleanupOnSignal(os.Exit)
		noTmpfile = os.Getenv("ATOMICFILE_HELPER_TMPFILE") == ""
		afterCreate = func(tmp string) {
			fmt.Println("created", tmp)
			select {} // the signal arrives here, mid-write
		}
		if !noTmpfile {
			afterCreate = func(string) {
				fmt.Println("created")
				select {}
			}
		}
		WriteFile(filepath.Join(dir, "out.ign"), []byte("secret"), 0o600)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// A SIGINT or SIGTERM while the temporary file exists removes it; the
// process exits 128+signal. No sleeps: the helper says when it is there.
// The same holds for a temporary directory of MkdirTemp and what it holds.
func TestNoTempFileSurvivesASignal(t *testing.T) {
	for _, c := range []struct {
		sig syscall.Signal
		env string
	}{
		{syscall.SIGINT, "ATOMICFILE_HELPER_DIR"}, {syscall.SIGTERM, "ATOMICFILE_HELPER_DIR"},
		{syscall.SIGINT, "ATOMICFILE_HELPER_TMPDIR"}, {syscall.SIGTERM, "ATOMICFILE_HELPER_TMPDIR"},
		// Issue 18, item 5: a closed terminal and Ctrl-\ too (before, both
		// killed the process with the temporary file, token and all, left).
		{syscall.SIGHUP, "ATOMICFILE_HELPER_DIR"}, {syscall.SIGQUIT, "ATOMICFILE_HELPER_DIR"},
		{syscall.SIGHUP, "ATOMICFILE_HELPER_TMPDIR"}, {syscall.SIGQUIT, "ATOMICFILE_HELPER_TMPDIR"},
	} {
		sig := c.sig
		dir := t.TempDir()
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), c.env+"="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill() })
		line, err := bufio.NewReader(out).ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "created ") {
			t.Fatalf("helper: %q %v", line, err)
		}
		if _, err := os.Stat(strings.TrimSpace(strings.TrimPrefix(line, "created "))); err != nil {
			t.Fatalf("the temporary file or directory should exist mid-write: %v", err)
		}
		cmd.Process.Signal(sig)
		err = cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 128+int(sig) {
			t.Errorf("%v: exit %v, want %d", sig, err, 128+int(sig))
		}
		left, _ := os.ReadDir(dir)
		if len(left) != 0 {
			t.Errorf("%s, %v: left %v behind", c.env, sig, left[0].Name())
		}
	}
}

// WriteTarget writes through to what is not a regular file, follows
// symlinks and names the user's path in errors.
func TestWriteTarget(t *testing.T) {
	dir := t.TempDir()
	if err := WriteTarget(filepath.Join(dir, "f"), []byte("a"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("f", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := WriteTarget(filepath.Join(dir, "link"), []byte("b"), 0o600); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Lstat(filepath.Join(dir, "link")); fi.Mode()&os.ModeSymlink == 0 {
		t.Error("the link must stay a link")
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "f")); string(b) != "b" {
		t.Errorf("the link's target holds %q", b)
	}
	if err := WriteTarget("/dev/null", []byte("x"), 0o600); err != nil {
		t.Errorf("/dev/null: %v", err)
	}
	if fi, err := os.Stat("/dev/null"); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		t.Fatalf("/dev/null is no longer a device: %v %v", fi.Mode(), err)
	}
	err := WriteTarget(filepath.Join(dir, "none", "f"), []byte("x"), 0o600)
	if err == nil || strings.Contains(err.Error(), "tmp-") || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing directory: %v", err)
	}
	if err := WriteTarget(dir, []byte("x"), 0o600); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("a directory: %v", err)
	}
}

// Issue 18, item 5: a SIGKILL mid-write, which no handler sees, leaves no
// file: the data is in an unnamed O_TMPFILE file until it is whole. Before,
// a .out.ign.tmp-* file holding the data stayed.
func TestKillMidWriteLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "ATOMICFILE_HELPER_DIR="+dir, "ATOMICFILE_HELPER_TMPFILE=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || !strings.HasPrefix(line, "created") {
		t.Fatalf("helper: %q %v", line, err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("a SIGKILL mid-write left %s behind", left[0].Name())
	}
}

// Issue 18, item 5: what a killed run left beside a target (a named
// temporary file, a fleet's temporary directory) is removed by the next
// write there, and said; a write in progress (its process alive) and
// other names are left alone. Before, nothing removed them.
func TestStaleTemporariesRemoved(t *testing.T) {
	dir := t.TempDir()
	dead := "999999999" // above any pid_max
	stale := []string{".out.ign.tmp-" + dead + "-123", ".out.ign.tmp-4567"}
	kept := []string{".out.ign.tmp-1-99", ".other.tmp-" + dead + "-1", "out.ign.tmp-" + dead + "-1"}
	for _, n := range append(append([]string{}, stale...), kept...) {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("token"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	staleDir := filepath.Join(dir, ".fleet.tmp-"+dead+"-7")
	if err := os.MkdirAll(filepath.Join(staleDir, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	var said []string
	Logf = func(f string, a ...any) { said = append(said, fmt.Sprintf(f, a...)) }
	t.Cleanup(func() { Logf = nil })
	if err := WriteFile(filepath.Join(dir, "out.ign"), []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	tmp, err := MkdirTemp(dir, ".fleet.tmp-")
	if err != nil {
		t.Fatal(err)
	}
	Release(tmp)
	for _, n := range stale {
		if _, err := os.Lstat(filepath.Join(dir, n)); err == nil {
			t.Errorf("%s survived", n)
		}
	}
	if _, err := os.Lstat(staleDir); err == nil {
		t.Errorf("%s survived", staleDir)
	}
	for _, n := range kept {
		if _, err := os.Lstat(filepath.Join(dir, n)); err != nil {
			t.Errorf("%s was removed: %v", n, err)
		}
	}
	if len(said) != 3 || !strings.Contains(strings.Join(said, "\n"), "removed "+staleDir+", a temporary copy an interrupted earlier run left") {
		t.Errorf("said %q, want one line per removal", said)
	}
}
