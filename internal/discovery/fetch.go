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
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// MaxBodySize caps a cluster-info answer. A real one is a few kilobytes.
const MaxBodySize = 1 << 20

// maxRetryAfter bounds how long a Retry-After header can make us wait.
const maxRetryAfter = 5 * time.Minute

// fetchError is a failed GET of cluster-info.
type fetchError struct {
	msg string
	// retryAfter is the server's Retry-After on a 429 or 503, if any.
	retryAfter time.Duration
	// verify is set when the TLS peer failed certificate verification.
	verify error
}

func (e *fetchError) Error() string { return e.msg }

// client fetches cluster-info over one TLS configuration.
type client struct {
	http *http.Client
}

// newClient returns a client for endpoint. roots nil means no server
// verification (the first, unauthenticated fetch); otherwise only roots are
// trusted and the endpoint's host must be in the server certificate.
func newClient(endpoint string, roots *x509.CertPool, proxy func(*http.Request) (*url.URL, error)) *client {
	host, _, _ := net.SplitHostPort(endpoint)
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: host}
	if roots == nil {
		tc.InsecureSkipVerify = true
	} else {
		tc.RootCAs = roots
	}
	tr := &http.Transport{
		Proxy:                  proxy,
		TLSClientConfig:        tc,
		DialContext:            (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		TLSHandshakeTimeout:    10 * time.Second,
		DisableKeepAlives:      true, // every attempt is a fresh connection
		MaxResponseHeaderBytes: 64 << 10,
	}
	return &client{http: &http.Client{
		Transport: tr,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if req.URL.Scheme != "https" || req.URL.Host != via[0].URL.Host {
				return fmt.Errorf("refusing a redirect to %s: cluster-info is only read from the endpoint itself", req.URL.Redacted())
			}
			if len(via) >= 3 {
				return errors.New("too many redirects")
			}
			return nil
		},
	}}
}

// get fetches cluster-info from endpoint within timeout. It never sends
// credentials: the request carries no Authorization header, and the client
// holds no certificate.
func (c *client) get(ctx context.Context, endpoint string, timeout time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	u := "https://" + endpoint + ClusterInfoPath
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, &fetchError{msg: err.Error()}
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "kubebake-join")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, describeTransportError(endpoint, timeout, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBodySize+1))
	if err != nil {
		return nil, describeTransportError(endpoint, timeout, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, describeStatus(resp, time.Now())
	}
	if len(body) > MaxBodySize {
		return nil, &fetchError{msg: fmt.Sprintf("the answer is larger than %d KiB, which no real cluster-info is: is this an API server?", MaxBodySize>>10)}
	}
	return body, nil
}

// describeTransportError turns a failed request into one plain sentence.
func describeTransportError(endpoint string, timeout time.Duration, err error) error {
	var ve *tls.CertificateVerificationError
	if errors.As(err, &ve) {
		return &fetchError{msg: describeVerifyError(endpoint, ve.Err), verify: ve.Err}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		return &fetchError{msg: fmt.Sprintf("no answer within %s: the API server is down or unreachable, or a firewall drops the connection", timeout)}
	case errors.Is(err, syscall.ECONNREFUSED):
		return &fetchError{msg: "connection refused: the API server is not running (yet) or listens on another address"}
	case errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH):
		return &fetchError{msg: "no route to the API server: is the node's network up?"}
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return &fetchError{msg: fmt.Sprintf("cannot resolve %s: %v", dnsErr.Name, dnsErr.Err)}
	}
	var recErr tls.RecordHeaderError
	if errors.As(err, &recErr) {
		return &fetchError{msg: "the server does not speak TLS: is this the API server's port?"}
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return &fetchError{msg: fmt.Sprintf("no answer within %s", timeout)}
	}
	return &fetchError{msg: fmt.Sprintf("fetching cluster-info: %v", err)}
}

// describeVerifyError explains why a server certificate failed verification
// against the pinned CA bundle.
func describeVerifyError(endpoint string, err error) string {
	var he x509.HostnameError
	if errors.As(err, &he) && he.Certificate != nil {
		return fmt.Sprintf("%s is not a name in the API server certificate (SANs: %s): render with an endpoint the certificate lists, or add it to the certificate (kubeadm --apiserver-cert-extra-sans)",
			he.Host, strings.Join(certNames(he.Certificate), ", "))
	}
	var ua x509.UnknownAuthorityError
	if errors.As(err, &ua) {
		return fmt.Sprintf("the API server certificate at %s is not signed by the verified cluster CA: something between this node and the cluster is answering in its place", endpoint)
	}
	var ci x509.CertificateInvalidError
	if errors.As(err, &ci) && ci.Reason == x509.Expired {
		return fmt.Sprintf("the API server certificate at %s is expired or not yet valid at this node's clock (%s): %v; check the node's time (NTP)", endpoint, time.Now().UTC().Format(time.RFC3339), err)
	}
	return fmt.Sprintf("the API server certificate at %s does not verify against the verified cluster CA: %v", endpoint, err)
}

// certNames lists a certificate's SANs (or its common name if it has none).
func certNames(c *x509.Certificate) []string {
	var names []string
	names = append(names, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	for _, u := range c.URIs {
		names = append(names, u.String())
	}
	if len(names) == 0 {
		return []string{"none; common name " + strconv.Quote(c.Subject.CommonName) + ", which Go does not accept as a host name"}
	}
	return names
}

// describeStatus explains an HTTP status other than 200.
func describeStatus(resp *http.Response, now time.Time) error {
	code := resp.StatusCode
	status := fmt.Sprintf("HTTP %d %s", code, http.StatusText(code))
	e := &fetchError{}
	switch {
	case code == http.StatusUnauthorized:
		e.msg = status + ": the API server refuses anonymous requests (kube-apiserver --anonymous-auth=false?); token discovery reads cluster-info anonymously"
	case code == http.StatusForbidden:
		e.msg = status + ": anonymous users may not read kube-public/cluster-info; the cluster needs kubeadm's Role and RoleBinding kubeadm:bootstrap-signer-clusterinfo"
	case code == http.StatusNotFound:
		e.msg = status + ": the cluster has no kube-public/cluster-info (yet); kubeadm init publishes it in its bootstrap-token phase"
	case code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable:
		e.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), now)
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
