package discovery_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kubebake/kubebake/internal/discovery"
	"github.com/kubebake/kubebake/internal/pin"
	"github.com/kubebake/kubebake/test/discoverytest"
)

// A round that reached no server (connection refused) waits the quick
// full-jitter delay; a round an API server answered waits the paced one.
func TestRetryQuickUntilAServerAnswers(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close() // nothing listens: connection refused
	srv := discoverytest.NewServer(t, discoverytest.Options{})
	srv.Respond(func(i int, w http.ResponseWriter, r *http.Request) bool {
		if i > 1 {
			return false
		}
		http.Error(w, "starting", http.StatusServiceUnavailable)
		return true
	})
	now := time.Unix(0, 0)
	var sleeps []time.Duration
	for _, tc := range []struct {
		name    string
		eps     []string
		timeout time.Duration
		want    []time.Duration
	}{
		// Rand 0.5: half the quick ceiling (1 s, then 2 s)...
		{"nothing reached", []string{dead}, 5 * time.Second, []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second}},
		// ...and the Pace itself once the API server answers.
		{"answered", []string{srv.Endpoint()}, time.Minute, []time.Duration{discovery.Pace, discovery.Pace}},
	} {
		sleeps = nil
		_, err := discovery.Discover(context.Background(), discovery.Target{Endpoints: tc.eps, Pins: pin.MustSet(srv.CA.Pin()), Token: srv.Token, Timeout: tc.timeout}, simulatedClock(&now, &sleeps))
		if tc.name == "answered" && err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		n := min(len(sleeps), len(tc.want))
		if fmt.Sprint(sleeps[:n]) != fmt.Sprint(tc.want[:n]) || n == 0 {
			t.Errorf("%s: slept %v, want %v", tc.name, sleeps, tc.want)
		}
		now = time.Unix(0, 0)
	}
}

// TestNoAttemptAtTheDeadline: a round is not begun with less than a second
// left. Such an attempt only times out, and its "no answer" would stand as
// the run's last outcome over what the endpoints said (a pin mismatch's
// exit 3 became a retried exit 1 that way).
func TestNoAttemptAtTheDeadline(t *testing.T) {
	srv := discoverytest.NewServer(t, discoverytest.Options{})
	var requests atomic.Int32
	srv.Respond(func(i int, w http.ResponseWriter, r *http.Request) bool {
		requests.Add(1)
		http.Error(w, "starting", http.StatusServiceUnavailable)
		return true
	})
	now := time.Unix(0, 0)
	var sleeps []time.Duration
	// Rand 0.5: the paced wait is Pace (5 s); the deadline leaves 0.5 s after it.
	_, err := discovery.Discover(context.Background(), discovery.Target{Endpoints: []string{srv.Endpoint()}, Pins: pin.MustSet(srv.CA.Pin()), Token: srv.Token, Timeout: discovery.Pace + 500*time.Millisecond}, simulatedClock(&now, &sleeps))
	if err == nil {
		t.Fatal("discovery passed against a server that answers 503")
	}
	if n := requests.Load(); n != 1 {
		t.Errorf("%d requests (sleeps %v), want 1: no attempt is begun with 0.5 s left", n, sleeps)
	}
}

// simulatedClock is Discover's clock at *now, advanced by each wait, which
// is recorded in *sleeps instead of slept; Rand is 0.5.
func simulatedClock(now *time.Time, sleeps *[]time.Duration) discovery.Options {
	return discovery.Options{
		Now: func() time.Time { return *now },
		Sleep: func(_ context.Context, d time.Duration) error {
			*sleeps = append(*sleeps, d)
			*now = now.Add(d)
			return nil
		},
		Rand: func() float64 { return 0.5 },
	}
}
