package discovery

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// rawServer is a TLS server that answers every request with raw bytes.
func rawServer(t *testing.T, raw string) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			t.Errorf("the request carried an Authorization header")
		}
		conn, bw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		bw.WriteString(raw)
		bw.Flush()
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

func TestGetParsesAnswers(t *testing.T) {
	big := strings.Repeat("x", MaxBodySize+1)
	for _, tc := range []struct {
		name, raw, body, err string
	}{
		{"content-length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", "hello", ""},
		{"content-length with extra bytes", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloEXTRA", "hello", ""},
		{"to EOF", "HTTP/1.0 200 OK\r\n\r\nhello", "hello", ""},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\n", "hello world", ""},
		{"cut short", "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nhello", "", "cut short"},
		{"chunked cut short", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n50\r\nhello", "", "cut short"},
		{"chunked broken", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", "", "chunked encoding is broken"},
		{"chunk without CRLF", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloX\r\n0\r\n\r\n", "", "chunked encoding is broken"},
		{"gzip", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", "", "Transfer-Encoding"},
		{"bad length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "", "not a number"},
		{"declared too large", "HTTP/1.1 200 OK\r\nContent-Length: 1048577\r\n\r\n", "", "larger than 1024 KiB"},
		{"too large to EOF", "HTTP/1.1 200 OK\r\n\r\n" + big, "", "larger than 1024 KiB"},
		{"chunked too large", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n80000\r\n" + big[:0x80000] + "\r\n80001\r\n", "", "larger than 1024 KiB"},
		{"huge headers", "HTTP/1.1 200 OK\r\nX: " + strings.Repeat("y", 70<<10) + "\r\n\r\n", "", "headers are larger than 64 KiB"},
		{"not HTTP", "SSH-2.0-OpenSSH_9.2\r\n", "", "does not speak HTTP/1.1"},
		{"silent", "", "", "closed the connection without answering"},
		{"redirect", "HTTP/1.1 302 Found\r\nLocation: https://elsewhere.example/x\r\nContent-Length: 0\r\n\r\n", "", `refusing to follow a redirect (to "https://elsewhere.example/x")`},
		{"401", "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n", "", "refuses anonymous requests"},
		{"403", "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n", "", "kubeadm:bootstrap-signer-clusterinfo"},
		{"404", "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", "", "has no kube-public/cluster-info"},
		{"500", "HTTP/1.1 500 Internal Server Error\r\n\r\n", "", "HTTP 500 Internal Server Error: the API server failed to answer"},
		{"418", "HTTP/1.1 418 I'm a teapot\r\n\r\n", "", "HTTP 418: not what an API server answers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ep := rawServer(t, tc.raw)
			body, err := newClient(ep, nil, nil).get(context.Background(), ep, 5*time.Second)
			if tc.err == "" {
				if err != nil || string(body) != tc.body {
					t.Errorf("body %q, error %v; want %q", body, err, tc.body)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("error %v, want %q", err, tc.err)
			}
		})
	}
}

func TestGetFromPlainTCP(t *testing.T) {
	ep := plainServer(t, "HTTP/1.1 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
	_, err := newClient(ep, nil, nil).get(context.Background(), ep, 5*time.Second)
	if err == nil || !strings.Contains(err.Error(), "does not speak TLS") {
		t.Errorf("error %v", err)
	}
}

func FuzzReadResponse(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"))
	f.Add([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"))
	f.Add([]byte("HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\n\r\n"))
	f.Add([]byte("HTTP/1.0 200 OK\r\n\r\n{}"))
	f.Add([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffff\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		lr := &io.LimitedReader{R: bytes.NewReader(data), N: maxHeaderBytes}
		br := bufio.NewReaderSize(lr, 4096)
		code, h, err := readHead(br, lr)
		if err != nil {
			return
		}
		if code < 100 || code > 999 {
			t.Fatalf("status %d", code)
		}
		if code != 200 {
			describeStatus(code, h, time.Now())
			return
		}
		lr.N = 2*MaxBodySize + 4096
		body, err := readBody(br, h)
		if err == nil && len(body) > MaxBodySize {
			t.Fatalf("a body of %d bytes passed the cap", len(body))
		}
	})
}

func TestGetRefusesOldTLS(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("a request was made over TLS < 1.2")
	}))
	srv.TLS = &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	ep := srv.Listener.Addr().String()
	_, err := newClient(ep, nil, nil).get(context.Background(), ep, 5*time.Second)
	if err == nil || !strings.Contains(err.Error(), "protocol version") {
		t.Errorf("error %v, want a refused protocol version", err)
	}
}

func TestGetProxyErrors(t *testing.T) {
	ep := rawServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
	// A proxy that refuses the tunnel.
	refusing := plainServer(t, "HTTP/1.1 407 Proxy Authentication Required\r\n\r\n")
	for _, tc := range []struct{ proxy, want string }{
		{"socks5://127.0.0.1:1080", "only http:// and https:// proxies"},
		{"http://" + refusing, "refused to connect to " + ep + ": HTTP 407"},
		{"http://" + deadAddr(t), "cannot reach proxy"},
	} {
		u, _ := url.Parse(tc.proxy)
		c := newClient(ep, nil, func(*url.URL) (*url.URL, error) { return u, nil })
		_, err := c.get(context.Background(), ep, 5*time.Second)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("proxy %s: error %v, want %q", tc.proxy, err, tc.want)
		}
	}
}

// plainServer answers every plain-TCP connection on loopback with answer
// and closes it; it returns the address.
func plainServer(t *testing.T, answer string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Write([]byte(answer))
			c.Close()
		}
	}()
	return l.Addr().String()
}

func deadAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := l.Addr().String()
	l.Close()
	return a
}
