package discovery

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The agent speaks just enough HTTP/1.1 to GET one small JSON document:
// net/http (with its HTTP/2 client) would add half a megabyte, compressed,
// to a binary that is embedded in every rendered config. What it needs of
// HTTP is small: one GET, Connection: close, a Content-Length, chunked or
// read-to-EOF body, CONNECT through a proxy. It follows no redirects.

// MaxBodySize caps a cluster-info answer. A real one is a few kilobytes.
const MaxBodySize = 1 << 20

// maxHeaderBytes caps the status line and headers of an answer.
const maxHeaderBytes = 64 << 10

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

// client fetches cluster-info from one endpoint over one TLS configuration.
type client struct {
	tls   *tls.Config
	proxy func(*url.URL) (*url.URL, error)
}

// newClient returns a client for endpoint. roots nil means no server
// verification (the first, unauthenticated fetch); otherwise only roots are
// trusted and the endpoint's host must be in the server certificate.
func newClient(endpoint string, roots *x509.CertPool, proxy func(*url.URL) (*url.URL, error)) *client {
	host, _, _ := net.SplitHostPort(endpoint)
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: host}
	if roots == nil {
		tc.InsecureSkipVerify = true
	} else {
		tc.RootCAs = roots
	}
	return &client{tls: tc, proxy: proxy}
}

// get fetches cluster-info from endpoint within timeout. It sends no
// credentials: the request is written below, with no Authorization header,
// and the TLS client holds no certificate.
func (c *client) get(ctx context.Context, endpoint string, timeout time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	body, err := c.fetch(ctx, endpoint)
	if err != nil {
		var fe *fetchError
		if errors.As(err, &fe) {
			return nil, fe
		}
		return nil, describeTransportError(ctx, endpoint, timeout, err)
	}
	return body, nil
}

func (c *client) fetch(ctx context.Context, endpoint string) ([]byte, error) {
	target := &url.URL{Scheme: "https", Host: endpoint, Path: ClusterInfoPath}
	var proxyURL *url.URL
	if c.proxy != nil {
		p, err := c.proxy(target)
		if err != nil {
			return nil, &fetchError{msg: fmt.Sprintf("the proxy settings (HTTPS_PROXY, NO_PROXY) are not valid: %v", err)}
		}
		proxyURL = p
	}
	conn, err := dial(ctx, endpoint, proxyURL)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	// Every read and write ends at the deadline, and at once when ctx ends.
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	tc := tls.Client(conn, c.tls)
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, err
	}
	req := "GET " + ClusterInfoPath + " HTTP/1.1\r\n" +
		"Host: " + endpoint + "\r\n" +
		"User-Agent: kubebake-join\r\n" +
		"Accept: application/json\r\n" +
		"Connection: close\r\n\r\n"
	if _, err := io.WriteString(tc, req); err != nil {
		return nil, err
	}
	lr := &io.LimitedReader{R: tc, N: maxHeaderBytes}
	br := bufio.NewReaderSize(lr, 4096)
	code, header, err := readHead(br, lr)
	if err != nil {
		return nil, err
	}
	if code != 200 {
		return nil, describeStatus(code, header, time.Now())
	}
	// The body may be chunked; its framing counts too, generously.
	lr.N = 2*MaxBodySize + 4096
	return readBody(br, header)
}

