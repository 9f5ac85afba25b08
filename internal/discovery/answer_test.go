package discovery

import (
	"context"
	"crypto/x509"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestGetClusterInfoStatuses(t *testing.T) {
	var status atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" || r.URL.Path != ClusterInfoPath {
			t.Errorf("request for %s with Authorization %q", r.URL.Path, r.Header.Get("Authorization"))
		}
		w.WriteHeader(int(status.Load()))
		w.Write([]byte(`{"kind":"ConfigMap"}`))
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	t.Setenv("HTTPS_PROXY", "")
	ep := srv.Listener.Addr().String()
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	for _, tc := range []struct {
		name   string
		roots  *x509.CertPool
		answer int
		status int
		body   string
		err    string
	}{
		{"200", roots, 200, 200, `{"kind":"ConfigMap"}`, ""},
		{"403", roots, 403, 403, "", "anonymous users may not read"},
		{"302", roots, 302, 302, "", "refusing to follow a redirect"},
		{"untrusted", x509.NewCertPool(), 200, 0, "", "not signed by a pinned cluster CA"},
	} {
		status.Store(int32(tc.answer))
		got, body, err := GetClusterInfo(context.Background(), ep, tc.roots, 5*time.Second)
		if got != tc.status || string(body) != tc.body || (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: status %d, body %q, error %v; want %d, %q, %q", tc.name, got, body, err, tc.status, tc.body, tc.err)
		}
	}
}
