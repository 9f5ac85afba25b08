// Package discovery is kubeadm-style bootstrap token discovery with CA
// pinning: it finds the API server among the configured endpoints, proves
// that the cluster behind it is the one whose CA was pinned and that it
// knows the bootstrap token, and (Run) installs the pinned CAs and a
// bootstrap kubeconfig for the kubelet.
//
// The layers, each in its own file:
//
//   - fetch.go: GET kube-public/cluster-info with net/http, without
//     credentials: no redirects, capped body and headers, a deadline per
//     request, cancelled with the context (SIGTERM).
//   - verify.go: the pure step, Verify: the answer's detached JWS
//     jws-kubeconfig-<token id> must verify with the token secret (HS256,
//     constant time), and a CA of its kubeconfig must match a pin. Only
//     the pinned CAs are kept.
//   - peer.go: the TLS session the answer came over must be one a client
//     trusting only the pinned CAs would have accepted (the chain, the
//     endpoint's name, server auth, the time): one connection, no second
//     GET (README, "Security trade-offs", says why that is as strong as
//     kubeadm's re-fetch).
//   - discovery.go (this file): the rounds over the endpoints with their
//     waits (retry.go), and the failure policy below.
//   - install.go: Run, which writes the CA file and the bootstrap kubeconfig.
//
// Failure policy. Nothing that arrived over the unverified connection can
// end a run early or keep another endpoint from being tried: each round
// tries every endpoint, whatever the others answered, and rounds repeat
// with backoff until one endpoint passes every check or the deadline
// passes. At the deadline the exit status says what the endpoints last
// answered:
//
//   - 3 (Refused, final): every endpoint answered with a cluster-info
//     correctly signed with the token but whose CAs match no pin, and
//     proved over a live TLS session that it serves with one of those CAs
//     (proveUnpinned): a replayed old cluster-info cannot do that. Only a
//     holder of the token running the endpoint can produce that, and a real
//     cluster does so only when it is not the pinned one or its CA was
//     replaced: a person must render the node again. Run also ends with it
//     at once when the verified cluster-info names a server the kubelet
//     cannot use and the node was rendered to use that server.
//   - 4 (Unproven, retried): every endpoint answered, but none proved to be
//     the cluster: a wrong or garbled signature, a session whose
//     certificate is not from a pinned CA or not for the endpoint's name,
//     or a signed cluster-info
//     with unpinned CAs (or none usable) that the endpoint could not back
//     with a live TLS session. Anyone on the path can cause that, so it is
//     never final.
//   - 1 (Transient, retried): anything else: unreachable, HTTP errors, no
//     signature for the token yet, the clock behind the certificate.
//
// Retry (retry.go): the first try is at once; between rounds the agent
// sleeps a paced delay (uniform around Pace, 5 s) after a round that
// reached an API server, a quick full-jitter one after a round that
// reached nothing, plus the Retry-After (429 or 503, capped at 5 minutes) that
// every endpoint of the round sent, the smallest of them: none if one
// endpoint sent none, so that one endpoint (whose answer nobody has
// authenticated) cannot hold back the others. Never past the deadline. A
// herd of nodes booting together thus spreads out, and API servers that
// shed load are left alone for as long as they asked.
//
// The package parses no flags and never exits: kubebake-join and kubebake
// check both drive it. Its errors carry a Class that maps to the agent's
// exit status.
package discovery

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/kubebake/kubebake/internal/pin"
	"github.com/kubebake/kubebake/internal/token"
)

// Class says what kind of failure an Error is, and so what to do about it.
type Class int

// The classes are the agent's exit statuses (see the package comment).
const (
	// Transient: the deadline passed with some endpoint unreachable or not
	// ready, or the run was interrupted, or an I/O error happened; systemd
	// restarts the agent.
	Transient Class = 1
	// BadConfig: the configuration is wrong; trying again cannot help. 78
	// (EX_CONFIG): Go itself exits 2 when it crashes, which must be
	// retried, so 2 cannot mean this.
	BadConfig Class = 78
	// Refused: until the deadline every endpoint served cluster-info signed
	// with the token whose CAs match no pin. Final.
	Refused Class = 3
	// Unproven: until the deadline every endpoint answered but none proved
	// to be the pinned cluster, in ways anyone on the path can cause.
	// Retried.
	Unproven Class = 4
)

