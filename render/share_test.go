package render

import (
	"fmt"
	"os"
	"runtime"
	"testing"

	"github.com/kubebake/kubebake/embed"
	"github.com/kubebake/kubebake/render/cache"
	"github.com/kubebake/kubebake/render/spec"
)

// labelledNode is node i of a fleet whose nodes each have their own
// hostname, labels, taints (every fifth) and max-pods, as benchfleet's
// -only labels renders them (issue 21 item 1).
func labelledNode(format spec.Format, i int) spec.Inputs {
	in := sampleInputs()
	in.Format, in.JoinBinary = string(format), string(spec.JoinBaked)
	in.Hostname = fmt.Sprintf("node-%04d", i)
	in.NodeLabels = []string{fmt.Sprintf("example.com/index=%d", i), fmt.Sprintf("example.com/pool=p%d", i%7)}
	in.MaxPods, in.RegisterWithTaints = int32(100+i%50), nil
	if i%5 == 0 {
		in.RegisterWithTaints = []string{fmt.Sprintf("example.com/gpu=g%d:NoSchedule", i)}
	}
	return in
}

// hostnameNode is node i of a fleet whose nodes differ only in hostname.
func hostnameNode(format spec.Format, i int) spec.Inputs {
	in := sampleInputs()
	in.Format, in.JoinBinary = string(format), string(spec.JoinBaked)
	in.Hostname = fmt.Sprintf("node-%04d", i)
	in.NodeLabels, in.RegisterWithTaints = nil, nil
	return in
}

// TestLabelledFleetSharesWork guards what makes a fleet of individually
// labelled nodes about as quick as one whose nodes differ only in hostname,
// without timing anything: one Butane translation (and Ignition
// validation) for the whole fleet, its units being the same on every node;
// and no compressor made per node: a new gzip writer allocates about
// 800 kB (measured: 850), and each labelled node has two files of its own to compress (its
// flags file, its kubelet config with its taints and max-pods), so a
// labelled node may allocate only a little more than a hostname's.
func TestLabelledFleetSharesWork(t *testing.T) {
	const warm, nodes = 10, 60
	const maxMore = 512 << 10     // less than one new gzip writer
	const maxPerNode = 1536 << 10 // less than two
	perNode := func(f spec.Format, node func(spec.Format, int) spec.Inputs) (uint64, *cache.Cache) {
		c := cache.New(os.ReadFile, goldenNow)
		render := func(i int) {
			s, _, err := spec.NewSpec(node(f, i), c)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Render(s, nil); err != nil {
				t.Fatal(err)
			}
		}
		for i := range warm {
			render(i)
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for i := warm; i < nodes; i++ {
			render(i)
		}
		runtime.ReadMemStats(&after)
		return (after.TotalAlloc - before.TotalAlloc) / (nodes - warm), c
	}
	for _, f := range []spec.Format{FormatIgnition, FormatCloudInit} {
		hostnames, _ := perNode(f, hostnameNode)
		labelled, c := perNode(f, labelledNode)
		t.Logf("%s: %d kB allocated a labelled node, %d kB a node with only its hostname", f, labelled>>10, hostnames>>10)
		// cloud-init compresses every file over 512 bytes, the CA bundle and
		// the runtime's config too: one compressor made a file would be
		// over 2 MB a node (it was), whatever the labels.
		if labelled > maxPerNode {
			t.Errorf("%s: a labelled node allocates %d kB, want under %d kB: is a compressor made per file?", f, labelled>>10, maxPerNode>>10)
		}
		if labelled > hostnames+maxMore {
			t.Errorf("%s: a labelled node allocates %d kB, a node with only its hostname %d kB: is a compressor made per node?", f, labelled>>10, hostnames>>10)
		}
		if f == FormatIgnition {
			if n := c.Len("ignition"); n != 1 {
				t.Errorf("%d nodes with their own labels, taints and max-pods took %d Butane translations, want 1 (one shape)", nodes, n)
			}
		}
	}
}

// TestEmbeddedRenderAllocatesItsOutputOnce guards what made a single render
// with the embedded agent quick (issue 21 item 2), without timing it: the
// output, 4 MB of mostly the agent's base64, is allocated once at its size
// and the agent is encoded straight into it. Growing a buffer to it by
// doubling, and encoding the agent into a buffer of its own first,
// allocated three to five times the output (measured: 19.7 MB for 3.9 MB
// of Ignition, 13.0 MB for 4.0 MB of cloud-init; now 7.7 and 4.9).
func TestEmbeddedRenderAllocatesItsOutputOnce(t *testing.T) {
	agent, err := embed.Load("amd64")
	if err != nil {
		t.Skipf("no embedded agent (run make embed): %v", err)
	}
	for _, f := range []spec.Format{FormatIgnition, FormatCloudInit} {
		in := sampleInputs()
		in.Format, in.JoinBinary = string(f), string(spec.JoinEmbedded)
		s, _, err := spec.NewSpec(in, cache.New(os.ReadFile, goldenNow))
		if err != nil {
			t.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		out, err := Render(s, &agent)
		runtime.ReadMemStats(&after)
		if err != nil {
			t.Fatal(err)
		}
		alloc := after.TotalAlloc - before.TotalAlloc
		t.Logf("%s: %d kB allocated for %d kB of output", f, alloc>>10, len(out)>>10)
		// The output once, and a margin for everything else a render
		// allocates (Butane's translation and the compressors, 3.7 MB of
		// the Ignition render's).
		if limit := uint64(len(out)) + 4<<20; alloc > limit {
			t.Errorf("%s: a render with the embedded agent allocates %d kB for %d kB of output, want under %d kB: is the output grown by copying, or the agent encoded twice?", f, alloc>>10, len(out)>>10, limit>>10)
		}
	}
}
