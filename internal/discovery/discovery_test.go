package discovery_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/kubebake/kubebake/internal/discovery"
	"github.com/kubebake/kubebake/internal/pin"
	"github.com/kubebake/kubebake/test/discoverytest"
)

// discover runs Discover against srv with pins, on a fake clock, and checks
// that no request carried credentials.
func discover(t testing.TB, srv *discoverytest.Server, pins []string) (*discovery.Discovered, error) {
	t.Helper()
	now := time.Unix(0, 0)
	d, err := discovery.Discover(context.Background(), discovery.Target{
		Endpoints: []string{srv.Endpoint()},
		Pins:      pin.MustSet(pins...),
		Token:     srv.Token,
		Timeout:   time.Minute,
	}, discovery.Options{
		Now:   func() time.Time { return now },
		Sleep: func(_ context.Context, d time.Duration) error { now = now.Add(d); return nil },
		Logf:  func(f string, a ...any) { t.Logf(f, a...) },
	})
	if a := srv.AuthorizationSent(); len(a) > 0 {
		t.Errorf("requests with an Authorization header: %v", a)
	}
	return d, err
}

func TestDiscoverResult(t *testing.T) {
	srv := discoverytest.NewServer(t, discoverytest.Options{})
	d, err := discover(t, srv, []string{srv.CA.Pin()})
	if err != nil {
		t.Fatal(err)
	}
	if d.Endpoint != srv.Endpoint() || d.Pins[0] != srv.CA.Pin() || d.Attempts != 1 || len(d.CAs) != 1 || string(d.Bundle) != string(srv.CA.PEM) || d.Server != discoverytest.ServerInClusterInfo {
		t.Errorf("%+v", d)
	}
}

func TestDiscoverRefusesRedirectToAnotherHost(t *testing.T) {
	other := discoverytest.NewServer(t, discoverytest.Options{})
	srv := discoverytest.NewServer(t, discoverytest.Options{Token: other.Token, CA: other.CA})
	srv.Respond(func(n int, w http.ResponseWriter, r *http.Request) bool {
		http.Redirect(w, r, "https://localhost:"+other.URL[len("https://127.0.0.1:"):]+r.URL.Path, http.StatusFound)
		return true
	})
	_, err := discover(t, srv, []string{srv.CA.Pin()})
	if discovery.ExitStatus(err) != 1 || other.Requests() != 0 {
		t.Errorf("error %v (exit %d), %d requests followed to the other host", err, discovery.ExitStatus(err), other.Requests())
	}
}

// BenchmarkDiscover times one successful discovery (two TLS fetches, the
// JWS check, the pin check) against a local server.
func BenchmarkDiscover(b *testing.B) {
	srv := discoverytest.NewServer(b, discoverytest.Options{})
	target := discovery.Target{Endpoints: []string{srv.Endpoint()}, Pins: pin.MustSet(srv.CA.Pin()), Token: srv.Token, Timeout: time.Minute}
	b.ResetTimer()
	for b.Loop() {
		if _, err := discovery.Discover(context.Background(), target, discovery.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