// Error is a failed discovery or installation.
type Error struct {
	Class Class
	Err   error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

func errorf(c Class, format string, a ...any) *Error {
	return &Error{Class: c, Err: fmt.Errorf(format, a...)}
}

// ExitStatus maps an error from Run or Discover to the agent's exit status:
// 0 for nil, the Class of an *Error, 1 for anything else.
func ExitStatus(err error) int {
	if err == nil {
		return 0
	}
	var e *Error
	if errors.As(err, &e) {
		return int(e.Class)
	}
	return int(Transient)
}

const (
	// minAttempt is the least time left at which another round is begun.
	minAttempt = time.Second
	// DefaultRequestTimeout bounds one GET, as kubeadm's 10 s.
	DefaultRequestTimeout = 10 * time.Second
)

// Options tune a run. The zero value is the agent's behaviour; tests replace
// the clock, the sleep and the randomness.
type Options struct {
	// Root prefixes every path read or written (image builds, chroots, tests).
	Root string
	// Check verifies and reports but writes nothing, and runs even when the
	// node has joined already.
	Check bool

	// Logf prints one line (no trailing newline needed). Nil discards.
	Logf func(format string, args ...any)
	// Progress, when set, hears where the run is (internal/status keeps
	// the node's status.json with it). Nil hears nothing.
	Progress func(Progress)
	// RequestTimeout bounds one GET; zero means DefaultRequestTimeout.
	RequestTimeout time.Duration
	// TokenPoll is how often Run looks for a token that has not arrived;
	// zero means a second.
	TokenPoll time.Duration
	// Proxy picks the proxy for a URL; nil means the environment's
	// HTTPS_PROXY and NO_PROXY as net/http.ProxyFromEnvironment reads them.
	Proxy func(*url.URL) (*url.URL, error)
	// ProxyRoots verify an https:// proxy; nil means the system's roots.
	ProxyRoots *x509.CertPool
	// Now, Sleep and Rand default to the real clock, a timer and math/rand.
	// Rand returns a number in [0, 1).
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	Rand  func() float64
}

func (o *Options) withDefaults() Options {
	c := *o
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.TokenPoll <= 0 {
		c.TokenPoll = time.Second
	}
	if c.Proxy == nil {
		c.Proxy = environmentProxy
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Sleep == nil {
		c.Sleep = sleep
	}
	if c.Rand == nil {
		c.Rand = rand.Float64
	}
	return c
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Step is where a run is, as Progress hears it.
type Step int

const (
	StepWaitingForToken Step = iota // the token file has not arrived
	StepDiscovering                 // trying the endpoints
	StepAttemptFailed               // one attempt failed: Endpoint, Class, Err
	StepVerified                    // Endpoint passed every check
)

// Progress is one step of a run. Err never holds the token.
type Progress struct {
	Step     Step
	Endpoint string
	Class    Class
	Err      error
}

func (o *Options) progress(p Progress) {
	if o.Progress != nil {
		o.Progress(p)
	}
}

// Target is what discovery needs to know: where to look, what to trust,
// which token to prove.
type Target struct {
	Endpoints []string // "host:port"
	Pins      pin.Set  // a CA matching any passes
	Token     token.Token
	Timeout   time.Duration // the overall deadline
}

// Discovered is a verified cluster.
type Discovered struct {
	// Endpoint is the endpoint that answered and passed every check.
	Endpoint string
	// Verified is its cluster-info: the pinned CAs (the only ones trusted
	// and installed), the server it names, the unpinned CAs.
	*Verified
	// Attempts counts the unverified fetches made.
	Attempts int
}

// outcome is how one attempt at one endpoint ended.
type outcome int

const (
	failedTransient outcome = iota // unreachable, not ready, clock
	failedUnproven                 // answered, proved nothing
	failedSigned                   // signed with the token, not pinned, served live with that CA
)

// discoverer holds what every attempt of one Discover shares, and the
// run's record for its exit status.
type discoverer struct {
	o        Options
	tok      token.Token
	pins     pin.Set
	proxy    *proxyDialer
	insecure *fetcher

	endpoints []string
	timeout   time.Duration
	deadline  time.Time
	// last holds each endpoint's latest outcome, for the exit status.
	last    map[string]outcome
	attempt int
	lastErr error
}

// Discover runs token discovery against t until an endpoint passes every
// check or the deadline passes; the error's Class then follows the package
// comment's failure policy.
func Discover(ctx context.Context, t Target, opts Options) (*Discovered, error) {
	o := opts.withDefaults()
	if len(t.Endpoints) == 0 || t.Pins.Len() == 0 || t.Token.IsZero() || t.Timeout <= 0 {
		return nil, errorf(BadConfig, "discovery needs endpoints, CA pins, a token and a deadline")
	}
	deadline := o.Now().Add(t.Timeout)
	ctx, cancel := context.WithTimeout(ctx, t.Timeout)
	defer cancel()

	proxy := newProxyDialer(loggingProxy(o.Proxy, o.Logf), o.ProxyRoots)
	d := &discoverer{
		o: o, tok: t.Token, pins: t.Pins, proxy: proxy, insecure: newFetcher(nil, "", proxy),
		endpoints: t.Endpoints, timeout: t.Timeout, deadline: deadline,
		last: make(map[string]outcome, len(t.Endpoints)),
	}
	for round := 0; ; round++ {
		if found, err := d.round(ctx, round); found != nil || err != nil {
			return found, err
		}
	}
}

// round tries every endpoint once, in order, then waits before the next
// round (pause). It returns what passed, or the run's final error, or
// neither when the next round is to begin.
func (d *discoverer) round(ctx context.Context, round int) (*Discovered, error) {
	var retryAfter time.Duration
	reached := false // some endpoint of the round reached a server
	for i, ep := range d.endpoints {
		remaining := d.deadline.Sub(d.o.Now())
		if remaining <= 0 || ctx.Err() != nil {
			return nil, d.fail(ctx)
		}
		d.attempt++
		found, out, err := d.try(ctx, ep, min(d.o.RequestTimeout, remaining))
		if err == nil {
			found.Attempts = d.attempt
			return found, nil
		}
		asked, reachedEp := d.record(ep, out, err)
		reached = reached || reachedEp
		if i == 0 || asked < retryAfter {
			retryAfter = asked
		}
		if i < len(d.endpoints)-1 {
			d.o.Logf("attempt %d: %s: %v; trying %s next", d.attempt, ep, err, d.endpoints[i+1])
			continue
		}
		return nil, d.pause(ctx, round, retryAfter+retryWait(round, reached, d.o.Rand()), ep, err)
	}
	return nil, nil
}

// record notes the failed attempt at ep (its outcome, the run's last
// error) and reports it to Progress. It returns the Retry-After ep sent and
// whether the attempt reached a server. A Retry-After is unauthenticated
// too: the round waits only what every endpoint asked for, so that one
// cannot hold back the others.
func (d *discoverer) record(ep string, out outcome, err error) (asked time.Duration, reached bool) {
	d.last[ep] = out
	d.lastErr = fmt.Errorf("%s: %w", ep, err)
	d.o.progress(Progress{Step: StepAttemptFailed, Endpoint: ep, Class: map[outcome]Class{failedTransient: Transient, failedUnproven: Unproven, failedSigned: Refused}[out], Err: err})
	var fe *fetchError
	if errors.As(err, &fe) {
		asked = fe.retryAfter
	}
	return asked, fe == nil || !fe.unreached
}

// pause waits wait after a round whose last attempt, at ep, failed with
// err. nil means: begin the next round; otherwise the run's final error.
func (d *discoverer) pause(ctx context.Context, round int, wait time.Duration, ep string, err error) error {
	// An attempt needs time to be worth making: one begun a few
	// milliseconds before the deadline only times out, and its "no
	// answer" would stand as the run's last word over what the
	// endpoints really said.
	if rem := d.deadline.Sub(d.o.Now()); wait+min(d.o.RequestTimeout, minAttempt) >= rem {
		// Keep the pace promised to the API server (and to systemd,
		// which restarts the agent when it gives up): wait out the
		// deadline rather than give up early.
		rem = max(rem, 0) // the attempt itself may have run past it
		d.o.Logf("attempt %d: %s: %v; the %s deadline passes before the next try: giving up in %s", d.attempt, ep, err, d.timeout, rem.Round(time.Millisecond))
		d.o.Sleep(ctx, rem)
		return d.fail(ctx)
	}
	d.o.Logf("attempt %d: %s: %v; retrying in %s", d.attempt, ep, err, wait.Round(time.Millisecond))
	if err := d.o.Sleep(ctx, wait); err != nil {
		return d.fail(ctx)
	}
	return nil
}

// fail is the run's error once it ends without a verified endpoint:
// Transient when interrupted, else the Class of deadlineClass.
func (d *discoverer) fail(ctx context.Context) error {
	if d.lastErr == nil {
		d.lastErr = errors.New("no endpoint could be tried")
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		return &Error{Class: Transient, Err: fmt.Errorf("interrupted after %d attempts; last: %w", d.attempt, d.lastErr)}
	}
	class := deadlineClass(d.endpoints, d.last)
	what := map[Class]string{
		Transient: "no endpoint passed discovery",
		Unproven:  "no endpoint proved to be the pinned cluster",
		Refused:   "every endpoint served a cluster-info signed with the token whose CA matches no pin",
	}[class]
	return &Error{Class: class, Err: fmt.Errorf("%s within %s (%d attempts); last: %w", what, d.timeout, d.attempt, d.lastErr)}
}

// deadlineClass is the Class of a run that reached its deadline, from each
// endpoint's latest outcome.
func deadlineClass(endpoints []string, last map[string]outcome) Class {
	class := Refused
	for _, ep := range endpoints {
		switch out, tried := last[ep]; {
		case !tried || out == failedTransient:
			return Transient
		case out == failedUnproven:
			class = Unproven
		}
	}
	return class
}

// try runs one attempt against ep: one fetch, Verify, then the check of
// the session's certificate against the pinned CAs (peerVerified). One
// connection, one TLS handshake per attempt.
func (d *discoverer) try(ctx context.Context, ep string, timeout time.Duration) (*Discovered, outcome, error) {
	body, session, err := d.insecure.fetch(ctx, ep, timeout)
	if err != nil {
		return nil, failedTransient, err
	}
	v, err := Verify(body, d.tok, d.pins)
	if err != nil {
		var ve *VerifyError
		switch {
		case !errors.As(err, &ve):
			return nil, failedTransient, err
		case ve.Failure == NotPinned:
			out, err := proveUnpinned(ep, session, ve)
			return nil, out, err
		case ve.Failure == BadSignature || ve.Failure == SignedUnusable:
			// SignedUnusable: signed, but carrying no CA the endpoint could
			// prove it serves with; an old one replayed looks the same.
			return nil, failedUnproven, err
		}
		return nil, failedTransient, err
	}
	// Signed with the token, and a CA of it pinned: the session it came
	// over must be one a TLS client trusting only those CAs would have
	// accepted, for the endpoint's name (README, "Security trade-offs").
	if err := peerVerified(session, v.CAs, ep); err != nil {
		var fe *fetchError
		if errors.As(err, &fe) {
			var ci x509.CertificateInvalidError
			if errors.As(fe.verify, &ci) && ci.Reason == x509.Expired {
				// At first boot the clock may be wrong until NTP has
				// synced: no sign of an impostor.
				return nil, failedTransient, err
			}
		}
		return nil, failedUnproven, err
	}
	return &Discovered{Endpoint: ep, Verified: v}, 0, nil
}

// proveUnpinned decides how final a cluster-info signed with the token
// whose CAs match no pin (refused with ve, having come over session) is.
// cluster-info is public, and an old one stays valid as long as the token:
// anyone on the path can replay one the cluster published before a CA
// rotation. So the refusal counts towards exit 3 only when the endpoint
// proved, in the live TLS session the signed answer came over, that it
// serves now with a CA of that signed bundle, for the endpoint's name
// (peerVerified against those CAs): a replay cannot do that. Otherwise the
// refusal is unproven, and retried.
func proveUnpinned(ep string, session *tls.ConnectionState, ve *VerifyError) (outcome, error) {
	if err := peerVerified(session, ve.CAs, ep); err != nil {
		return failedUnproven, fmt.Errorf("%v; but %s did not prove over TLS that it serves with that CA (%v): a replayed cluster-info looks like this, so it is not final", ve, ep, err)
	}
	return failedSigned, ve
}

// loggingProxy wraps proxy to log, once per proxy and host, that a proxy is used.
func loggingProxy(proxy func(*url.URL) (*url.URL, error), logf func(string, ...any)) func(*url.URL) (*url.URL, error) {
	var mu sync.Mutex
	seen := map[string]bool{}
	return func(target *url.URL) (*url.URL, error) {
		u, err := proxy(target)
		if err != nil || u == nil {
			return u, err
		}
		shown := showProxy(u)
		key := shown + " " + target.Host
		mu.Lock()
		first := !seen[key]
		seen[key] = true
		mu.Unlock()
		if first {
			logf("connecting to %s through proxy %s (from HTTPS_PROXY); add the API server to NO_PROXY to connect directly", target.Host, shown)
		}
		return u, nil
	}
}

// describeUnpinned says which CAs of cluster-info's bundle no pin matched.
func describeUnpinned(certs []*x509.Certificate) string {
	var parts []string
	for _, c := range certs {
		parts = append(parts, DescribeCert(c))
	}
	return strings.Join(parts, ", ")
}
