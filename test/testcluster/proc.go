package testcluster

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Process is a child process a test started: its output goes to LogFile and
// it is stopped by PID when the test ends.
type Process struct {
	Name    string
	Cmd     *exec.Cmd
	LogFile string

	done    chan struct{}
	waitErr error
	mu      sync.Mutex
	stopped bool
}

// logTailLines is how much of each log a failed test shows.
const logTailLines = 60

// StartProcess starts cmd with stdout and stderr appended to logFile. In
// t.Cleanup it is stopped by its PID (SIGTERM, then SIGKILL after 10 s) and,
// if the test failed, the end of its log is printed. The child also gets
// SIGKILL if the test binary dies first.
func StartProcess(t testing.TB, name, logFile string, cmd *exec.Cmd) *Process {
	t.Helper()
	f, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = f, f
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("starting %s: %v", name, err)
	}
	p := &Process{Name: name, Cmd: cmd, LogFile: logFile, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("---- last %d lines of %s (pid %d, %s) ----\n%s", logTailLines, name, cmd.Process.Pid, logFile, tail(logFile, logTailLines))
		}
	})
	return p
}

// PID is the process id.
func (p *Process) PID() int { return p.Cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited, and how.
func (p *Process) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.waitErr
	default:
		return false, nil
	}
}

// Wait waits up to timeout for the process to exit and returns its exit
// status error (nil for status 0); it fails the test on timeout.
func (p *Process) Wait(t testing.TB, timeout time.Duration) error {
	t.Helper()
	select {
	case <-p.done:
		return p.waitErr
	case <-time.After(timeout):
		t.Fatalf("%s (pid %d) still running after %v", p.Name, p.PID(), timeout)
		return nil
	}
}

// Stop sends SIGTERM to the process's PID, then SIGKILL if it has not exited
// within 10 s, and waits for it. Safe to call more than once.
func (p *Process) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return
	}
	p.stopped = true
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.Cmd.Process.Kill()
		<-p.done
	}
}

// Log returns the process's output so far.
func (p *Process) Log() string {
	data, _ := os.ReadFile(p.LogFile)
	return string(data)
}

// WaitLog waits until the log contains substr; it fails the test if the
// process exits first or timeout passes.
func (p *Process) WaitLog(t testing.TB, substr string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if strings.Contains(p.Log(), substr) {
			return
		}
		if exited, err := p.Exited(); exited {
			if strings.Contains(p.Log(), substr) {
				return
			}
			t.Fatalf("%s exited (%v) before logging %q; last lines:\n%s", p.Name, err, substr, tail(p.LogFile, logTailLines))
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not log %q within %v; last lines:\n%s", p.Name, substr, timeout, tail(p.LogFile, logTailLines))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ExitCode is the exit status in err from exec (0 for nil, -1 when the
// process did not exit normally).
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", filepath.Base(path), err)
	}
	defer f.Close()
	// Logs can be large; the last 64 KiB hold the lines that matter.
	const window = 64 << 10
	if fi, err := f.Stat(); err == nil && fi.Size() > window {
		_, _ = f.Seek(fi.Size()-window, io.SeekStart)
	}
	data, _ := io.ReadAll(f)
	lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
