package discovery

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		v    string
		want time.Duration
	}{
		{"", 0},
		{"7", 7 * time.Second},
		{" 0 ", 0},
		{"-3", 0},
		{"soon", 0},
		{"99999999", maxRetryAfter},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
	} {
		if got := parseRetryAfter(tc.v, now); got != tc.want {
			t.Errorf("Retry-After %q: %v, want %v", tc.v, got, tc.want)
		}
	}
}

func TestExitStatus(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{errors.New("plain"), 1},
		{&Error{Class: Transient, Err: errors.New("x")}, 1},
		{&Error{Class: BadConfig, Err: errors.New("x")}, 78},
		{&Error{Class: Refused, Err: errors.New("x")}, 3},
		{&Error{Class: Unproven, Err: errors.New("x")}, 4},
	} {
		if got := ExitStatus(tc.err); got != tc.want {
			t.Errorf("ExitStatus(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

func TestParseClusterInfo(t *testing.T) {
	ci, err := parseClusterInfo([]byte(`{"kind":"ConfigMap","apiVersion":"v1","data":{"kubeconfig":"k","jws-kubeconfig-abcdef":"s1","jws-kubeconfig-012345":"s2","other":"x"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if ci.Kubeconfig != "k" || len(ci.Signatures) != 2 || ci.Signatures["abcdef"] != "s1" || strings.Join(signedIDs(ci.Signatures), ",") != "012345,abcdef" {
		t.Errorf("%+v", ci)
	}
	for _, tc := range []struct{ body, want string }{
		{`<html>`, "not a Kubernetes ConfigMap"},
		{`{"kind":"Status","code":403}`, `a "Status", not a ConfigMap`},
		{`{"kind":"ConfigMap","data":{}}`, "has no kubeconfig"},
	} {
		if _, err := parseClusterInfo([]byte(tc.body)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.body, err, tc.want)
		}
	}
}

func FuzzParseClusterInfo(f *testing.F) {
	f.Add([]byte(`{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"cluster-info","namespace":"kube-public"},"data":{"kubeconfig":"apiVersion: v1\nclusters: []\n","jws-kubeconfig-07401b":"eyJhbGciOiJIUzI1NiIsImtpZCI6IjA3NDAxYiJ9..AAAA"}}`))
	f.Add([]byte(`{"kind":"ConfigMap","data":{"kubeconfig":"","jws-kubeconfig-":""}}`))
	f.Add([]byte(`{"kind":"ConfigMap","data":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		ci, err := parseClusterInfo(body)
		if err != nil {
			return
		}
		if ci.Kubeconfig == "" {
			t.Fatal("accepted a cluster-info without kubeconfig")
		}
		for _, id := range signedIDs(ci.Signatures) {
			if _, ok := ci.Signatures[id]; !ok {
				t.Fatalf("signedIDs lists %q, which has no signature", id)
			}
		}
		// What a real discovery does next must not panic either.
		ReadCluster([]byte(ci.Kubeconfig))
	})
}

// The exit status at the deadline follows each endpoint's latest outcome.
func TestDeadlineClass(t *testing.T) {
	eps := []string{"a:1", "b:1"}
	for _, tc := range []struct {
		last map[string]outcome
		want Class
	}{
		{map[string]outcome{}, Transient},
		{map[string]outcome{"a:1": failedSigned}, Transient}, // b never tried
		{map[string]outcome{"a:1": failedSigned, "b:1": failedTransient}, Transient},
		{map[string]outcome{"a:1": failedSigned, "b:1": failedUnproven}, Unproven},
		{map[string]outcome{"a:1": failedUnproven, "b:1": failedUnproven}, Unproven},
		{map[string]outcome{"a:1": failedSigned, "b:1": failedSigned}, Refused},
	} {
		if got := deadlineClass(eps, tc.last); got != tc.want {
			t.Errorf("%v: %v, want %v", tc.last, got, tc.want)
		}
	}
}

// The proxy is logged without its password, also when HTTPS_PROXY is not
// a URL: net/http then reads it as "http://" + the value, which puts the
// password in the path, where url.Redacted leaves it.
func TestProxyLoggedWithoutPassword(t *testing.T) {
	for _, env := range []string{
		"http://user:s3cretpw@proxy.example:3128",
		"user:s3cretpw@proxy.example:3128",
		"http://user:s3cretpw@proxy .example:3128",
	} {
		var log strings.Builder
		proxy := loggingProxy(func(*url.URL) (*url.URL, error) {
			u, err := url.Parse(env)
			if err != nil || u.Scheme == "" || u.Host == "" {
				u, err = url.Parse("http://" + env) // as golang.org/x/net/http/httpproxy does
			}
			return u, err
		}, func(f string, a ...any) { fmt.Fprintf(&log, f+"\n", a...) })
		if _, err := proxy(&url.URL{Scheme: "https", Host: "192.0.2.1:6443"}); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(log.String(), "s3cretpw") || !strings.Contains(log.String(), "through proxy") {
			t.Errorf("HTTPS_PROXY=%q logged as:\n%s", env, log.String())
		}
	}
}
