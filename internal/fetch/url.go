package fetch

import (
	"fmt"
	"net/url"
	"strings"
)

// ParseURL accepts an absolute http or https URL with a host and a path
// naming a file. Plain http is fine: the hash, not the transport, is what
// the node trusts.
func ParseURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("%q is not a URL: %v", s, err)
	}
	switch u.Scheme {
	case "http", "https":
	case "":
		return nil, fmt.Errorf("%q has no scheme: want http:// or https://", s)
	default:
		return nil, fmt.Errorf("%q: unsupported scheme %q: want http:// or https:// (the node fetches it with the agent, or Ignition does)", s, u.Scheme)
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, fmt.Errorf("%q has no host", s)
	}
	if u.Path == "" || strings.HasSuffix(u.Path, "/") {
		return nil, fmt.Errorf("%q names no file: want a URL whose path ends in the file's name", s)
	}
	if u.Fragment != "" {
		return nil, fmt.Errorf("%q has a fragment (#...), which is never sent to the server: remove it", s)
	}
	for _, c := range s {
		if c <= ' ' || c == 0x7f {
			return nil, fmt.Errorf("%q holds a space or control character: percent-encode it", s)
		}
	}
	return u, nil
}

// Loggable is u for a log line: without a password.
func Loggable(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
