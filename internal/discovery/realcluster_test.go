package discovery_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kubebake/kubebake/internal/discovery"
	"github.com/kubebake/kubebake/internal/pin"
	"github.com/kubebake/kubebake/internal/token"
	"github.com/kubebake/kubebake/test/discoverytest"
	"github.com/kubebake/kubebake/test/testcluster"
)

// TestDiscoverRealControlPlane runs discovery against a real kube-apiserver
// whose cluster-info the real bootstrapsigner signs: the agent's own HTTP
// client, JWS check and pinning against the real thing, and, from the audit
// log, proof that every request it made was anonymous.
func TestDiscoverRealControlPlane(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a control plane")
	}
	c := testcluster.Start(t)
	c.PrepareBootstrap(t)
	tok, err := token.Generate()
	if err != nil {
		t.Fatal(err)
	}
	c.CreateToken(t, tok, time.Hour)
	c.WaitJWS(t, tok.ID(), true, 30*time.Second)

	var log strings.Builder
	run := func(target discovery.Target) (*discovery.Discovered, error) {
		return discovery.Discover(context.Background(), target, discovery.Options{
			Logf: func(f string, a ...any) {
				line := strings.TrimSpace(strings.ReplaceAll(sprintf(f, a...), "\n", " "))
				log.WriteString(line + "\n")
				t.Log(line)
			},
			Proxy: noProxy,
		})
	}

	start := time.Now()
	d, err := run(discovery.Target{Endpoints: []string{c.Endpoint}, Pins: pin.MustSet(c.CAPin()), Token: tok, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatalf("discovery against the real API server: %v", err)
	}
	t.Logf("discovered %s in %v", d.Endpoint, time.Since(start))
	if d.Endpoint != c.Endpoint || d.Pins[0] != c.CAPin() || string(d.Bundle) != string(c.CACertPEM) {
		t.Errorf("discovered %+v", d)
	}

	// A secret the cluster does not know for this id: not proven, which
	// anyone could cause, so retried until the deadline (exit 4).
	wrong, _ := token.Parse(tok.ID() + ".0123456789abcdef")
	_, err = run(discovery.Target{Endpoints: []string{c.Endpoint}, Pins: pin.MustSet(c.CAPin()), Token: wrong, Timeout: 2 * time.Second})
	if discovery.ExitStatus(err) != 4 {
		t.Errorf("wrong secret: %v (exit %d), want exit 4", err, discovery.ExitStatus(err))
	}
	// Another CA pinned: signed with the token, CA not pinned until the
	// deadline: refused, final (exit 3).
	other := discoverytest.NewCA(t, discoverytest.ECDSA)
	_, err = run(discovery.Target{Endpoints: []string{c.Endpoint}, Pins: pin.MustSet(other.Pin()), Token: tok, Timeout: 2 * time.Second})
	if discovery.ExitStatus(err) != 3 {
		t.Errorf("other CA pinned: %v (exit %d), want exit 3", err, discovery.ExitStatus(err))
	}
	// A token the cluster does not know: retried until the deadline.
	unknown, _ := token.Generate()
	_, err = run(discovery.Target{Endpoints: []string{c.Endpoint}, Pins: pin.MustSet(c.CAPin()), Token: unknown, Timeout: 2 * time.Second})
	if discovery.ExitStatus(err) != 1 || !strings.Contains(err.Error(), "token "+unknown.ID()+" is unknown to the cluster") {
		t.Errorf("unknown token: %v (exit %d), want exit 1 saying so", err, discovery.ExitStatus(err))
	}

	for _, s := range []string{tok.Secret(), wrong.Secret(), unknown.Secret()} {
		if strings.Contains(log.String(), s) {
			t.Errorf("the log holds a token secret")
		}
	}
	var anon int
	for _, e := range c.AuditEvents(t) {
		if e.UserAgent != "kubebake-join" {
			continue
		}
		if e.User.Username != "system:anonymous" {
			t.Errorf("discovery made a request as %s: %s %s", e.User.Username, e.Verb, e.RequestURI)
		}
		if e.RequestURI != discovery.ClusterInfoPath {
			t.Errorf("discovery requested %s", e.RequestURI)
		}
		anon++
	}
	if anon < 4 {
		t.Errorf("the audit log shows %d requests by kubebake-join, want at least 4", anon)
	}
}
