// Package discovery is kubeadm-style bootstrap token discovery with CA
// pinning: it finds the API server among the configured endpoints, proves
// that the cluster behind it is the one whose CA was pinned and that it
// knows the bootstrap token, and (Run) installs the verified CA bundle and
// bootstrap kubeconfig for the kubelet.
//
// The steps, for each endpoint in order and then again with backoff:
//
//  1. GET kube-public/cluster-info over TLS without verification and without
//     credentials: the token is never sent to a server not yet verified.
//  2. Verify the detached JWS jws-kubeconfig-<token id> over its kubeconfig
//     with the token secret (HS256, constant time).
//  3. Take the CA bundle from that kubeconfig; one certificate must match a pin.
//  4. GET cluster-info again over TLS trusting only that bundle, with host
//     name verification, and require the same kubeconfig bytes.
//
// The package parses no flags and never exits: kubebake-join and kubebake
// check both drive it. Its errors carry a Class that maps to the agent's
// exit status.
package discovery

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/kubebake/kubebake/internal/atomicfile"
	"github.com/kubebake/kubebake/internal/joinconfig"
	"github.com/kubebake/kubebake/internal/pin"
	"github.com/kubebake/kubebake/internal/token"
	"golang.org/x/net/http/httpproxy"
)

// Class says what kind of failure an Error is, and so what to do about it.
type Class int

