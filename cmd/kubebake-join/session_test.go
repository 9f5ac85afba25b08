package main

import (
	"crypto/x509"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/kubebake/kubebake/test/discoverytest"
)

// Issue 21, item 4: the agent verifies the TLS session its one fetch came
// over against the pinned CAs (after the JWS and pin checks), instead of
// fetching cluster-info a second time over a connection that trusts them.
// These tests pin what that check must refuse, and that it refuses it
// without a second connection: every connection a server accepted carried
// one request (before, each attempt opened a second one for the verified
// fetch, which failed in its handshake).

// oneConnectionPerRequest fails unless every connection srv accepted, and
// every TLS handshake it completed, carried exactly one request.
func oneConnectionPerRequest(t *testing.T, srv *discoverytest.Server) {
	t.Helper()
	r, c, h := srv.Requests(), srv.Connections(), srv.Handshakes()
	if r == 0 || c != r || h != r {
		t.Errorf("%d requests over %d connections, %d TLS handshakes: want one connection and one handshake per request", r, c, h)
	}
}

// A server whose own certificate is not from the pinned CA, serving the
// real cluster's cluster-info (correctly signed with the token, the pinned
// CA inside): it knows the token, not the CA's key. Refused (retried), no
// token anywhere, and no second connection to find that out.
func TestImpostorServingSignedPinnedClusterInfo(t *testing.T) {
	real := discoverytest.NewServer(t, discoverytest.Options{})
	impostor := discoverytest.NewServer(t, discoverytest.Options{Token: real.Token})
	impostor.Kubeconfig = real.Kubeconfig
	n := newNode(t, []string{impostor.Endpoint()}, []string{real.CA.Pin()}, real.Token)
	n.watch(real, impostor)
	n.wantExit(4, "--timeout", "20s")
	n.wantNothingWritten()
	n.wantLog("the API server certificate at " + impostor.Endpoint() + " is not signed by a pinned cluster CA")
	n.wantLog("no endpoint proved to be the pinned cluster within 20s")
	if impostor.Requests() < 2 {
		t.Errorf("%d requests: want retries until the deadline", impostor.Requests())
	}
	oneConnectionPerRequest(t, impostor)
	if real.Requests() != 0 {
		t.Errorf("the real server got %d requests", real.Requests())
	}
}

// Sessions a TLS client trusting only the pinned CA would refuse for the
// endpoint dialled: refused as well, in the one connection of each attempt.
func TestSessionRefused(t *testing.T) {
	for _, c := range []struct {
		name string
		srv  func(t *testing.T) *discoverytest.Server
		exit int
		log  string
	}{
		// The pinned CA's certificate, but not for the name the agent dialled.
		{"hostname mismatch", func(t *testing.T) *discoverytest.Server {
			return discoverytest.NewServer(t, discoverytest.Options{Hosts: []string{"kubernetes.default.svc", "10.96.0.1"}})
		}, 4, "127.0.0.1 is not a name in the API server certificate (SANs: kubernetes.default.svc, 10.96.0.1)"},
		// Expired a day ago: not trusted, but retried (exit 1, not 4) as the
		// node's clock may be wrong at first boot.
		{"expired", func(t *testing.T) *discoverytest.Server {
			ca := discoverytest.NewCASince(t, discoverytest.ECDSA, time.Now().Add(-2*366*24*time.Hour))
			return discoverytest.NewServer(t, discoverytest.Options{CA: ca, NotBefore: time.Now().Add(-366 * 24 * time.Hour)})
		}, 1, "is expired or not yet valid at this node's clock"},
		// For TLS clients only: a TLS client would refuse it for a server.
		{"client-only certificate", func(t *testing.T) *discoverytest.Server {
			return discoverytest.NewServer(t, discoverytest.Options{ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
		}, 4, "does not verify against the pinned cluster CA"},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := c.srv(t)
			n := joinNode(t, srv)
			n.wantExit(c.exit, "--timeout", "20s")
			n.wantNothingWritten()
			n.wantLog(c.log)
			oneConnectionPerRequest(t, srv)
		})
	}
}

// A cluster that signs the token only at the third answer: three
// attempts, three connections, three handshakes, and the node joins.
func TestOneHandshakePerAttempt(t *testing.T) {
	srv := discoverytest.NewServer(t, discoverytest.Options{})
	srv.Respond(func(i int, w http.ResponseWriter, r *http.Request) bool {
		if i < 3 {
			w.Write(srv.ClusterInfo(false))
			return true
		}
		return false
	})
	n := joinNode(t, srv)
	n.wantExit(0)
	n.wantJoined(discoverytest.ServerInClusterInfo, srv.CA.PEM)
	n.wantLog("verified after 3 attempt(s)")
	if srv.Requests() != 3 {
		t.Errorf("%d requests, want 3", srv.Requests())
	}
	oneConnectionPerRequest(t, srv)
}

// The exit-3 proof (a signed cluster-info whose CAs match no pin, served
// with one of those CAs) is made in the same session too.
func TestPinMismatchProvedInTheSession(t *testing.T) {
	srv := discoverytest.NewServer(t, discoverytest.Options{})
	other := discoverytest.NewCA(t, discoverytest.RSA)
	n := newNode(t, []string{srv.Endpoint()}, []string{other.Pin()}, srv.Token)
	n.watch(srv)
	n.wantExit(3, "--timeout", "20s")
	n.wantNothingWritten()
	oneConnectionPerRequest(t, srv)
	m := regexp.MustCompile(`\((\d+) attempts\)`).FindStringSubmatch(n.stderr.String())
	if m == nil || m[1] != strconv.Itoa(srv.Requests()) {
		t.Errorf("%d requests for %v attempts: want one request an attempt (no second fetch for the proof)", srv.Requests(), m)
	}
}
