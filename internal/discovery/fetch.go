package discovery

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kubebake/kubebake/internal/endpoint"
)

// The agent GETs one small JSON document with net/http. It follows no
// redirects, sends no credentials, keeps no connection open between
// fetches, resumes no TLS session (no session cache: every connection is
// a full handshake, which peerVerified relies on), and caps what it reads.
// The agent is built with the build tag nethttpomithttp2 (Makefile):
// HTTP/1.1 is all one GET needs, and leaving net/http's HTTP/2 client out
// keeps the agent within its size budget.

// MaxBodySize caps a cluster-info answer. A real one is a few kilobytes.
const MaxBodySize = 1 << 20

// maxHeaderBytes caps the status line and headers of an answer.
const maxHeaderBytes = 64 << 10

// maxRetryAfter bounds how long a Retry-After header can make us wait.
const maxRetryAfter = 5 * time.Minute

// userAgent names the agent to the API server's logs.
const userAgent = "kubebake-join"

// fetchError is a failed GET of cluster-info.
type fetchError struct {
	msg string
	// retryAfter is the server's Retry-After on a 429 or 503, if any.
	retryAfter time.Duration
	// verify is set when the TLS peer failed certificate verification.
	verify error
	// unreached says the request reached no server: refused, no route, a
	// name that does not resolve (the retry policy retries such quickly).
	unreached bool
	// status is the HTTP status of an answer other than 200.
	status int
}

func (e *fetchError) Error() string { return e.msg }

// ServerName is the name a TLS client verifies an endpoint's certificate
// against: the endpoint's host, an IP address or a DNS name, without
// brackets. kubebake-join and kubebake check both use it.
func ServerName(ep string) string { return endpoint.Host(ep) }

// fetcher GETs cluster-info over one TLS configuration.
type fetcher struct {
	client *http.Client
	// roots are the CAs trusted for the server (nil: none checked).
	roots *x509.CertPool
}

// newFetcher returns a fetcher. roots nil means no server verification (the
// first, unauthenticated fetch); otherwise only roots are trusted and the
// certificate must name serverName. pd reaches the endpoint, through a
// proxy or not (nil: directly).
func newFetcher(roots *x509.CertPool, serverName string, pd *proxyDialer) *fetcher {
	// No ClientSessionCache: no session is ever resumed, so each answer
	// comes over a full handshake in which the server proved it holds the
	// key of the certificate it presented.
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if roots == nil {
		tc.InsecureSkipVerify = true
	} else {
		tc.RootCAs, tc.ServerName = roots, serverName
	}
	tr := &http.Transport{
		TLSClientConfig:        tc,
		DisableKeepAlives:      true,
		DisableCompression:     true,
		MaxResponseHeaderBytes: maxHeaderBytes,
		ForceAttemptHTTP2:      false,
	}
	if pd != nil {
		// The proxy hop is ours, not net/http's: its TLS must be verified
		// on its own terms (see proxyDialer), which Transport.Proxy cannot.
		tr.DialContext = pd.dial
	}
	return &fetcher{roots: roots, client: &http.Client{
		Transport: tr,
		// A redirect is an answer like any other: reported, never followed.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// environmentProxy is net/http's reading of HTTPS_PROXY and NO_PROXY (the
// way kubectl reads them).
func environmentProxy(u *url.URL) (*url.URL, error) {
	return http.ProxyFromEnvironment(&http.Request{URL: u})
}

// get fetches cluster-info from ep within timeout, or until ctx ends. It
// sends no credentials: the request carries no Authorization header, and
// the TLS client holds no certificate.
func (f *fetcher) get(ctx context.Context, ep string, timeout time.Duration) ([]byte, error) {
	body, _, err := f.fetch(ctx, ep, timeout)
	return body, err
}

// fetch is get that also returns the state of the TLS session the answer
// came over (its peer's certificates, whether it was resumed).
func (f *fetcher) fetch(ctx context.Context, ep string, timeout time.Duration) ([]byte, *tls.ConnectionState, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	target := &url.URL{Scheme: "https", Host: ep, Path: ClusterInfoPath}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target.String(), nil)
	if err != nil {
		return nil, nil, &fetchError{msg: fmt.Sprintf("endpoint %q: %v", ep, err)}
	}
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("Accept", "application/json")
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, nil, describeTransportError(ctx, ep, timeout, chainFirst(err, f.roots))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, nil, describeStatus(resp.StatusCode, resp.Header, time.Now())
	}
	if resp.ContentLength > MaxBodySize {
		return nil, nil, errTooLarge
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBodySize+1))
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, nil, &fetchError{msg: "the answer was cut short: the connection closed mid-body"}
		}
		return nil, nil, describeTransportError(ctx, ep, timeout, err)
	}
	if len(body) > MaxBodySize {
		return nil, nil, errTooLarge
	}
	return body, resp.TLS, nil
}