// The classes are the agent's exit statuses.
const (
	// Transient: the deadline passed or an I/O error happened; trying again
	// later may work (systemd restarts the agent).
	Transient Class = 1
	// BadConfig: the configuration or the installed files are wrong; trying
	// again cannot help.
	BadConfig Class = 2
	// Identity: the cluster could not be proven to be the pinned one, or it
	// proved not to be. Never retried: the token must not go there.
	Identity Class = 3
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

// Backoff between rounds over the endpoints: full jitter, the ceiling
// doubling from InitialBackoff up to MaxBackoff.
const (
	InitialBackoff = 1 * time.Second
	MaxBackoff     = 10 * time.Second
	// DefaultRequestTimeout bounds one GET, as kubeadm's 10 s.
	DefaultRequestTimeout = 10 * time.Second
)

// Options tune a run. The zero value is the agent's behaviour; tests replace
// the clock, the sleep and the randomness.
type Options struct {
	// Root prefixes every path read or written (image builds, chroots, tests).
	Root string
	// Timeout overrides the configuration's overall deadline when positive.
	Timeout time.Duration
	// Check verifies and reports but writes nothing, and runs even when the
	// node has joined already.
	Check bool

	// Logf prints one line (no trailing newline needed). Nil discards.
	Logf func(format string, args ...any)
	// RequestTimeout bounds one GET; zero means DefaultRequestTimeout.
	RequestTimeout time.Duration
	// Proxy picks the proxy for a URL; nil means the environment's
	// HTTPS_PROXY and NO_PROXY, read as net/http.ProxyFromEnvironment (and
	// so kubectl) reads them.
	Proxy func(*url.URL) (*url.URL, error)
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
	if c.Proxy == nil {
		c.Proxy = httpproxy.FromEnvironment().ProxyFunc()
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

// Target is what discovery needs to know: where to look, what to trust,
// which token to prove.
type Target struct {
	Endpoints []string // "host:port"
	Pins      []string // "sha256:<hex>"; a CA matching any passes
	Token     token.Token
	Timeout   time.Duration
}

// Discovered is a verified cluster.
type Discovered struct {
	// Endpoint is the endpoint that answered and passed every check.
	Endpoint string
	// CACerts is the verified CA bundle; Bundle is it in PEM.
	CACerts []*x509.Certificate
	Bundle  []byte
	// Pin is the pin of the CA certificate that matched.
	Pin string
	// Attempts counts the insecure fetches made.
	Attempts int
}

// Discover runs token discovery against t until an endpoint passes every
// check, an identity check fails (Class Identity, at once), or the deadline
// passes (Class Transient, with the last failure).
func Discover(ctx context.Context, t Target, opts Options) (*Discovered, error) {
	o := opts.withDefaults()
	if len(t.Endpoints) == 0 || len(t.Pins) == 0 || t.Token.IsZero() {
		return nil, errorf(BadConfig, "discovery needs endpoints, CA pins and a token")
	}
	pins, err := pin.NewSet(t.Pins...)
	if err != nil {
		return nil, &Error{Class: BadConfig, Err: err}
	}
	var pinList []string
	for _, p := range t.Pins {
		n, _ := pin.Normalize(p)
		pinList = append(pinList, n)
	}
	timeout := t.Timeout
	if timeout <= 0 {
		timeout = joinconfig.DefaultTimeout
	}
	start := o.Now()
	deadline := start.Add(timeout)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	proxy := loggingProxy(o.Proxy, o.Logf)
	insecure := map[string]*client{}
	for _, ep := range t.Endpoints {
		insecure[ep] = newClient(ep, nil, proxy)
	}
	attempt := 0
	var last error
	fail := func() error {
		if last == nil {
			last = errors.New("no endpoint could be tried")
		}
		if errors.Is(ctx.Err(), context.Canceled) {
			return &Error{Class: Transient, Err: fmt.Errorf("interrupted after %d attempts; last: %w", attempt, last)}
		}
		return &Error{Class: Transient, Err: fmt.Errorf("no endpoint passed discovery within %s (%d attempts); last: %w", timeout, attempt, last)}
	}
	for round := 0; ; round++ {
		var retryAfter time.Duration
		for i, ep := range t.Endpoints {
			remaining := deadline.Sub(o.Now())
			if remaining <= 0 || ctx.Err() != nil {
				return nil, fail()
			}
			attempt++
			d, err := tryEndpoint(ctx, ep, insecure[ep], t.Token, pins, pinList, proxy, min(o.RequestTimeout, remaining))
			if err == nil {
				d.Attempts = attempt
				return d, nil
			}
			var idErr *Error
			if errors.As(err, &idErr) {
				o.Logf("attempt %d: %s: %v; giving up: this is not retried", attempt, ep, err)
				return nil, err
			}
			last = fmt.Errorf("%s: %w", ep, err)
			var fe *fetchError
			if errors.As(err, &fe) && fe.retryAfter > retryAfter {
				retryAfter = fe.retryAfter
			}
			if i < len(t.Endpoints)-1 {
				o.Logf("attempt %d: %s: %v; trying %s next", attempt, ep, err, t.Endpoints[i+1])
				continue
			}
			wait := max(backoff(round, o.Rand()), retryAfter)
			if rem := deadline.Sub(o.Now()); wait >= rem {
				// Keep the pace promised to the API server (and to systemd,
				// which restarts the agent when it gives up): wait out the
				// deadline rather than give up early.
				o.Logf("attempt %d: %s: %v; the %s deadline passes before the next try: giving up in %s", attempt, ep, err, timeout, rem.Round(time.Millisecond))
				o.Sleep(ctx, rem)
				return nil, fail()
			}
			o.Logf("attempt %d: %s: %v; retrying in %s", attempt, ep, err, wait.Round(time.Millisecond))
			if err := o.Sleep(ctx, wait); err != nil {
				return nil, fail()
			}
		}
	}
}

// backoff is the full-jitter delay after round (0-based): uniform in
// [0, min(MaxBackoff, InitialBackoff·2^round)).
func backoff(round int, r float64) time.Duration {
	ceil := MaxBackoff
	if round < 8 {
		ceil = min(MaxBackoff, InitialBackoff<<round)
	}
	return time.Duration(r * float64(ceil))
}

// tryEndpoint runs one attempt against ep. A plain error is worth retrying;
// an *Error (Class Identity) is not.
func tryEndpoint(ctx context.Context, ep string, insecure *client, tok token.Token, pins pin.Set, pinList []string, proxy func(*url.URL) (*url.URL, error), timeout time.Duration) (*Discovered, error) {
	body, err := insecure.get(ctx, ep, timeout)
	if err != nil {
		return nil, err
	}
	ci, err := parseClusterInfo(body)
	if err != nil {
		return nil, err
	}
	id := tok.ID()
	sig, ok := ci.Signatures[id]
	if !ok {
		return nil, missingSignature(id, ci)
	}
	if err := VerifyJWS(sig, []byte(ci.Kubeconfig), id, tok.Secret()); err != nil {
		if errors.Is(err, errSignatureMismatch) {
			return nil, errorf(Identity, "cluster-info's signature for token %s (%s%s) does not verify with the token secret of join.yaml: the secret is wrong (a token with the same id was re-created?), or %s is not the cluster that issued the token; render the node with the cluster's current token", id, jwsKeyPrefix, id, ep)
		}
		return nil, errorf(Identity, "cluster-info's %s%s is not a valid signature for token %s: %v", jwsKeyPrefix, id, id, err)
	}
	certs, bundle, err := ParseKubeconfigCA([]byte(ci.Kubeconfig))
	if err != nil {
		return nil, errorf(Identity, "cluster-info is signed for token %s but unusable: %v", id, err)
	}
	matched, ok := pins.Match(certs)
	if !ok {
		return nil, errorf(Identity, "%s the pinned hashes %s: %s is not the cluster this node was rendered for, or its CA was replaced; if so, render with the new CA's pin (kubebake hash ca.crt)",
			describeCAs(certs), strings.Join(pinList, ", "), ep)
	}
	roots := x509.NewCertPool()
	for _, c := range certs {
		roots.AddCert(c)
	}
	body2, err := newClient(ep, roots, proxy).get(ctx, ep, timeout)
	if err != nil {
		var fe *fetchError
		if errors.As(err, &fe) && fe.verify != nil {
			var ci x509.CertificateInvalidError
			if errors.As(fe.verify, &ci) && ci.Reason == x509.Expired {
				// At first boot the clock may be wrong until NTP has
				// synced: no sign of an impostor, and worth retrying.
				return nil, err
			}
			return nil, &Error{Class: Identity, Err: err}
		}
		return nil, fmt.Errorf("on the verified connection: %w", err)
	}
	ci2, err := parseClusterInfo(body2)
	if err != nil {
		return nil, errorf(Identity, "on the verified connection %s answered something else than on the first: %v", ep, err)
	}
	if ci2.Kubeconfig != ci.Kubeconfig {
		return nil, errorf(Identity, "%s served a different cluster-info kubeconfig on the verified connection than on the first: something is tampering with the connection, or the cluster's CA changed in between", ep)
	}
	return &Discovered{Endpoint: ep, CACerts: certs, Bundle: bundle, Pin: pin.Hash(matched)}, nil
}

// missingSignature explains a cluster-info without our token's signature.
func missingSignature(id string, ci *clusterInfo) error {
	msg := fmt.Sprintf("token %s is unknown to the cluster, expired, or lacks usage-bootstrap-signing (no %s%s in cluster-info)", id, jwsKeyPrefix, id)
	ids := ci.signedIDs()
	switch {
	case len(ids) == 0:
		msg += "; cluster-info is signed for no token at all: is the bootstrapsigner controller running (kube-controller-manager --controllers=*,bootstrapsigner,tokencleaner)?"
	case len(ids) <= 5:
		msg += "; it is signed for tokens " + strings.Join(ids, ", ")
	default:
		msg += fmt.Sprintf("; it is signed for %d other tokens", len(ids))
	}
	return errors.New(msg)
}

func describeCAs(certs []*x509.Certificate) string {
	var parts []string
	for _, c := range certs {
		parts = append(parts, fmt.Sprintf("%s (%s)", pin.Hash(c), c.Subject.String()))
	}
	if len(parts) == 1 {
		return "cluster CA " + parts[0] + " matches none of"
	}
	return "none of the cluster CAs " + strings.Join(parts, ", ") + " matches any of"
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
		key := u.Redacted() + " " + target.Host
		mu.Lock()
		first := !seen[key]
		seen[key] = true
		mu.Unlock()
		if first {
			logf("connecting to %s through proxy %s (from HTTPS_PROXY); add the API server to NO_PROXY to connect directly", target.Host, u.Redacted())
		}
		return u, nil
	}
}

// Result is what Run did.
type Result struct {
	// AlreadyJoined: the kubelet kubeconfig exists, nothing was done.
	AlreadyJoined bool
	*Discovered
	// Written lists the files written (with Root), none with Check.
	Written []string
}

// Run is the first-boot agent: unless the node has joined already, it
// discovers the cluster of cfg and installs the verified CA bundle and
// bootstrap kubeconfig atomically. With opts.Check it verifies the same
// way and writes nothing.
func Run(ctx context.Context, cfg *joinconfig.Config, opts Options) (*Result, error) {
	o := opts.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, &Error{Class: BadConfig, Err: err}
	}
	at := func(p string) string { return filepath.Join(o.Root, filepath.FromSlash(p)) }

	joined, err := exists(at(cfg.Paths.KubeletKubeconfig))
	if err != nil {
		return nil, &Error{Class: Transient, Err: err}
	}
	if joined && !o.Check {
		o.Logf("%s exists: this node has joined its cluster already; nothing to do", cfg.Paths.KubeletKubeconfig)
		return &Result{AlreadyJoined: true}, nil
	}
	if joined {
		o.Logf("%s exists: this node has joined already; checking discovery anyway", cfg.Paths.KubeletKubeconfig)
	}

	tok := cfg.ParsedToken()
	srcPath := at(cfg.Paths.BootstrapKubeconfigSource)
	src, err := os.ReadFile(srcPath)
	if err != nil {
		return nil, errorf(BadConfig, "reading the rendered bootstrap kubeconfig: %v (paths.bootstrapKubeconfigSource of the join config)", err)
	}
	kc, err := ParseBootstrapKubeconfig(src, tok.Value())
	if err != nil {
		return nil, errorf(BadConfig, "%s: %v", cfg.Paths.BootstrapKubeconfigSource, err)
	}
	timeout := cfg.Deadline()
	if o.Timeout > 0 {
		timeout = o.Timeout
	}
	o.Logf("discovering the cluster with token %s at %s (CA pins: %s; deadline %s)", tok.ID(), strings.Join(cfg.Endpoints, ", "), strings.Join(cfg.CACertHashes, ", "), timeout)
	d, err := Discover(ctx, Target{Endpoints: cfg.Endpoints, Pins: cfg.CACertHashes, Token: tok, Timeout: timeout}, o)
	if err != nil {
		return nil, err
	}
	out, err := kc.Rewrite(d.Endpoint, d.Bundle)
	if err != nil {
		return nil, errorf(Transient, "building the bootstrap kubeconfig: %v", err)
	}
	res := &Result{Discovered: d}
	o.Logf("%s verified after %d attempt(s): its CA %s matches a pin, it signed cluster-info for token %s, and its certificate verifies", d.Endpoint, d.Attempts, d.Pin, tok.ID())
	if o.Check {
		o.Logf("--check: wrote nothing")
		return res, nil
	}
	for _, f := range []struct {
		path string
		data []byte
		mode os.FileMode
	}{
		{cfg.Paths.CACert, d.Bundle, 0o644},
		{cfg.Paths.BootstrapKubeconfig, out, 0o600},
	} {
		p := at(f.path)
		if err := atomicfile.MkdirWrite(p, f.data, f.mode); err != nil {
			return res, errorf(Transient, "writing %s: %v", f.path, err)
		}
		res.Written = append(res.Written, p)
	}
	o.Logf("wrote %s and %s (server https://%s): the kubelet can bootstrap", cfg.Paths.CACert, cfg.Paths.BootstrapKubeconfig, d.Endpoint)
	return res, nil
}

func exists(p string) (bool, error) {
	_, err := os.Lstat(p)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return false, err
}
