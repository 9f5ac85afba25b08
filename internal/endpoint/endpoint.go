// Package endpoint parses API server addresses as users write them and returns
// them in the one form the rest of kubebake uses: "host:port", IPv6 hosts
// bracketed, as net.JoinHostPort makes it.
package endpoint

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// DefaultPort is the API server's port when an address names none.
const DefaultPort = "6443"

// Parse accepts "host", "host:port", "[v6]:port", a bare IPv6 address and
// "https://host[:port]" (no path, query or credentials), and returns "host:port".
func Parse(s string) (string, error) {
	orig := s
	if s == "" {
		return "", fmt.Errorf("empty address: want host:port, [ipv6]:port or https://host:port")
	}
	if strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return "", fmt.Errorf("%q holds spaces or control characters", orig)
	}
	if strings.Contains(s, "://") {
		u, err := url.Parse(s)
		if err != nil {
			return "", fmt.Errorf("%q is not a URL: %v", orig, err)
		}
		if u.Scheme != "https" {
			return "", fmt.Errorf("%q: the API server speaks https, not %s", orig, u.Scheme)
		}
		if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
			return "", fmt.Errorf("%q: give only https://host:port, without credentials, path or query", orig)
		}
		s = u.Host
	}
	var host, port string
	if ip := net.ParseIP(s); ip != nil && strings.Contains(s, ":") {
		host, port = s, DefaultPort // a bare IPv6 address
	} else if h, p, err := net.SplitHostPort(s); err == nil {
		host, port = h, p
	} else if !strings.Contains(s, ":") || (strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]")) {
		host, port = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"), DefaultPort
	} else {
		return "", fmt.Errorf("%q is not host:port (an IPv6 address with a port is written [addr]:port)", orig)
	}
	if host == "" {
		return "", fmt.Errorf("%q names no host", orig)
	}
	if err := checkHost(host); err != nil {
		return "", fmt.Errorf("%q: %v", orig, err)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 || port != strconv.Itoa(n) {
		return "", fmt.Errorf("%q: port %q is not a number from 1 to 65535", orig, port)
	}
	return net.JoinHostPort(host, port), nil
}

// Host returns the host part of a "host:port" that Parse returned.
func Host(hostport string) string {
	h, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return hostport
	}
	return h
}

func checkHost(h string) error {
	if net.ParseIP(h) != nil {
		return nil
	}
	if len(h) > 253 {
		return fmt.Errorf("host name is longer than 253 characters")
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 {
			return fmt.Errorf("host %q is not a DNS name or IP address", h)
		}
		for i, r := range label {
			ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
				r == '-' && i > 0 && i < len(label)-1 || r == '_'
			if !ok {
				return fmt.Errorf("host %q is not a DNS name or IP address", h)
			}
		}
	}
	return nil
}
