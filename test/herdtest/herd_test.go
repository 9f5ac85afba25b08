package herdtest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kubebake/kubebake/internal/discovery"
	"github.com/kubebake/kubebake/internal/pin"
	"github.com/kubebake/kubebake/internal/token"
)

// TestReadLog holds readLog to the agent's wording: the real discovery code
// meets an API server that answers 429 and 503 with a Retry-After, then
// not within the request timeout, then 404, then 429 asking for more than
// the deadline leaves, and readLog must
// count every attempt and every Retry-After, kept, and read every line.
func TestReadLog(t *testing.T) {
	answers := []struct {
		code       int
		retryAfter string
		slow       bool // slower than the request timeout
	}{{429, "2", false}, {503, "1", false}, {200, "", true}, {404, "", false}, {429, "60", false}}
	var n atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := answers[min(int(n.Add(1))-1, len(answers)-1)]
		if a.slow {
			select {
			case <-r.Context().Done():
			case <-time.After(time.Minute):
			}
			return
		}
		if a.retryAfter != "" {
			w.Header().Set("Retry-After", a.retryAfter)
		}
		w.WriteHeader(a.code)
	}))
	defer srv.Close()
	tok, err := token.Generate()
	if err != nil {
		t.Fatal(err)
	}
	// A clock that the sleeps move on: the run takes no time.
	now := time.Now()
	var log strings.Builder
	_, err = discovery.Discover(context.Background(), discovery.Target{
		Endpoints: []string{strings.TrimPrefix(srv.URL, "https://")},
		Pins:      pin.MustSet(pin.Hash(srv.Certificate())),
		Token:     tok,
		// Long enough for every answer at the paced waits (5 s each at
		// Rand 0.5, after any Retry-After): the last asks for more than is left.
		Timeout: 30 * time.Second,
	}, discovery.Options{
		Logf:  func(format string, a ...any) { fmt.Fprintf(&log, "kubebake-join: "+format+"\n", a...) },
		Proxy: func(*url.URL) (*url.URL, error) { return nil, nil },
		Now:   func() time.Time { return now },
		Sleep: func(_ context.Context, d time.Duration) error { now = now.Add(d); return nil },
		Rand:  func() float64 { return 0.5 },

		RequestTimeout: time.Second,
	})
	if err == nil {
		t.Fatal("discovery passed against a server that never answered 200")
	}
	t.Logf("the agent's log:\n%s", log.String())

	r := &Result{MinAttempts: -1}
	readLog(log.String(), r, 0)
	if r.Attempts != len(answers) || r.RetryAfter != 3 || r.RetryAfterKept != 3 || r.NoAnswer != 1 || len(r.Unread) != 0 {
		t.Errorf("readLog: %d attempts, %d Retry-After, %d kept, %d without an answer, unread %q; want %d, 3, 3, 1, none", r.Attempts, r.RetryAfter, r.RetryAfterKept, r.NoAnswer, r.Unread, len(answers))
	}

	// A wording readLog does not know is reported, not miscounted.
	r = &Result{MinAttempts: -1}
	readLog("kubebake-join: attempt 1: 127.0.0.1:6443: HTTP 429 Too Many Requests: the API server is busy and asks to retry in 1s; sleeping 1.2s\n", r, 0)
	if r.RetryAfter != 1 || r.RetryAfterKept != 0 || len(r.Unread) != 1 {
		t.Errorf("an unknown ending: %d Retry-After, %d kept, unread %q; want 1, 0, that line", r.RetryAfter, r.RetryAfterKept, r.Unread)
	}
}