// dial connects to endpoint, through proxyURL's CONNECT tunnel if set.
func dial(ctx context.Context, endpoint string, proxyURL *url.URL) (net.Conn, error) {
	d := &net.Dialer{}
	if proxyURL == nil {
		return d.DialContext(ctx, "tcp", endpoint)
	}
	port := proxyURL.Port()
	switch proxyURL.Scheme {
	case "http":
		if port == "" {
			port = "80"
		}
	case "https":
		if port == "" {
			port = "443"
		}
	default:
		return nil, &fetchError{msg: fmt.Sprintf("proxy %s: only http:// and https:// proxies are supported", proxyURL.Redacted())}
	}
	proxyAddr := net.JoinHostPort(proxyURL.Hostname(), port)
	conn, err := d.DialContext(ctx, "tcp", proxyAddr)
	if err != nil {
		return nil, &fetchError{msg: fmt.Sprintf("cannot reach proxy %s: %v", proxyURL.Redacted(), unwrapOp(err))}
	}
	ok := false
	defer func() {
		if !ok {
			conn.Close()
		}
	}()
	if dl, has := ctx.Deadline(); has {
		conn.SetDeadline(dl)
	}
	if proxyURL.Scheme == "https" {
		pc := tls.Client(conn, &tls.Config{MinVersion: tls.VersionTLS12, ServerName: proxyURL.Hostname()})
		if err := pc.HandshakeContext(ctx); err != nil {
			return nil, &fetchError{msg: fmt.Sprintf("TLS to proxy %s failed: %v", proxyURL.Redacted(), err)}
		}
		conn = pc
	}
	req := "CONNECT " + endpoint + " HTTP/1.1\r\nHost: " + endpoint + "\r\n"
	if u := proxyURL.User; u != nil {
		pw, _ := u.Password()
		req += "Proxy-Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(u.Username()+":"+pw)) + "\r\n"
	}
	req += "\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		return nil, &fetchError{msg: fmt.Sprintf("proxy %s: %v", proxyURL.Redacted(), unwrapOp(err))}
	}
	lr := &io.LimitedReader{R: conn, N: maxHeaderBytes}
	br := bufio.NewReaderSize(lr, 1) // read no further than the proxy's answer
	code, _, err := readHead(br, lr)
	if err != nil {
		return nil, &fetchError{msg: fmt.Sprintf("proxy %s: %v", proxyURL.Redacted(), unwrapOp(err))}
	}
	if code/100 != 2 {
		return nil, &fetchError{msg: fmt.Sprintf("proxy %s refused to connect to %s: HTTP %d", proxyURL.Redacted(), endpoint, code)}
	}
	if br.Buffered() > 0 {
		return nil, &fetchError{msg: fmt.Sprintf("proxy %s sent data before the tunnel was used", proxyURL.Redacted())}
	}
	conn.SetDeadline(time.Time{})
	ok = true
	return conn, nil
}

// readHead reads an HTTP/1.x status line and headers.
func readHead(br *bufio.Reader, lr *io.LimitedReader) (int, textproto.MIMEHeader, error) {
	tp := textproto.NewReader(br)
	line, err := tp.ReadLine()
	if err != nil {
		return 0, nil, headErr(lr, err)
	}
	proto, rest, _ := strings.Cut(line, " ")
	codeStr, _, _ := strings.Cut(rest, " ")
	code, cerr := strconv.Atoi(codeStr)
	if !strings.HasPrefix(proto, "HTTP/1.") || cerr != nil || code < 100 || code > 999 {
		return 0, nil, &fetchError{msg: "the server does not speak HTTP/1.1 over TLS: is this the API server's port?"}
	}
	h, err := tp.ReadMIMEHeader()
	if err != nil {
		return 0, nil, headErr(lr, err)
	}
	return code, h, nil
}

func headErr(lr *io.LimitedReader, err error) error {
	if lr.N <= 0 {
		return &fetchError{msg: fmt.Sprintf("the answer's headers are larger than %d KiB", maxHeaderBytes>>10)}
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &fetchError{msg: "the server closed the connection without answering"}
	}
	return err
}

var errTooLarge = &fetchError{msg: fmt.Sprintf("the answer is larger than %d KiB, which no real cluster-info is: is this an API server?", MaxBodySize>>10)}

