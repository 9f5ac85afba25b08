package main

import (
	"context"
	"github.com/kubebake/kubebake/internal/discovery"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubebake/kubebake/internal/joinconfig"
	"github.com/kubebake/kubebake/internal/token"
	"github.com/kubebake/kubebake/test/discoverytest"
)

// The scenarios of issue 10: trust only the pinned CA, never let an
// unauthenticated answer end the join or block another endpoint.

// A holder of the token serves the real CA and its own in cluster-info,
// and a serving certificate from its own CA: refused, and its CA written
// nowhere.
func TestStrangerCAInBundleRefused(t *testing.T) {
	real := discoverytest.NewServer(t, discoverytest.Options{})
	stranger := discoverytest.NewCA(t, discoverytest.ECDSA)
	impostor := discoverytest.NewServer(t, discoverytest.Options{CA: stranger, Token: real.Token})
	impostor.Kubeconfig = discoverytest.Kubeconfig(t, discoverytest.ServerInClusterInfo, append(append([]byte{}, real.CA.PEM...), stranger.PEM...))
	n := newNode(t, []string{impostor.Endpoint()}, []string{real.CA.Pin()}, real.Token)
	n.watch(real, impostor)
	n.wantExit(4, "--timeout", "20s")
	n.wantNothingWritten()
	n.wantNowhere(stranger.PEM)
	n.wantLog("is not signed by a pinned cluster CA")
	if impostor.Requests() < 2 {
		t.Errorf("%d requests: want retries", impostor.Requests())
	}
}

// The pinned CA plus an unpinned extra CA, with a genuine serving
// certificate: joins, and only the pinned CA is installed.
func TestUnpinnedExtraCANotInstalled(t *testing.T) {
	srv := discoverytest.NewServer(t, discoverytest.Options{})
	extra := discoverytest.NewCA(t, discoverytest.RSA)
	srv.Kubeconfig = discoverytest.Kubeconfig(t, discoverytest.ServerInClusterInfo, append(append([]byte{}, extra.PEM...), srv.CA.PEM...))
	n := joinNode(t, srv)
	n.wantExit(0)
	n.wantJoined(discoverytest.ServerInClusterInfo, srv.CA.PEM)
	n.wantNowhere(extra.PEM)
	n.wantLog("also holds " + extra.Pin() + " (CN=kubernetes), which no pin matches: not trusted, not installed")
}

// The first endpoint is an impostor that holds the token and serves its own
// CA; the second is genuine: the node joins through the second, in the
// first round.
func TestImpostorFirstGenuineSecond(t *testing.T) {
	srv := discoverytest.NewServer(t, discoverytest.Options{})
	impostor := discoverytest.NewServer(t, discoverytest.Options{Token: srv.Token})
	n := newNode(t, []string{impostor.Endpoint(), srv.Endpoint()}, []string{srv.CA.Pin()}, srv.Token)
	n.watch(srv, impostor)
	n.wantExit(0)
	n.wantJoined(discoverytest.ServerInClusterInfo, srv.CA.PEM)
	n.wantNowhere(impostor.CA.PEM)
	n.wantLog("attempt 1: " + impostor.Endpoint() + ": cluster CA " + impostor.CA.Pin())
	n.wantLog("trying " + srv.Endpoint() + " next")
	if len(n.sleeps) != 0 {
		t.Errorf("slept %v: the second endpoint must be tried in the same round", n.sleeps)
	}
}

// An impostor without the token, answering first with a garbled signature,
// never ends the join nor keeps the second endpoint from being tried.
func TestGarbledFirstEndpointDoesNotBlock(t *testing.T) {
	srv := discoverytest.NewServer(t, discoverytest.Options{})
	forger := discoverytest.NewServer(t, discoverytest.Options{Token: srv.Token})
	forger.Respond(func(i int, w http.ResponseWriter, r *http.Request) bool {
		w.Write(discoverytest.ClusterInfo(t, forger.Kubeconfig, map[string]string{srv.Token.ID(): "eyJhbGciOiJIUzI1NiIsImtpZCI6IngifQ..AAAA"}))
		return true
	})
	n := newNode(t, []string{forger.Endpoint(), srv.Endpoint()}, []string{srv.CA.Pin()}, srv.Token)
	n.watch(srv, forger)
	n.wantExit(0)
	n.wantJoined(discoverytest.ServerInClusterInfo, srv.CA.PEM)
	n.wantLog("is not a valid signature for token " + srv.Token.ID())
}

