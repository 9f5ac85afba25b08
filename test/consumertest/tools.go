// Package consumertest runs kubebake's rendered configs through their real
// consumers: the Ignition applier, cloud-init in a minimal Debian root, and
// systemd's own tools. The consumers are installed by
// scripts/setup-consumers.sh under $KUBEBAKE_CACHE; a test that needs one
// fails when CI=true and it is missing, and skips otherwise.
//
// Every helper treats any error or warning the consumer reports as a test
// failure, and says what the consumer said.
package consumertest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// SetupScript is what installs the consumers.
const SetupScript = "scripts/setup-consumers.sh"

// Toolset locates the installed consumers.
type Toolset struct {
	// Cache is $KUBEBAKE_CACHE (absolute).
	Cache string
	// Ignition and IgnitionValidate are the v2.27.0 applier and validator.
	Ignition, IgnitionValidate string
	// DebianRoot is the tar of a minimal Debian root with cloud-init.
	DebianRoot string
	// CloudInit, Systemctl and SystemdAnalyze are the host's.
	CloudInit, Systemctl, SystemdAnalyze string
	// Unshare and Chroot run cloud-init in its root.
	Unshare, Chroot string
}

// RepoRoot returns the directory holding kubebake's go.mod, found upwards
// from the working directory.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(data, []byte("module github.com/kubebake/kubebake\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no kubebake go.mod above the working directory")
		}
		dir = parent
	}
}

// CacheDir returns $KUBEBAKE_CACHE, or <repo>/.cache as scripts/test.sh does.
func CacheDir() (string, error) {
	if c := os.Getenv("KUBEBAKE_CACHE"); c != "" {
		return filepath.Abs(c)
	}
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, ".cache"), nil
}

// Tools returns the installed consumers. When one is missing the test fails
// if CI=true (CI must run everything) and is skipped otherwise; either way
// the message names the script that installs it.
func Tools(t testing.TB) *Toolset {
	t.Helper()
	ts, missing := lookTools()
	if len(missing) > 0 {
		msg := fmt.Sprintf("consumer tools missing: %s; run %s (as root) to install them", strings.Join(missing, "; "), SetupScript)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return ts
}

func lookTools() (*Toolset, []string) {
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root (chroot, mounts and file ownership need it)")
	}
	cache, err := CacheDir()
	if err != nil {
		return nil, append(missing, "$KUBEBAKE_CACHE: "+err.Error())
	}
	ts := &Toolset{Cache: cache}
	file := func(dst *string, path string) {
		if st, err := os.Stat(path); err != nil || st.IsDir() {
			missing = append(missing, path)
			return
		}
		*dst = path
	}
	file(&ts.Ignition, filepath.Join(cache, "bin", "ignition"))
	file(&ts.IgnitionValidate, filepath.Join(cache, "bin", "ignition-validate"))
	file(&ts.DebianRoot, filepath.Join(cache, "consumers", "debian-cloudinit-root.tar"))
	for _, c := range []struct {
		dst  *string
		name string
	}{
		{&ts.CloudInit, "cloud-init"},
		{&ts.Systemctl, "systemctl"},
		{&ts.SystemdAnalyze, "systemd-analyze"},
		{&ts.Unshare, "unshare"},
		{&ts.Chroot, "chroot"},
	} {
		p, err := exec.LookPath(c.name)
		if err != nil {
			missing = append(missing, c.name+" on PATH")
			continue
		}
		*c.dst = p
	}
	return ts, missing
}

// result is one finished command.
type result struct {
	cmd            string
	stdout, stderr string
	err            error
}

func (r result) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "$ %s\n", r.cmd)
	if r.err != nil {
		fmt.Fprintf(&b, "(%v)\n", r.err)
	}
	if r.stdout != "" {
		fmt.Fprintf(&b, "stdout:\n%s", indent(r.stdout))
	}
	if r.stderr != "" {
		fmt.Fprintf(&b, "stderr:\n%s", indent(r.stderr))
	}
	return b.String()
}

// run runs a command with a time limit and collects its output.
func run(timeout time.Duration, env []string, name string, args ...string) result {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("killed after %s: %w", timeout, err)
	}
	return result{
		cmd:    strings.TrimSpace(strings.Join(env, " ") + " " + name + " " + strings.Join(args, " ")),
		stdout: stdout.String(), stderr: stderr.String(), err: err,
	}
}

func indent(s string) string {
	var b strings.Builder
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		b.WriteString("    ")
		b.WriteString(sc.Text())
		b.WriteByte('\n')
	}
	return b.String()
}
