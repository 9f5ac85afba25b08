package token

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

type logBuf struct {
	mu    sync.Mutex
	lines []string
}

func (l *logBuf) logf(format string, a ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, a...))
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

const sample = "lofdk1.egbg0rjhecsbxrds"

func TestWaitPresent(t *testing.T) {
	p := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(p, []byte(sample+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var log logBuf
	tok, err := Wait(context.Background(), p, time.Millisecond, log.logf)
	if err != nil || tok.Value() != sample {
		t.Fatalf("Wait = %v, %v", tok, err)
	}
	if log.String() != "" {
		t.Errorf("logged although the token was there: %q", log.String())
	}
}

// TestWaitArrives: the file appears while Wait polls; one line says it
// waits, one that the token came, and neither holds the secret.
func TestWaitArrives(t *testing.T) {
	p := filepath.Join(t.TempDir(), "token")
	var log logBuf
	done := make(chan error, 1)
	go func() {
		tok, err := Wait(context.Background(), p, time.Millisecond, log.logf)
		if err == nil && tok.Value() != sample {
			err = fmt.Errorf("got %v", tok)
		}
		done <- err
	}()
	// Let it find the file missing, then deliver the token.
	for log.String() == "" {
		time.Sleep(time.Millisecond)
	}
	if err := os.WriteFile(p, []byte(sample), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := log.String()
	if n := strings.Count(got, "\n") + 1; n != 2 || !strings.Contains(got, "waiting for the bootstrap token at "+p) || !strings.Contains(got, "id lofdk1") {
		t.Errorf("log:\n%s", got)
	}
	if strings.Contains(got, "egbg0rjhecsbxrds") {
		t.Error("the log holds the secret")
	}
}

func TestWaitDeadline(t *testing.T) {
	p := filepath.Join(t.TempDir(), "token")
	ctx, cancel := context.WithCancel(context.Background())
	var log logBuf
	go func() {
		for log.String() == "" {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	_, err := Wait(ctx, p, time.Millisecond, log.logf)
	if !errors.Is(err, ErrNoToken) || !strings.Contains(err.Error(), p) {
		t.Fatalf("err = %v", err)
	}
}

// TestWaitInvalid: a file that stays invalid is refused without quoting it.
func TestWaitInvalid(t *testing.T) {
	p := filepath.Join(t.TempDir(), "token")
	bad := "lofdk1.EGBG0RJHECSBXRDS"
	if err := os.WriteFile(p, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	var log logBuf
	_, err := Wait(context.Background(), p, time.Millisecond, log.logf)
	if err == nil || errors.Is(err, ErrNoToken) {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(strings.ToLower(err.Error()+log.String()), "egbg0rjhecsbxrds") {
		t.Errorf("the contents leak: %v / %s", err, log.String())
	}
}
