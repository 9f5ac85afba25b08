package endpoint

import "testing"

func TestParse(t *testing.T) {
	for in, want := range map[string]string{
		"10.0.0.10":                   "10.0.0.10:6443",
		"10.0.0.10:443":               "10.0.0.10:443",
		"api.example.com":             "api.example.com:6443",
		"https://api.example.com":     "api.example.com:6443",
		"https://api.example.com:443": "api.example.com:443",
		"https://api.example.com/":    "api.example.com:6443",
		"[fd00::10]:6443":             "[fd00::10]:6443",
		"fd00::10":                    "[fd00::10]:6443",
		"[fd00::10]":                  "[fd00::10]:6443",
		"https://[fd00::10]:8443":     "[fd00::10]:8443",
		"localhost:6443":              "localhost:6443",
	} {
		got, err := Parse(in)
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", ":6443", "10.0.0.10:0", "10.0.0.10:65536", "10.0.0.10:http", "10.0.0.10:06443",
		"http://10.0.0.10", "https://u:p@h:6443", "https://h:6443/api", "https://h:6443?x=1", "fd00::zz:6443",
		"a b", "h\n", "bad_host!", "-leading.example.com", "[fd00::10]:", "https://"} {
		if got, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) = %q, want an error", in, got)
		}
	}
	if Host("[fd00::10]:6443") != "fd00::10" || Host("h:1") != "h" {
		t.Error("Host")
	}
}
