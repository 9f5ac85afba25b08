package main

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/kubebake/kubebake/embed"
)

// Issue 17 defect 11: the sample tokens' secrets (testdata/token, the
// sample fleet's pool-b.token) occur in no binary kubebake ships, so that
// a scan of an image or an output for a sample secret finds only the
// token. The old sample secret, the hex alphabet 0123456789abcdef, is in
// every Go binary (strconv's and fmt's digit tables).
func TestSampleTokenNotInBinaries(t *testing.T) {
	var secrets []string
	for _, f := range []string{"../../testdata/token", "../../testdata/fleet/pool-b.token", "../../cluster/testdata/token"} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		_, secret, ok := strings.Cut(strings.TrimSpace(string(data)), ".")
		if !ok {
			t.Fatalf("%s holds no id.secret", f)
		}
		secrets = append(secrets, secret)
	}
	bins := map[string][]byte{}
	kb, err := os.ReadFile(buildKubebake(t))
	if err != nil {
		t.Fatal(err)
	}
	bins["kubebake"] = kb
	for _, arch := range embed.Arches {
		a, err := embed.Load(arch)
		if errors.Is(err, embed.ErrMissing) {
			t.Logf("the agents are not built (make embed): checking kubebake only")
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if bins["kubebake-join-"+arch], err = a.Binary(); err != nil {
			t.Fatal(err)
		}
	}
	for name, bin := range bins {
		for _, s := range secrets {
			if bytes.Contains(bin, []byte(s)) {
				t.Errorf("%s contains the sample secret %s: pick a random-looking one", name, s)
			}
		}
	}
}
