package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kubebake/kubebake/internal/joinconfig"
	"github.com/kubebake/kubebake/test/discoverytest"
)

// tokenLater rewrites n's join config to name the token file instead of
// holding the token, as the image part renders it, and removes the file.
func tokenLater(t *testing.T, n *node) string {
	t.Helper()
	tok := n.cfg.Token
	n.cfg.Token, n.cfg.TokenFile = "", joinconfig.DefaultTokenFile
	y, err := n.cfg.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(n.path(joinconfig.DefaultPath), y, 0o644); err != nil {
		t.Fatal(err)
	}
	n.opts.TokenPoll = time.Millisecond
	return tok
}

// TestTokenArrivesLater: on a node built from the image part, the agent
// waits for the boot part's token file, says so once, then joins.
func TestTokenArrivesLater(t *testing.T) {
	srv := discoverytest.NewServer(t, discoverytest.Options{})
	n := joinNode(t, srv)
	tok := tokenLater(t, n)
	// The token comes once the agent has said it waits, not after a fixed
	// time: on a loaded machine the agent may not have looked within a
	// fixed 50 ms, then found the token and never waited (a flaky failure).
	waiting := make(chan struct{})
	var once sync.Once
	n.opts.Logf = func(format string, a ...any) {
		fmt.Fprintf(&n.stderr, "kubebake-join: "+format+"\n", a...)
		if strings.HasPrefix(format, "waiting for the bootstrap token") {
			once.Do(func() { close(waiting) })
		}
	}
	go func() {
		<-waiting
		tmp := n.path(joinconfig.DefaultTokenFile + ".tmp")
		if err := os.WriteFile(tmp, []byte(tok), 0o600); err == nil {
			os.Rename(tmp, n.path(joinconfig.DefaultTokenFile))
		}
	}()
	n.wantExit(0)
	n.cfg.Token = tok // what the agent read, to compare its kubeconfig with
	n.wantJoined(discoverytest.ServerInClusterInfo, srv.CA.PEM)
	n.wantLog("waiting for the bootstrap token at " + n.path(joinconfig.DefaultTokenFile))
	n.wantLog("the bootstrap token (id " + srv.Token.ID() + ") has arrived")
	if c := strings.Count(n.stderr.String(), "waiting for the bootstrap token"); c != 1 {
		t.Errorf("%d lines say the agent waits, want 1", c)
	}
}

// TestTokenNeverArrives: the wait counts against the run's deadline, and a
// token that did not come is a transient failure, retried by systemd.
func TestTokenNeverArrives(t *testing.T) {
	srv := discoverytest.NewServer(t, discoverytest.Options{})
	n := joinNode(t, srv)
	tokenLater(t, n)
	n.wantExit(1, "--timeout", "100ms")
	n.wantLog("no bootstrap token arrived at " + filepath.Join(n.root, joinconfig.DefaultTokenFile))
	n.wantNothingWritten()
	if srv.Requests() != 0 {
		t.Errorf("%d requests before the token came", srv.Requests())
	}
}

// TestTokenFileInvalid: a file that does not hold a token is bad
// configuration, and its contents are not quoted.
func TestTokenFileInvalid(t *testing.T) {
	srv := discoverytest.NewServer(t, discoverytest.Options{})
	n := joinNode(t, srv)
	tokenLater(t, n)
	if err := os.WriteFile(n.path(joinconfig.DefaultTokenFile), []byte("abcdef.NOT-A-SECRET-AT-ALL\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	n.wantExit(badConfig)
	n.wantLog("not a bootstrap token")
	if strings.Contains(n.stderr.String(), "NOT-A-SECRET") {
		t.Error("the log quotes the token file")
	}
}