// readBody reads a response body framed by Transfer-Encoding: chunked,
// Content-Length, or the end of the connection, up to MaxBodySize.
func readBody(br *bufio.Reader, h textproto.MIMEHeader) ([]byte, error) {
	if te := strings.ToLower(strings.Join(h.Values("Transfer-Encoding"), ",")); te != "" {
		if strings.TrimSpace(te) != "chunked" {
			return nil, &fetchError{msg: fmt.Sprintf("the answer uses Transfer-Encoding %q, which an API server does not", te)}
		}
		return readChunked(br)
	}
	if cl := h.Get("Content-Length"); cl != "" {
		n, err := strconv.ParseInt(strings.TrimSpace(cl), 10, 64)
		if err != nil || n < 0 {
			return nil, &fetchError{msg: fmt.Sprintf("the answer's Content-Length %q is not a number", cl)}
		}
		if n > MaxBodySize {
			return nil, errTooLarge
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(br, body); err != nil {
			return nil, truncated(err)
		}
		return body, nil
	}
	body, err := io.ReadAll(io.LimitReader(br, MaxBodySize+1))
	if err != nil {
		return nil, err
	}
	if len(body) > MaxBodySize {
		return nil, errTooLarge
	}
	return body, nil
}

func truncated(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &fetchError{msg: "the answer was cut short: the connection closed mid-body"}
	}
	return err
}

// readChunked decodes a chunked body (RFC 9112 §7.1), ignoring extensions
// and trailers.
func readChunked(br *bufio.Reader) ([]byte, error) {
	tp := textproto.NewReader(br)
	var body []byte
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return nil, truncated(err)
		}
		sizeStr, _, _ := strings.Cut(line, ";")
		size, err := strconv.ParseUint(strings.TrimSpace(sizeStr), 16, 32)
		if err != nil {
			return nil, &fetchError{msg: "the answer's chunked encoding is broken"}
		}
		if size == 0 {
			// Trailers, then the final empty line.
			if _, err := tp.ReadMIMEHeader(); err != nil {
				return nil, truncated(err)
			}
			return body, nil
		}
		if uint64(len(body))+size > MaxBodySize {
			return nil, errTooLarge
		}
		start := len(body)
		body = append(body, make([]byte, size)...)
		if _, err := io.ReadFull(br, body[start:]); err != nil {
			return nil, truncated(err)
		}
		if crlf, err := tp.ReadLine(); err != nil || crlf != "" {
			return nil, &fetchError{msg: "the answer's chunked encoding is broken"}
		}
	}
}

// unwrapOp strips net.OpError's "dial tcp 1.2.3.4:5:" prefix.
func unwrapOp(err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err
	}
	return err
}

// describeTransportError turns a failed request into one plain sentence.
func describeTransportError(ctx context.Context, endpoint string, timeout time.Duration, err error) error {
	var ve *tls.CertificateVerificationError
	if errors.As(err, &ve) {
		return &fetchError{msg: describeVerifyError(endpoint, ve.Err), verify: ve.Err}
	}
	var ne net.Error
	switch {
	case ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		return &fetchError{msg: fmt.Sprintf("no answer within %s: the API server is down or unreachable, or a firewall drops the connection", timeout)}
	case errors.Is(err, syscall.ECONNREFUSED):
		return &fetchError{msg: "connection refused: the API server is not running (yet) or listens on another address"}
	case errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH):
		return &fetchError{msg: "no route to the API server: is the node's network up?"}
	case errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return &fetchError{msg: fmt.Sprintf("the connection was closed or reset during the TLS handshake or request: %v", unwrapOp(err))}
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return &fetchError{msg: fmt.Sprintf("cannot resolve %s: %v", dnsErr.Name, dnsErr.Err)}
	}
	var recErr tls.RecordHeaderError
	if errors.As(err, &recErr) {
		return &fetchError{msg: "the server does not speak TLS: is this the API server's port?"}
	}
	return &fetchError{msg: fmt.Sprintf("fetching cluster-info: %v", unwrapOp(err))}
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

// statusText names the statuses discovery explains.
var statusText = map[int]string{
	401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 429: "Too Many Requests",
	500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout",
}

// describeStatus explains an HTTP status other than 200.
func describeStatus(code int, h textproto.MIMEHeader, now time.Time) error {
	status := strings.TrimSpace(fmt.Sprintf("HTTP %d %s", code, statusText[code]))
	e := &fetchError{}
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
	} else if t, err := time.Parse("Mon, 02 Jan 2006 15:04:05 GMT", v); err == nil {
		d = t.Sub(now)
	}
	if d < 0 {
		return 0
	}
	return min(d, maxRetryAfter)
}
