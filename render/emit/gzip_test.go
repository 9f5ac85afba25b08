package emit

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	butaneutil "github.com/coreos/butane/base/util"
)

// dataURLCases are contents around every choice MakeDataURL makes: empty,
// short, text, binary, compressible and not, and lengths where gzip just
// wins or just loses.
func dataURLCases() [][]byte {
	rng := rand.New(rand.NewPCG(21, 1))
	cases := [][]byte{nil, {}, []byte("a"), {0}, []byte("%"), []byte("example.com/pool=a"),
		[]byte("# Rendered by kubebake: this node's kubelet flags (kubelet.service.d/90-kubebake.conf).\nKUBELET_NODE_ARGS=\"--node-labels=example.com/index=7,example.com/pool=p0\"\n")}
	for n := 0; n <= 300; n += 1 + n/64 {
		text := make([]byte, n)
		bin := make([]byte, n)
		for i := range n {
			const alphabet = "abcdefgh =/:\n,.%"
			text[i] = alphabet[rng.IntN(len(alphabet))]
			bin[i] = byte(rng.IntN(256))
		}
		cases = append(cases, text, bin, bytes.Repeat([]byte("ab"), n), bytes.Repeat([]byte{0xff}, n))
	}
	for _, n := range []int{1 << 10, 4 << 10, 64 << 10} {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('a' + rng.IntN(3))
		}
		cases = append(cases, b)
	}
	return cases
}

// checkDataURL holds makeDataURL to Butane's MakeDataURL: the same URL and
// compression, with compression allowed and not.
func checkDataURL(t *testing.T, c []byte) {
	t.Helper()
	for _, allow := range []bool{true, false} {
		want, wantC, err1 := butaneutil.MakeDataURL(c, nil, allow)
		got, gotC, err2 := makeDataURL(c, allow)
		if err1 != nil || err2 != nil {
			t.Fatalf("%q: errors %v, %v", c, err1, err2)
		}
		if got != want || gotC != *wantC {
			t.Fatalf("%q (compression allowed %v): got %q (%q), Butane makes %q (%q)", c, allow, got, gotC, want, *wantC)
		}
	}
}

// TestMakeDataURL: the pooled compressor makes Butane's data URLs, byte
// for byte, also with many goroutines sharing the pool.
func TestMakeDataURL(t *testing.T) {
	cases := dataURLCases()
	gzipped := 0
	for _, c := range cases {
		checkDataURL(t, c)
		if _, comp, _ := makeDataURL(c, true); comp == "gzip" {
			gzipped++
		}
	}
	if gzipped < len(cases)/4 {
		t.Fatalf("only %d of %d cases gzipped: the test does not test the compressor", gzipped, len(cases))
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < len(cases); i += 3 {
				want, _, _ := butaneutil.MakeDataURL(cases[i], nil, true)
				if got, _, _ := makeDataURL(cases[i], true); got != want {
					errs <- fmt.Sprintf("case %d differs when goroutines share the pool", i)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// TestGzipBytes: the pooled writer writes what a new writer writes.
func TestGzipBytes(t *testing.T) {
	for _, c := range dataURLCases() {
		var want bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&want, gzip.BestCompression)
		zw.Write(c)
		zw.Close()
		got, err := gzipBytes(c)
		if err != nil || !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("%q: pooled %x (%v), new %x", c, got, err, want.Bytes())
		}
	}
}

// FuzzMakeDataURL: whatever the contents, Butane's data URL. The seeds are
// the shapes a render makes (labels, a kubelet config, a token).
func FuzzMakeDataURL(f *testing.F) {
	f.Add([]byte(""))
	f.Add([]byte("lofdk1.egbg0rjhecsbxrds"))
	f.Add([]byte("KUBELET_NODE_ARGS=\"--node-labels=" + strings.Repeat("example.com/label-0001=value-0001,", 40) + "\"\n"))
	f.Add([]byte("apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nmaxPods: 110\nregisterWithTaints:\n- effect: NoSchedule\n  key: example.com/gpu\n"))
	f.Add(bytes.Repeat([]byte{0}, 25))
	f.Add([]byte{0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0x02, 0xff})
	f.Fuzz(func(t *testing.T, c []byte) { checkDataURL(t, c) })
}