// A garbled signature for the first three answers, then the genuine one:
// retried with backoff, and the node joins.
func TestGarbledThenGenuine(t *testing.T) {
	srv := discoverytest.NewServer(t, discoverytest.Options{})
	srv.Respond(func(i int, w http.ResponseWriter, r *http.Request) bool {
		if i > 3 {
			return false
		}
		sig := discoverytest.Sign(t, srv.Kubeconfig, srv.Token)
		w.Write(discoverytest.ClusterInfo(t, srv.Kubeconfig, map[string]string{srv.Token.ID(): sig[:len(sig)-6] + "AAAAAA"}))
		return true
	})
	n := joinNode(t, srv)
	n.wantExit(0)
	n.wantJoined(discoverytest.ServerInClusterInfo, srv.CA.PEM)
	n.wantLog("does not verify with the token secret of join.yaml")
	n.wantLog("verified after 4 attempt(s)")
	if len(n.sleeps) != 3 {
		t.Errorf("slept %v, want three backoffs", n.sleeps)
	}
}

// A wrong secret at every endpoint until the deadline: exit 4 (retried by
// systemd), nothing written.
func TestWrongSecretEverywhere(t *testing.T) {
	a := discoverytest.NewServer(t, discoverytest.Options{})
	b := discoverytest.NewServer(t, discoverytest.Options{CA: a.CA, Token: a.Token})
	wrong := mustParseToken(t, a.Token.ID()+".0123456789abcdef")
	n := newNode(t, []string{a.Endpoint(), b.Endpoint()}, []string{a.CA.Pin()}, wrong)
	n.watch(a, b)
	n.wantExit(4, "--timeout", "1m")
	n.wantNothingWritten()
	n.wantLog("no endpoint proved to be the pinned cluster within 1m0s")
	if a.Requests() < 3 || a.Requests() != b.Requests() && a.Requests() != b.Requests()+1 {
		t.Errorf("%d and %d requests: every endpoint is tried in every round", a.Requests(), b.Requests())
	}
	if n.total() != time.Minute {
		t.Errorf("slept %v, want the whole deadline", n.total())
	}
}

// Signed with the token but not pinned at one endpoint, unreachable at the
// other: not final (exit 1), the other may come back.
func TestRefusedOnlyIfEveryEndpointRefuses(t *testing.T) {
	srv := discoverytest.NewServer(t, discoverytest.Options{})
	other := discoverytest.NewCA(t, discoverytest.ECDSA)
	n := newNode(t, []string{srv.Endpoint(), discoverytest.DeadEndpoint(t)}, []string{other.Pin()}, srv.Token)
	n.watch(srv)
	n.wantExit(1, "--timeout", "20s")
	n.wantNothingWritten()
}

// Which server the bootstrap kubeconfig names is chosen at render time.
func TestKubeletServerChoice(t *testing.T) {
	srv := discoverytest.NewServer(t, discoverytest.Options{})
	for _, tc := range []struct{ server, want string }{
		{"", discoverytest.ServerInClusterInfo},
		{joinconfig.ServerClusterInfo, discoverytest.ServerInClusterInfo},
		{joinconfig.ServerDiscovered, "https://" + srv.Endpoint()},
		{"https://lb.example.com:443", "https://lb.example.com:443"},
	} {
		t.Run(tc.server, func(t *testing.T) {
			n := joinNode(t, srv)
			n.cfg.Server = tc.server
			n.rewriteConfig()
			n.wantExit(0)
			n.wantJoined(tc.want, srv.CA.PEM)
			n.wantLog("(server " + tc.want + "): the kubelet can bootstrap")
		})
	}
}

// A cluster-info naming a server the kubelet cannot use, signed and served
// over a verified connection: final, unless the node was rendered to use
// another server.
func TestClusterInfoServerUnusable(t *testing.T) {
	srv := discoverytest.NewServer(t, discoverytest.Options{})
	srv.Kubeconfig = discoverytest.Kubeconfig(t, "control-plane:6443", srv.CA.PEM)
	n := joinNode(t, srv)
	n.wantExit(3)
	n.wantNothingWritten()
	n.wantLog(`cluster-info names server "control-plane:6443"`)
	n.cfg.Server = joinconfig.ServerDiscovered
	n.rewriteConfig()
	n.wantExit(0)
	n.wantJoined("https://"+srv.Endpoint(), srv.CA.PEM)
}