var errTooLarge = &fetchError{msg: fmt.Sprintf("the answer is larger than %d KiB, which no real cluster-info is: is this an API server?", MaxBodySize>>10)}

// chainFirst makes a failed server certificate verification say what
// matters most: Go checks the certificate's validity period and name
// before its chain, so an impostor's expired certificate would read as the
// node's clock being wrong, and one without the endpoint's name as advice
// to add the name. When the certificate does not chain to roots at all
// (checked at a time within its validity, for no name), that is the error.
func chainFirst(err error, roots *x509.CertPool) error {
	var ve *tls.CertificateVerificationError
	if roots == nil || !errors.As(err, &ve) || len(ve.UnverifiedCertificates) == 0 {
		return err
	}
	var ci x509.CertificateInvalidError
	var he x509.HostnameError
	if !errors.As(ve.Err, &he) && !(errors.As(ve.Err, &ci) && ci.Reason == x509.Expired) {
		return err
	}
	leaf := ve.UnverifiedCertificates[0]
	inter := x509.NewCertPool()
	for _, c := range ve.UnverifiedCertificates[1:] {
		inter.AddCert(c)
	}
	if _, cerr := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: leaf.NotBefore.Add(time.Second), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); cerr != nil {
		return &tls.CertificateVerificationError{UnverifiedCertificates: ve.UnverifiedCertificates, Err: x509.UnknownAuthorityError{Cert: leaf}}
	}
	return err
}

// unwrapOp strips url.Error's `Get "https://..."` and net.OpError's
// "dial tcp 1.2.3.4:5:" prefixes.
func unwrapOp(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		err = ue.Err
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err
	}
	return err
}

// describeTransportError turns a failed request into one plain sentence.
func describeTransportError(ctx context.Context, ep string, timeout time.Duration, err error) error {
	var pe *proxyError
	if errors.As(err, &pe) {
		return &fetchError{msg: pe.msg}
	}
	var ve *tls.CertificateVerificationError
	if errors.As(err, &ve) {
		return &fetchError{msg: describeVerifyError(ep, ve.Err), verify: ve.Err}
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "proxyconnect" {
		return &fetchError{msg: fmt.Sprintf("cannot reach the proxy (HTTPS_PROXY): %v", oe.Err)}
	}
	if strings.Contains(err.Error(), "proxyconnect") || strings.Contains(err.Error(), "unsupported proxy scheme") {
		return &fetchError{msg: fmt.Sprintf("the proxy (HTTPS_PROXY) did not open a tunnel to %s: %v", ep, unwrapOp(err))}
	}
	var ne net.Error
	switch {
	case ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		return &fetchError{msg: fmt.Sprintf("no answer within %s: the API server is down or unreachable, or a firewall drops the connection", timeout)}
	case errors.Is(err, syscall.ECONNREFUSED):
		return &fetchError{msg: "connection refused: the API server is not running (yet) or listens on another address", unreached: true}
	case errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH):
		return &fetchError{msg: "no route to the API server: is the node's network up?", unreached: true}
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return &fetchError{msg: fmt.Sprintf("cannot resolve %s: %v", dnsErr.Name, dnsErr.Err), unreached: true}
	}
	var recErr tls.RecordHeaderError
	if errors.As(err, &recErr) || strings.Contains(err.Error(), "HTTP response to HTTPS client") {
		return &fetchError{msg: "the server does not speak TLS: is this the API server's port?"}
	}
	if errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &fetchError{msg: fmt.Sprintf("the connection was closed or reset during the TLS handshake or request: %v", unwrapOp(err))}
	}
	if strings.Contains(err.Error(), "malformed HTTP") || strings.Contains(err.Error(), "server response headers exceeded") {
		return &fetchError{msg: fmt.Sprintf("the server does not answer HTTP/1.1 as an API server does: %v", unwrapOp(err))}
	}
	return &fetchError{msg: fmt.Sprintf("fetching cluster-info: %v", unwrapOp(err))}
}

