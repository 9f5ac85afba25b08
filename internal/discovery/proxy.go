package discovery

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// proxyDialer reaches an API server endpoint directly or through the proxy
// HTTPS_PROXY names for it. The proxy hop has its own trust, separate from
// the API server's:
//
//   - an https:// proxy is reached over TLS verified against the system's
//     roots (SSL_CERT_FILE and SSL_CERT_DIR are honoured) or the proxy CAs
//     of join.yaml, for the proxy's host name, before anything is sent to
//     it; never skipped, and never against the cluster's pinned CAs (which
//     did not sign the proxy);
//   - an http:// proxy gets what the user chose to send in the clear.
//
// Then CONNECT, with the proxy's credentials if the URL has any; the API
// server's TLS runs inside the tunnel as without a proxy. net/http's own
// proxy support uses the API server's tls.Config for the proxy too: the
// first fetch skipped the proxy's verification and sent it the
// credentials, the second verified it against the pinned CAs and failed.
type proxyDialer struct {
	proxy func(*url.URL) (*url.URL, error)
	roots func() (*x509.CertPool, error)
}

// proxyError is a failure of the proxy hop: reported as the proxy's, never
// as the API server's (its certificate errors especially).
type proxyError struct{ msg string }

func (e *proxyError) Error() string { return e.msg }

func newProxyDialer(proxy func(*url.URL) (*url.URL, error), proxyRoots *x509.CertPool) *proxyDialer {
	roots := func() (*x509.CertPool, error) { return proxyRoots, nil }
	if proxyRoots == nil {
		roots = sync.OnceValues(x509.SystemCertPool)
	}
	return &proxyDialer{proxy: proxy, roots: roots}
}

func (p *proxyDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	pu, err := p.proxy(&url.URL{Scheme: "https", Host: addr})
	if err != nil {
		return nil, &proxyError{fmt.Sprintf("HTTPS_PROXY: %v", err)}
	}
	if pu == nil {
		return d.DialContext(ctx, network, addr)
	}
	shown := showProxy(pu)
	port := pu.Port()
	switch {
	case pu.Scheme != "http" && pu.Scheme != "https":
		return nil, &proxyError{fmt.Sprintf("the proxy %s (HTTPS_PROXY) is neither http:// nor https://", shown)}
	case port == "" && pu.Scheme == "https":
		port = "443"
	case port == "":
		port = "80"
	}
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(pu.Hostname(), port))
	if err != nil {
		return nil, &proxyError{fmt.Sprintf("cannot reach the proxy %s (HTTPS_PROXY): %v", shown, unwrapOp(err))}
	}
	if deadline, ok := ctx.Deadline(); ok {
		conn.SetDeadline(deadline)
	}
	// Cancelled (SIGTERM): end the handshake or CONNECT at once.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	fail := func(format string, a ...any) (net.Conn, error) {
		conn.Close()
		return nil, &proxyError{fmt.Sprintf(format, a...)}
	}
	if pu.Scheme == "https" {
		roots, err := p.roots()
		if err != nil {
			return fail("the proxy %s (HTTPS_PROXY) is https, and the system's CA certificates cannot be read to verify it: %v", shown, err)
		}
		tc := tls.Client(conn, &tls.Config{RootCAs: roots, ServerName: pu.Hostname(), MinVersion: tls.VersionTLS12})
		if err := tc.HandshakeContext(ctx); err != nil {
			return fail("the proxy %s (HTTPS_PROXY) did not prove its identity (%s): nothing was sent to it; trust its CA in the system's certificates (SSL_CERT_FILE) or join.yaml's proxyCA", shown, loggable(err.Error()))
		}
		conn = tc
	}
	req := &http.Request{Method: http.MethodConnect, URL: &url.URL{Opaque: addr}, Host: addr, Header: http.Header{"User-Agent": {userAgent}}}
	if u := pu.User; u != nil {
		pw, _ := u.Password()
		req.Header.Set("Proxy-Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(u.Username()+":"+pw)))
	}
	if err := req.Write(conn); err != nil {
		return fail("the proxy %s (HTTPS_PROXY): %v", shown, unwrapOp(err))
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		return fail("the proxy %s (HTTPS_PROXY) did not answer CONNECT: %v", shown, unwrapOp(err))
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fail("the proxy %s (HTTPS_PROXY) refused a tunnel to %s: %s", shown, addr, loggable(resp.Status))
	}
	if br.Buffered() > 0 {
		return fail("the proxy %s (HTTPS_PROXY) sent data before the tunnel opened", shown)
	}
	if !stop() {
		return fail("the proxy %s (HTTPS_PROXY): %v", shown, ctx.Err())
	}
	conn.SetDeadline(time.Time{})
	return conn, nil
}

// showProxy is the proxy URL as logged: scheme and host, never the user
// name or password (nor a path, where net/http's reading of an HTTPS_PROXY
// that is no URL can put the password).
func showProxy(u *url.URL) string {
	return (&url.URL{Scheme: u.Scheme, Host: u.Host}).String()
}