// A temporary file an earlier run left (a crash between write and rename)
// holds the token: the agent removes it before writing.
func TestStaleTempFilesRemoved(t *testing.T) {
	srv := discoverytest.NewServer(t, discoverytest.Options{})
	n := joinNode(t, srv)
	stale := n.path(filepath.Join(filepath.Dir(n.cfg.Paths.BootstrapKubeconfig), "."+filepath.Base(n.cfg.Paths.BootstrapKubeconfig)+".tmp-123456"))
	os.MkdirAll(filepath.Dir(stale), 0o755)
	if err := os.WriteFile(stale, []byte("token: "+srv.Token.Value()), 0o600); err != nil {
		t.Fatal(err)
	}
	n.wantExit(0)
	n.wantJoined(discoverytest.ServerInClusterInfo, srv.CA.PEM)
	if _, err := os.Stat(stale); err == nil {
		t.Error("the stale temporary file survived")
	}
	n.wantLog("removed " + stale + ", a temporary copy an interrupted earlier run left")
}

func mustParseToken(t *testing.T, s string) token.Token {
	t.Helper()
	tok, err := token.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// A Retry-After longer than what is left of the deadline is honoured up to
// the deadline, not past it.
func TestRetryAfterBoundedByDeadline(t *testing.T) {
	srv := discoverytest.NewServer(t, discoverytest.Options{})
	srv.Respond(func(i int, w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("Retry-After", "240")
		http.Error(w, "too many requests", http.StatusTooManyRequests)
		return true
	})
	n := joinNode(t, srv)
	n.wantExit(1, "--timeout", "30s")
	n.wantNothingWritten()
	if srv.Requests() != 1 || n.total() != 30*time.Second {
		t.Errorf("%d requests, slept %v: want one request, then to wait out the 30s deadline and stop", srv.Requests(), n.total())
	}
	n.wantLog("asks to retry in 4m0s")
}

// A Retry-After is an unauthenticated answer too: one endpoint's must not
// hold back the others. The round's extra wait is what every endpoint asked
// for, the smallest of their Retry-Afters, none if one sent none.
func TestRetryAfterFromOneEndpointDoesNotDelayTheOthers(t *testing.T) {
	for _, tc := range []struct {
		name, genuineRetryAfter string
		want                    time.Duration
	}{
		// The paced wait at Rand 0.5 is the Pace (internal/discovery/retry.go).
		{"other sends none", "", discovery.Pace},
		{"other asks less", "7", 7*time.Second + discovery.Pace},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := discoverytest.NewServer(t, discoverytest.Options{})
			srv.Respond(func(i int, w http.ResponseWriter, r *http.Request) bool {
				if i > 1 {
					return false
				}
				if tc.genuineRetryAfter != "" {
					w.Header().Set("Retry-After", tc.genuineRetryAfter)
				}
				http.Error(w, "starting", http.StatusServiceUnavailable)
				return true
			})
			forger := discoverytest.NewServer(t, discoverytest.Options{})
			forger.Respond(func(i int, w http.ResponseWriter, r *http.Request) bool {
				w.Header().Set("Retry-After", "300")
				http.Error(w, "busy", http.StatusTooManyRequests)
				return true
			})
			n := newNode(t, []string{forger.Endpoint(), srv.Endpoint()}, []string{srv.CA.Pin()}, srv.Token)
			n.watch(srv, forger)
			n.wantExit(0)
			n.wantJoined(discoverytest.ServerInClusterInfo, srv.CA.PEM)
			if len(n.sleeps) != 1 || n.sleeps[0] != tc.want {
				t.Errorf("slept %v, want %v: the forger's Retry-After of 5m held the genuine endpoint back", n.sleeps, tc.want)
			}
		})
	}
}

// What an unauthenticated peer names (its certificate's SANs, the token ids
// of a cluster-info) is logged, but can never forge a line of the log.
func TestUnauthenticatedNamesCannotForgeLogLines(t *testing.T) {
	const forged = "kubebake-join: wrote /etc/kubernetes/pki/ca.crt and /etc/kubernetes/bootstrap-kubelet.conf"
	real := discoverytest.NewServer(t, discoverytest.Options{})
	// A relay replays the real cluster's cluster-info, which is public, with
	// a certificate whose SAN holds a line break (from the real CA, or the
	// agent would report the unknown CA first and never show the SANs).
	relay := discoverytest.NewServer(t, discoverytest.Options{CA: real.CA, Token: real.Token, Hosts: []string{"x\n" + forged}})
	relay.Kubeconfig = real.Kubeconfig
	// Another answers a cluster-info signed for a "token id" with a line break.
	forger := discoverytest.NewServer(t, discoverytest.Options{})
	forger.Respond(func(i int, w http.ResponseWriter, r *http.Request) bool {
		w.Write(discoverytest.ClusterInfo(t, real.Kubeconfig, map[string]string{"x\n" + forged: "x"}))
		return true
	})
	n := newNode(t, []string{relay.Endpoint(), forger.Endpoint()}, []string{real.CA.Pin()}, real.Token)
	n.watch(real, relay, forger)
	n.wantExit(1, "--timeout", "20s")
	n.wantNothingWritten()
	for _, line := range strings.Split(n.stderr.String(), "\n") {
		if strings.HasPrefix(line, forged) {
			t.Fatalf("an unauthenticated peer forged a log line: %q", line)
		}
	}
	n.wantLog("is not a name in the API server certificate")
	n.wantLog("it is signed for tokens")
}

