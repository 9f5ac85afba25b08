//go:build kubebake_bench

package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"os"
	"time"

	"github.com/kubebake/kubebake/internal/discovery"
)

// benchOptions, in a build with -tags kubebake_bench only: with
// $KUBEBAKE_JOIN_FIXED_RETRY (a duration such as 5s) the agent waits exactly
// that long between attempts, whatever its backoff or a Retry-After says,
// as kubeadm join does (a fixed 5 s). The herd benchmark (test/herd) runs
// the same agent both ways to compare.
func benchOptions() discovery.Options {
	d := fixedRetry()
	if d <= 0 {
		return discovery.Options{}
	}
	return discovery.Options{Sleep: func(ctx context.Context, _ time.Duration) error { return fixedSleep(ctx, d) }}
}

func fixedRetry() time.Duration {
	d, err := time.ParseDuration(os.Getenv("KUBEBAKE_JOIN_FIXED_RETRY"))
	if err != nil || d <= 0 {
		return 0
	}
	return d
}

func fixedSleep(ctx context.Context, d time.Duration) error {
	wait, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	<-wait.Done()
	return ctx.Err()
}

// benchAfter, with $KUBEBAKE_JOIN_FIXED_RETRY, completes the model of
// kubeadm join: once its unverified fetch has verified, kubeadm fetches
// cluster-info a second time over TLS trusting the CAs it verified
// (retried at its fixed interval), which the agent no longer does (it
// verifies the first fetch's TLS session instead). The model makes that
// request too, so that the herd benchmark counts what kubeadm's herd
// costs the API server. Its log lines hold no "attempt N:", which the
// herd's log reader counts.
func benchAfter(ctx context.Context, res *discovery.Result, logf func(string, ...any)) {
	d := fixedRetry()
	if d <= 0 || res == nil || res.Discovered == nil {
		return
	}
	roots := x509.NewCertPool()
	for _, c := range res.CAs {
		roots.AddCert(c)
	}
	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: roots, ServerName: discovery.ServerName(res.Endpoint)},
		DisableKeepAlives: true,
	}}
	target := "https://" + res.Endpoint + discovery.ClusterInfoPath
	for {
		rctx, cancel := context.WithTimeout(ctx, discovery.DefaultRequestTimeout)
		req, _ := http.NewRequestWithContext(rctx, http.MethodGet, target, nil)
		resp, err := client.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("HTTP %d", resp.StatusCode)
			}
		}
		cancel()
		if err == nil {
			logf("kubeadm model: fetched cluster-info again over TLS trusting the pinned CAs")
			return
		}
		logf("kubeadm model: the second fetch failed (%v), again in %s", err, d)
		if fixedSleep(ctx, d) != nil {
			return
		}
	}
}

// tracePrefix starts each line of the start-up trace: with
// $KUBEBAKE_JOIN_TRACE set, a kubebake_bench build prints one line per
// point of its run to stderr, "kubebake-join trace: POINT UNIXNANO"
// (test/e2e's BenchmarkDiscovery turns them into the breakdown
// scripts/bench-e2e.sh prints).
const tracePrefix = "kubebake-join trace: "

var tracing = os.Getenv("KUBEBAKE_JOIN_TRACE") != ""

// The main package's variables are initialised after every package it
// imports: this is the end of the runtime's and the packages' start.
var _ = func() int { trace("main-init"); return 0 }()

func trace(point string) {
	if tracing {
		fmt.Fprintf(os.Stderr, "%s%s %d\n", tracePrefix, point, time.Now().UnixNano())
	}
}

// traced adds net/http's connection events to ctx (the requests discovery
// makes derive their contexts from it).
func traced(ctx context.Context) context.Context {
	if !tracing {
		return ctx
	}
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		ConnectStart:         func(string, string) { trace("connect-start") },
		ConnectDone:          func(string, string, error) { trace("connect-done") },
		TLSHandshakeStart:    func() { trace("tls-start") },
		TLSHandshakeDone:     func(tls.ConnectionState, error) { trace("tls-done") },
		WroteRequest:         func(httptrace.WroteRequestInfo) { trace("request-sent") },
		GotFirstResponseByte: func() { trace("first-byte") },
	})
}
