package status

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type nopCloser struct{ *bytes.Buffer }

func (nopCloser) Close() error { return nil }

func open(t *testing.T, root string, console *bytes.Buffer, now *time.Time) *Reporter {
	return Open(root, Options{
		Now:     func() time.Time { return *now },
		Console: func() (io.WriteCloser, error) { return nopCloser{console}, nil },
	})
}

func read(t *testing.T, root string) Status {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, File))
	if err != nil {
		t.Fatal(err)
	}
	var s Status
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// A join that waits, fails a few times in two classes (the console hears
// each class once), is restarted (attempts add up, the class is not said
// again), then joins: sentinel, no failure marker, one joined line.
func TestJoinStory(t *testing.T) {
	root := t.TempDir()
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	var console bytes.Buffer
	r := open(t, root, &console, &now)
	r.Phase(WaitingForToken, "")
	if s := read(t, root); s.Phase != WaitingForToken {
		t.Fatalf("phase %s", s.Phase)
	}
	r.Phase(Discovering, "")
	for i := 0; i < 5; i++ {
		now = now.Add(time.Second)
		r.Attempt("10.0.0.1:6443", Transient, "dial tcp 10.0.0.1:6443: connection refused")
	}
	r.Attempt("10.0.0.1:6443", Unproven, "bad signature for token lofdk1.egbg0rjhecsbxrds\nsecond line")
	r.Fail(Unproven, "no endpoint proved to be the pinned cluster", false)
	s := read(t, root)
	if s.Phase != Failed || s.Final || s.Attempts != 6 || s.Class != Unproven {
		t.Fatalf("after a retried failure: %+v", s)
	}
	// A new run of the agent (systemd restarted it).
	r = open(t, root, &console, &now)
	r.Phase(Discovering, "")
	r.Attempt("10.0.0.1:6443", Unproven, "bad signature")
	now = now.Add(10 * time.Second)
	r.Phase(Verified, "10.0.0.1:6443")
	r.Phase(KubeletStarted, "")
	if _, err := os.Stat(filepath.Join(root, SuccessFile)); err == nil {
		t.Fatal("the sentinel exists before the kubelet has its own credentials")
	}
	now = now.Add(5 * time.Second)
	if err := r.Joined(); err != nil {
		t.Fatal(err)
	}
	r.Joined() // the cleanup at the next boot: nothing new
	s = read(t, root)
	if s.Phase != Joined || s.Attempts != 7 || s.JoinedAt == nil || s.VerifiedAt == nil || s.KubeletStartedAt == nil {
		t.Fatalf("joined: %+v", s)
	}
	if data, err := os.ReadFile(filepath.Join(root, SuccessFile)); err != nil || string(data) != "success" {
		t.Fatalf("sentinel: %q %v", data, err)
	}
	lines := strings.Split(strings.TrimSpace(console.String()), "\n")
	t.Logf("console:\n%s", console.String())
	if len(lines) != 3 || !strings.Contains(lines[0], "(transient, attempt 1") || !strings.Contains(lines[1], "(unproven, attempt 6") || !strings.Contains(lines[2], "joined: ") {
		t.Errorf("console lines: want one per class change and one for the join, got %d:\n%s", len(lines), console.String())
	}
	all, _ := os.ReadFile(filepath.Join(root, File))
	if strings.Contains(console.String()+string(all), "egbg0rjhecsbxrds") {
		t.Error("a token-looking string reached the status or the console")
	}
	if fi, _ := os.Stat(filepath.Join(root, File)); fi.Mode().Perm() != 0o644 {
		t.Errorf("status.json mode %v", fi.Mode())
	}
}

// A final failure writes the failure marker and says so on the console; a
// later join removes the marker.
func TestFinalFailure(t *testing.T) {
	root := t.TempDir()
	now := time.Now()
	var console bytes.Buffer
	r := open(t, root, &console, &now)
	r.Phase(Discovering, "")
	r.Attempt("10.0.2.2:6443", Refused, "cluster-info's CA matches no pin")
	r.Fail(Refused, "every endpoint served a cluster-info signed with the token whose CA matches no pin", true)
	data, err := os.ReadFile(filepath.Join(root, FailureFile))
	if err != nil || !strings.HasPrefix(string(data), "refused: every endpoint") {
		t.Fatalf("failure marker: %q %v", data, err)
	}
	if s := read(t, root); s.Phase != Failed || !s.Final || s.Class != Refused {
		t.Fatalf("%+v", s)
	}
	if !strings.Contains(console.String(), "join failed for good (refused") {
		t.Errorf("console: %s", console.String())
	}
	if _, err := os.Stat(filepath.Join(root, SuccessFile)); err == nil {
		t.Error("a failed join wrote the success sentinel")
	}
	r.Joined()
	if _, err := os.Stat(filepath.Join(root, FailureFile)); err == nil {
		t.Error("the failure marker outlived the join")
	}
}