// A panic in the agent, say in a parser fed an unauthenticated answer, ends
// Go programs with status 2, which the unit treats as final: the agent
// turns it into 1 (retried) instead.
func TestPanicIsNotFinal(t *testing.T) {
	srv := discoverytest.NewServer(t, discoverytest.Options{})
	srv.Respond(func(i int, w http.ResponseWriter, r *http.Request) bool {
		http.Error(w, "starting", http.StatusServiceUnavailable)
		return true
	})
	n := joinNode(t, srv)
	n.opts.Sleep = func(context.Context, time.Duration) error { panic("injected") }
	n.wantExit(1)
	n.wantNothingWritten()
	n.wantLog("internal error, will be retried: injected")
}

// The kubelet is not ordered after the agent: on a later boot it starts
// with the bootstrap kubeconfig an earlier run installed and may join while
// this run is still discovering; the cleanup then removes the token's
// files. The agent must not write the token back after that, where nothing
// would ever remove it.
func TestKubeletJoinsDuringDiscovery(t *testing.T) {
	srv := discoverytest.NewServer(t, discoverytest.Options{})
	n := joinNode(t, srv)
	kubeletConf := n.path(n.cfg.Paths.KubeletKubeconfig)
	srv.Respond(func(i int, w http.ResponseWriter, r *http.Request) bool {
		if i == 1 {
			os.MkdirAll(filepath.Dir(kubeletConf), 0o755)
			if err := os.WriteFile(kubeletConf, []byte("the kubelet's own credentials"), 0o600); err != nil {
				t.Error(err)
			}
		}
		return false
	})
	n.wantExit(0)
	if _, err := os.Lstat(n.path(n.cfg.Paths.BootstrapKubeconfig)); err == nil {
		t.Error("the bootstrap kubeconfig, with the token, was written after the node had joined")
	}
	n.wantNoLeftovers()
	n.wantLog("has joined its cluster meanwhile")
}

// Issue 18, item 3: a cluster-info the cluster really published and signed
// with the node's token, but holding a CA the node does not pin (from
// before a CA rotation), replayed by someone on the path, is no proof: the
// replayer cannot serve TLS with that CA. Retried (4), never final; before,
// it ended the join for good (3).
func TestReplayedUnpinnedClusterInfoIsNotFinal(t *testing.T) {
	oldCA := discoverytest.NewCA(t, discoverytest.ECDSA)
	newCA := discoverytest.NewCA(t, discoverytest.ECDSA)
	replayer := discoverytest.NewServer(t, discoverytest.Options{}) // its own CA: it holds no cluster key
	replayer.Kubeconfig = discoverytest.Kubeconfig(t, discoverytest.ServerInClusterInfo, oldCA.PEM)
	n := newNode(t, []string{replayer.Endpoint()}, []string{newCA.Pin()}, replayer.Token)
	n.watch(replayer)
	n.wantExit(4, "--timeout", "30s")
	n.wantNothingWritten()
	n.wantLog("did not prove over TLS that it serves with that CA")
	n.wantLog("will be retried")
}

