package main

import (
	"bytes"
	"strings"
	"syscall"
	"testing"

	"github.com/kubebake/kubebake/embed"
)

type fullWriter struct{}

func (fullWriter) Write(p []byte) (int, error) { return 0, syscall.ENOSPC }

func testEnv(stdout *bytes.Buffer, stderr *bytes.Buffer) *cliEnv {
	env := &cliEnv{stdin: strings.NewReader(""), stderr: stderr, getenv: func(string) string { return "" }}
	if stdout != nil {
		env.stdout = stdout
	} else {
		env.stdout = fullWriter{}
	}
	return env
}

// Item 4: every command reports a failed write to stdout (> /dev/full)
// and exits non-zero.
func TestStdoutWriteErrors(t *testing.T) {
	td := "../../testdata/"
	cases := [][]string{
		{"hash", td + "ca.crt"},
		{"token", "generate"},
		{"version"},
		{"help"},
		{"render", "--help"},
		{"manifests", "--token-file", td + "token", "--ca", td + "ca.crt", "--api-server", "lb.example.com"},
		{"render", "--token-file", td + "token", "--ca", td + "ca.crt", "--api-server", "10.0.0.10", "--format", "plan"},
		{"completion", "bash"},
	}
	if _, err := embed.Load("amd64"); err == nil {
		cases = append(cases, []string{"join-binary", "-o", "-"})
	}
	for _, args := range cases {
		var stderr bytes.Buffer
		code := run(testEnv(nil, &stderr), args)
		if code == 0 || !strings.Contains(stderr.String(), "writing to stdout: no space left on device") {
			t.Errorf("kubebake %s > /dev/full: exit %d, stderr %q", strings.Join(args, " "), code, stderr.String())
		}
		// One failed write, one line (issue 17 item 11).
		if n := strings.Count(stderr.String(), "no space left on device"); n != 1 {
			t.Errorf("kubebake %s > /dev/full: %d error lines for one failed write: %q", strings.Join(args, " "), n, stderr.String())
		}
	}
}

// Item 20: render and join-binary refuse a terminal on stdout (the token,
// a binary); with -o, or into a pipe, they write.
func TestTerminalRefused(t *testing.T) {
	td := "../../testdata/"
	for _, args := range [][]string{
		{"render", "--token-file", td + "token", "--ca", td + "ca.crt", "--api-server", "10.0.0.10", "--join-binary", "baked"},
		{"join-binary", "-o", "-"},
		// Issue 18: manifests prints the token Secret; like render's, it is
		// not for a screen.
		{"manifests", "--token-file", td + "token", "--ca", td + "ca.crt", "--api-server", "lb.example.com"},
	} {
		var stdout, stderr bytes.Buffer
		env := testEnv(&stdout, &stderr)
		env.stdoutTTY = true
		if code := run(env, args); code != 2 || stdout.Len() > 0 || !strings.Contains(stderr.String(), "stdout is a terminal") {
			t.Errorf("kubebake %s on a terminal: exit %d, %d bytes out, stderr %q", strings.Join(args, " "), code, stdout.Len(), stderr.String())
		}
	}
}

// The plan holds no secret: it may go to a terminal.
func TestPlanOnTerminal(t *testing.T) {
	var stdout, stderr bytes.Buffer
	env := testEnv(&stdout, &stderr)
	env.stdoutTTY = true
	td := "../../testdata/"
	if code := run(env, []string{"render", "--token-file", td + "token", "--ca", td + "ca.crt", "--api-server", "10.0.0.10", "--format", "plan"}); code != 0 || stdout.Len() == 0 {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
}
