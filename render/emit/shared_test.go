package emit

import (
	"bytes"
	"math/rand/v2"
	"testing"

	butaneutil "github.com/coreos/butane/base/util"
)

// TestNeverGzipped: for contents of up to maxNeverGzipped bytes, Butane's
// MakeDataURL makes the same URL with compression allowed as without, so
// Shared.dataURL may skip the compressor.
func TestNeverGzipped(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var cases [][]byte
	for n := 0; n <= maxNeverGzipped; n++ {
		cases = append(cases, bytes.Repeat([]byte("a"), n), bytes.Repeat([]byte{0}, n), bytes.Repeat([]byte("%"), n))
		for range 200 {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(rng.IntN(256))
			}
			cases = append(cases, b)
		}
	}
	for _, c := range cases {
		a, ac, err1 := butaneutil.MakeDataURL(c, nil, true)
		b, bc, err2 := butaneutil.MakeDataURL(c, nil, false)
		if err1 != nil || err2 != nil || a != b || *ac != *bc {
			t.Fatalf("%q: with gzip allowed %q (%s), without %q (%s)", c, a, *ac, b, *bc)
		}
	}
	// One byte more may be gzipped.
	long := bytes.Repeat([]byte("a"), 200)
	if _, c, _ := butaneutil.MakeDataURL(long, nil, true); *c != "gzip" {
		t.Errorf("200 a's are not gzipped: the test does not test")
	}
}