// Issue 18, item 4: kubeadm join accepts a cluster-info bundle of any
// length with text around its PEM blocks (certutil.ParseCertsPEM); so
// must the agent. Before, 17 certificates or a trailing line made the
// real, pinned cluster "CA matches no pin"... exit 3, final.
func TestBundleAsKubeadmAcceptsIt(t *testing.T) {
	for name, extra := range map[string]int{"17 certificates": 16, "trailing text": 0} {
		t.Run(name, func(t *testing.T) {
			srv := discoverytest.NewServer(t, discoverytest.Options{})
			var bundle []byte
			for i := 0; i < extra; i++ {
				bundle = append(bundle, discoverytest.NewCA(t, discoverytest.ECDSA).PEM...)
			}
			bundle = append(bundle, srv.CA.PEM...)
			bundle = append(bundle, "# the cluster's CA, rotated 2026-01-01\n"...)
			srv.Kubeconfig = discoverytest.Kubeconfig(t, discoverytest.ServerInClusterInfo, bundle)
			n := joinNode(t, srv)
			n.wantExit(0, "--timeout", "30s")
			n.wantJoined(discoverytest.ServerInClusterInfo, srv.CA.PEM)
			if strings.Contains(n.stderr.String(), "matches no") {
				t.Error("the pinned CA was there, yet the log says no CA matches")
			}
		})
	}
}

// Issue 18, item 8: an impostor's certificate that is expired, or lacks
// the endpoint's name, and is not from a pinned CA is reported as not from
// a pinned CA (unproven, 4), not as the node's clock (check NTP, 1) or as
// advice to add the name to the certificate. Before, Go's order (validity
// and name before the chain) decided the message and the class.
func TestImpostorCertificateChainFirst(t *testing.T) {
	real := discoverytest.NewServer(t, discoverytest.Options{})
	for name, o := range map[string]discoverytest.Options{
		"expired":    {Token: real.Token, NotBefore: time.Now().Add(-3 * 365 * 24 * time.Hour)},
		"other name": {Token: real.Token, Hosts: []string{"elsewhere.example"}},
	} {
		t.Run(name, func(t *testing.T) {
			impostor := discoverytest.NewServer(t, o)
			impostor.Kubeconfig = real.Kubeconfig // the real, signed cluster-info, replayed
			n := newNode(t, []string{impostor.Endpoint()}, []string{real.CA.Pin()}, real.Token)
			n.watch(real, impostor)
			n.wantExit(4, "--timeout", "20s")
			n.wantLog("is not signed by a pinned cluster CA")
			for _, wrong := range []string{"NTP", "add it to the certificate"} {
				if strings.Contains(n.stderr.String(), wrong) {
					t.Errorf("the log gives the advice %q for an impostor", wrong)
				}
			}
		})
	}
}

// Issue 18, item 6: a holder of the token signs a cluster-info whose
// (unpinned) CA's subject holds a line break: the agent logs the subject
// quoted, and no forged line appears. Before, the subject was logged raw.
func TestCASubjectCannotForgeLogLines(t *testing.T) {
	const forged = "kubebake-join: wrote /etc/kubernetes/pki/ca.crt and /etc/kubernetes/bootstrap-kubelet.conf"
	evil := discoverytest.NewCANamed(t, discoverytest.ECDSA, "x\n"+forged)
	srv := discoverytest.NewServer(t, discoverytest.Options{CA: evil})
	pinned := discoverytest.NewCA(t, discoverytest.ECDSA)
	n := newNode(t, []string{srv.Endpoint()}, []string{pinned.Pin()}, srv.Token)
	n.watch(srv)
	n.wantExit(3, "--timeout", "10s")
	for _, line := range strings.Split(n.stderr.String(), "\n") {
		if strings.HasPrefix(line, forged) {
			t.Fatalf("a CA subject forged a log line: %q", line)
		}
	}
	n.wantLog(`("CN=x\nkubebake-join: wrote`)
}

// Issue 18, item 7: with --root, a symbolic link inside the root (here
// ROOT/etc/kubernetes to a directory elsewhere) leads neither the
// token-bearing bootstrap kubeconfig nor the removal of stale files out of
// the root: refused, bad configuration. Before, both happened outside.
func TestRootSymlinkNotFollowed(t *testing.T) {
	srv := discoverytest.NewServer(t, discoverytest.Options{})
	n := joinNode(t, srv)
	outside := t.TempDir()
	victim := filepath.Join(outside, ".bootstrap-kubelet.conf.tmp-123")
	if err := os.WriteFile(victim, []byte("not ours"), 0o600); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(n.path("/etc/kubernetes"))
	if err := os.Symlink(outside, n.path("/etc/kubernetes")); err != nil {
		t.Fatal(err)
	}
	n.wantExit(badConfig)
	n.wantLog(n.path("/etc/kubernetes") + " is a symbolic link: with --root, kubebake-join follows none")
	entries, _ := os.ReadDir(outside)
	if len(entries) != 1 {
		t.Errorf("outside the root: %v, want only the file that was there", entries)
	}
	if srv.Requests() != 0 {
		t.Errorf("%d requests: the link is refused before discovery", srv.Requests())
	}
}