// describeVerifyError explains why a server certificate failed verification
// against the pinned CAs.
func describeVerifyError(ep string, err error) string {
	var he x509.HostnameError
	if errors.As(err, &he) && he.Certificate != nil {
		return fmt.Sprintf("%s is not a name in the API server certificate (SANs: %s): render with an endpoint the certificate lists, or add it to the certificate (kubeadm --apiserver-cert-extra-sans)",
			he.Host, strings.Join(CertNames(he.Certificate), ", "))
	}
	var ua x509.UnknownAuthorityError
	if errors.As(err, &ua) {
		return fmt.Sprintf("the API server certificate at %s is not signed by a pinned cluster CA: something between this node and the cluster is answering in its place", ep)
	}
	var ci x509.CertificateInvalidError
	if errors.As(err, &ci) && ci.Reason == x509.Expired {
		return fmt.Sprintf("the API server certificate at %s is expired or not yet valid at this node's clock (%s): %s; check the node's time (NTP)", ep, time.Now().UTC().Format(time.RFC3339), loggable(err.Error()))
	}
	return fmt.Sprintf("the API server certificate at %s does not verify against the pinned cluster CA: %s", ep, loggable(err.Error()))
}

// CertNames lists a certificate's SANs, or says it has none. A name with
// a character outside printable ASCII is quoted: the certificate may be
// anyone's, and its names must not forge lines in a log.
func CertNames(c *x509.Certificate) []string {
	var names []string
	for _, n := range c.DNSNames {
		names = append(names, loggable(n))
	}
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	for _, u := range c.URIs {
		names = append(names, loggable(u.String()))
	}
	if len(names) == 0 {
		return []string{"none; common name " + strconv.Quote(c.Subject.CommonName) + ", which Go does not accept as a host name"}
	}
	return names
}

// loggable is s as is when it is printable ASCII, else quoted Go-style: for
// what an unauthenticated peer sent, which goes into a log line.
func loggable(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' {
			return strconv.Quote(s)
		}
	}
	return s
}

// describeStatus explains an HTTP status other than 200.
func describeStatus(code int, h http.Header, now time.Time) error {
	status := strings.TrimSpace(fmt.Sprintf("HTTP %d %s", code, http.StatusText(code)))
	e := &fetchError{status: code}
	switch {
	case code >= 300 && code < 400:
		e.msg = fmt.Sprintf("%s: refusing to follow a redirect (to %q): cluster-info is only read from the endpoint itself", status, h.Get("Location"))
	case code == 401:
		e.msg = status + ": the API server refuses anonymous requests (kube-apiserver --anonymous-auth=false?); token discovery reads cluster-info anonymously"
	case code == 403:
		e.msg = status + ": anonymous users may not read kube-public/cluster-info; the cluster needs kubeadm's Role and RoleBinding kubeadm:bootstrap-signer-clusterinfo"
	case code == 404:
		e.msg = status + ": the cluster has no kube-public/cluster-info (yet); kubeadm init publishes it in its bootstrap-token phase"
	case code == 429 || code == 503:
		e.retryAfter = parseRetryAfter(h.Get("Retry-After"), now)
		if e.retryAfter > 0 {
			e.msg = fmt.Sprintf("%s: the API server is busy and asks to retry in %s", status, e.retryAfter)
		} else {
			e.msg = status + ": the API server is busy"
		}
	case code >= 500:
		e.msg = status + ": the API server failed to answer"
	default:
		e.msg = status + ": not what an API server answers for cluster-info"
	}
	return e
}

// parseRetryAfter reads a Retry-After header: seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.ParseUint(v, 10, 32); err == nil {
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	if d < 0 {
		return 0
	}
	return min(d, maxRetryAfter)
}
