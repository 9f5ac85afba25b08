package discovery

import (
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
		{"one-byte chunks", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nh\r\n1\r\ni\r\n0\r\n\r\n", "hi", ""},
		{"cut short", "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nhello", "", "cut short"},
		{"chunked cut short", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n50\r\nhello", "", "cut short"},
		{"chunked broken", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", "", "chunk length"},
		{"signed length", "HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello", "", "Content-Length"},
		{"two lengths", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", "", "Content-Length"},
		{"bad length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "", "Content-Length"},
		{"declared too large", "HTTP/1.1 200 OK\r\nContent-Length: 1048577\r\n\r\n", "", "larger than 1024 KiB"},
		{"too large to EOF", "HTTP/1.1 200 OK\r\n\r\n" + big, "", "larger than 1024 KiB"},
		{"chunked too large", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n80000\r\n" + big[:0x80000] + "\r\n80001\r\n" + big[:0x80001] + "\r\n0\r\n\r\n", "", "larger than 1024 KiB"},
		{"huge headers", "HTTP/1.1 200 OK\r\nX: " + strings.Repeat("y", 70<<10) + "\r\n\r\n", "", "headers exceeded"},
		{"not HTTP", "SSH-2.0-OpenSSH_9.2\r\n", "", "does not answer HTTP/1.1"},
		{"silent", "", "", "closed or reset"},
		{"redirect", "HTTP/1.1 302 Found\r\nLocation: https://elsewhere.example/x\r\nContent-Length: 0\r\n\r\n", "", `refusing to follow a redirect (to "https://elsewhere.example/x")`},
		{"401", "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n", "", "refuses anonymous requests"},
		{"403", "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n", "", "kubeadm:bootstrap-signer-clusterinfo"},
		{"404", "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", "", "has no kube-public/cluster-info"},
		{"500", "HTTP/1.1 500 Internal Server Error\r\n\r\n", "", "HTTP 500 Internal Server Error: the API server failed to answer"},
		{"418", "HTTP/1.1 418 I'm a teapot\r\n\r\n", "", "HTTP 418 I'm a teapot: not what an API server answers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ep := rawServer(t, tc.raw)
			body, err := newFetcher(nil, "", nil).get(context.Background(), ep, 5*time.Second)
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
	_, err := newFetcher(nil, "", nil).get(context.Background(), ep, 5*time.Second)
	if err == nil || !strings.Contains(err.Error(), "does not speak TLS") {
		t.Errorf("error %v", err)
	}
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
	_, err := newFetcher(nil, "", nil).get(context.Background(), ep, 5*time.Second)
	if err == nil || !strings.Contains(err.Error(), "protocol version") {
		t.Errorf("error %v, want a refused protocol version", err)
	}
}

func TestGetProxyErrors(t *testing.T) {
	ep := rawServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
	// A proxy that refuses the tunnel.
	refusing := plainServer(t, "HTTP/1.1 407 Proxy Authentication Required\r\n\r\n")
	for _, tc := range []struct{ proxy, want string }{
		{"ftp://127.0.0.1:21", "proxy"},
		{"http://" + refusing, "Proxy Authentication Required"},
		{"http://" + deadAddr(t), "cannot reach the proxy"},
	} {
		u, _ := url.Parse(tc.proxy)
		f := newFetcher(nil, "", newProxyDialer(func(*url.URL) (*url.URL, error) { return u, nil }, nil))
		_, err := f.get(context.Background(), ep, 5*time.Second)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("proxy %s: error %v, want %q", tc.proxy, err, tc.want)
		}
	}
}

// A cancelled context (SIGTERM) ends a request at once, also one stuck in
// a proxy's CONNECT.
func TestGetCancelled(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- c // and never answer
		}
	}()
	defer func() {
		close(accepted)
		for c := range accepted {
			c.Close()
		}
	}()
	stalled := l.Addr().String()
	proxy, _ := url.Parse("http://" + stalled)
	for name, f := range map[string]*fetcher{
		"direct":        newFetcher(nil, "", nil),
		"proxy CONNECT": newFetcher(nil, "", newProxyDialer(func(*url.URL) (*url.URL, error) { return proxy, nil }, nil)),
	} {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			_, err := f.get(ctx, stalled, time.Hour)
			done <- err
		}()
		time.Sleep(50 * time.Millisecond)
		cancel()
		select {
		case err := <-done:
			if err == nil {
				t.Errorf("%s: no error after cancel", name)
			}
		case <-time.After(time.Minute):
			t.Fatalf("%s: the request outlived its cancelled context", name)
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
