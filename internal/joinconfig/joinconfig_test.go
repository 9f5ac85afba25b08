package joinconfig

import (
	"strings"
	"testing"
)

func valid() *Config {
	return &Config{
		APIVersion: APIVersion, Kind: Kind,
		Endpoints:    []string{"10.0.0.10:6443", "[fd00::10]:6443"},
		CACertHashes: []string{"sha256:" + strings.Repeat("ab", 32)},
		Token:        "lofdk1.egbg0rjhecsbxrds",
		Timeout:      "5m",
		Paths:        DefaultPaths(),
	}
}

func TestRoundTrip(t *testing.T) {
	data, err := valid().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if c.Deadline.String() != "5m0s" || c.Token.ID() != "lofdk1" || len(c.Endpoints) != 2 || c.Pins.Len() != 1 || c.Server != ServerClusterInfo {
		t.Errorf("round trip lost something: %+v", c)
	}
}

func TestInvalid(t *testing.T) {
	for name, mutate := range map[string]func(*Config){
		"kind":         func(c *Config) { c.Kind = "Other" },
		"no endpoint":  func(c *Config) { c.Endpoints = nil },
		"endpoint":     func(c *Config) { c.Endpoints = []string{"10.0.0.10"} }, // not canonical host:port
		"no pins":      func(c *Config) { c.CACertHashes = nil },
		"pin":          func(c *Config) { c.CACertHashes = []string{"sha256:abc"} },
		"token":        func(c *Config) { c.Token = "lofdk1.EGBG0RJHECSBXRDS" },
		"timeout":      func(c *Config) { c.Timeout = "-1s" },
		"relative":     func(c *Config) { c.Paths.CACert = "etc/ca.crt" },
		"unclean path": func(c *Config) { c.Paths.BootstrapKubeconfig = "/etc/../etc/x" },
	} {
		c := valid()
		mutate(c)
		err := c.Validate()
		if err == nil {
			t.Errorf("%s: accepted", name)
		} else if strings.Contains(strings.ToLower(err.Error()), "egbg0rjhecsbxrds") {
			t.Errorf("%s: error quotes the secret: %v", name, err)
		}
	}
	if _, err := Parse([]byte("apiVersion: kubebake.dev/v1alpha1\nkind: JoinConfiguration\nendpoint: [x]\n")); err == nil {
		t.Error("unknown fields must be refused")
	}
}

// Whatever join.yaml holds, an error about it never quotes the token's
// secret: decoders quote values and keys.
func TestParseErrorsRedacted(t *testing.T) {
	const secret = "egbg0rjhecsbxrds"
	good, err := valid().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{
		"token as int":       strings.Replace(string(good), "token: lofdk1."+secret, "token: !!int lofdk1."+secret, 1),
		"token as a key":     string(good) + "lofdk1." + secret + ": 1\n",
		"secret as a key":    string(good) + secret + ": 1\n",
		"token in a list":    strings.Replace(string(good), "token: lofdk1."+secret, "token: [lofdk1."+secret+"]", 1),
		"secret as timeout":  strings.Replace(string(good), "timeout: 5m", "timeout: "+secret, 1),
		"secret with a typo": strings.Replace(string(good), "token: lofdk1."+secret, "token: lofdk1."+secret[:15]+"Z", 1),
		"broken yaml":        "token: lofdk1." + secret + "\n\t: [",
	} {
		_, err := Parse([]byte(data))
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if strings.Contains(err.Error(), secret[:15]) {
			t.Errorf("%s: the error quotes the secret: %v", name, err)
		}
	}
}

func FuzzParseRedacts(f *testing.F) {
	const secret = "egbg0rjhecsbxrds"
	good, _ := valid().Marshal()
	f.Add(good)
	f.Add([]byte("token: !!int lofdk1." + secret))
	f.Add([]byte("lofdk1." + secret + ": 1"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := Parse(data)
		if err != nil && strings.Contains(err.Error(), secret) {
			t.Fatalf("the error quotes the secret: %v", err)
		}
	})
}
