package render

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubebake/kubebake/embed"
	"github.com/kubebake/kubebake/internal/inputs"
	"github.com/kubebake/kubebake/render/cache"
	"github.com/kubebake/kubebake/render/plan"
	"github.com/kubebake/kubebake/render/spec"
	"github.com/kubebake/kubebake/render/write"
	"github.com/kubebake/kubebake/test/golden"
)

// sampleFleet is testdata/fleet/nodes.yaml over sampleInputs, as the CLI
// merges them.
func sampleFleet(t testing.TB) []spec.FleetNode {
	t.Helper()
	data, err := os.ReadFile("../testdata/fleet/nodes.yaml")
	if err != nil {
		t.Fatal(err)
	}
	nf, err := spec.ParseNodesFile("../testdata/fleet/nodes.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	nodes, err := nf.Merge(sampleInputs())
	if err != nil {
		t.Fatal(err)
	}
	return nodes
}

func fleetOptions(t testing.TB) FleetOptions {
	agent := standIn(t)
	return FleetOptions{
		Cache: cache.New(os.ReadFile, goldenNow),
		Agent: func(string) (embed.Agent, error) { return *agent, nil },
	}
}

func writeFleet(t testing.TB, nodes []spec.FleetNode, dir string) *write.Index {
	t.Helper()
	f, err := PrepareFleet(nodes, fleetOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	idx, err := f.Write(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

// TestFleetGolden writes the sample fleet and compares every output and
// index.json with testdata/golden/fleet, and every output with the single
// render of that node's inputs.
func TestFleetGolden(t *testing.T) {
	nodes := sampleFleet(t)
	dir := filepath.Join(t.TempDir(), "out")
	idx := writeFleet(t, nodes, dir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(nodes)+1 {
		t.Errorf("%s holds %d files, want %d outputs and %s", dir, len(entries), len(nodes), write.IndexFile)
	}
	for i, n := range nodes {
		e := idx.Nodes[i]
		got, err := os.ReadFile(filepath.Join(dir, e.File))
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := os.Stat(filepath.Join(dir, e.File))
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %o, want 0600", e.File, fi.Mode().Perm())
		}
		single, err := Render(mustSpec(t, n.Inputs), standIn(t))
		if err != nil {
			t.Fatal(err)
		}
		// The index's configHash is the one --format plan shows.
		full, err := plan.Build(mustSpec(t, n.Inputs), standIn(t))
		if err != nil {
			t.Fatal(err)
		}
		if want, err := full.ConfigHash(plan.Digest(nil)); err != nil || e.ConfigHash != want {
			t.Errorf("%s: index configHash %s, the plan's %s (%v)", e.File, e.ConfigHash, want, err)
		}
		if !bytes.Equal(got, single) {
			t.Errorf("%s differs from the single render of node %s", e.File, n.Name)
		}
		if e.Size != int64(len(got)) {
			t.Errorf("%s: index says %d bytes, file has %d", e.File, e.Size, len(got))
		}
		golden.Check(t, filepath.Join("..", "testdata", "golden", "fleet", e.File), got)
	}
	index, err := os.ReadFile(filepath.Join(dir, write.IndexFile))
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, filepath.Join("..", "testdata", "golden", "fleet", write.IndexFile), index)
	if bytes.Contains(index, []byte("egbg0rjhecsbxrds")) {
		t.Error("index.json holds a token secret")
	}
}

// TestConfigHashIgnoresToken: nodes that differ only in their token have
// the same configHash and different outputs.
func TestConfigHashIgnoresToken(t *testing.T) {
	a, b := sampleInputs(), sampleInputs()
	b.TokenFile = "../testdata/fleet/pool-b.token"
	c := sampleInputs()
	c.MaxPods = 12
	idx := writeFleet(t, []spec.FleetNode{{Name: "a", Inputs: a}, {Name: "b", Inputs: b}, {Name: "c", Inputs: c}}, filepath.Join(t.TempDir(), "out"))
	na, nb, nc := idx.Nodes[0], idx.Nodes[1], idx.Nodes[2]
	if na.ConfigHash != nb.ConfigHash || na.SHA256 == nb.SHA256 {
		t.Errorf("token-only difference: configHash %s vs %s, sha256 %s vs %s", na.ConfigHash, nb.ConfigHash, na.SHA256, nb.SHA256)
	}
	if na.ConfigHash == nc.ConfigHash {
		t.Error("nodes with different max-pods have the same configHash")
	}
	if na.TokenID != "lofdk1" || nb.TokenID != "poolbb" {
		t.Errorf("token ids %s, %s", na.TokenID, nb.TokenID)
	}
}

// TestFleetErrors: each kind of bad fleet names the node and the option,
// and nothing is written.
func TestFleetErrors(t *testing.T) {
	good := sampleInputs()
	bad := sampleInputs()
	bad.MaxPods = -1
	badHost := sampleInputs()
	badHost.Hostname = "Not_A_Host"
	sameHost := sampleInputs()
	sameHost.Hostname = "w"
	for _, c := range []struct {
		name  string
		nodes []spec.FleetNode
		want  string
	}{
		{"duplicate", []spec.FleetNode{{Name: "w1", Inputs: good}, {Name: "w1", Inputs: good}}, `node "w1": name: given twice`},
		{"bad name", []spec.FleetNode{{Name: "W/1", Inputs: good}}, `node "W/1": name: `},
		{"bad option", []spec.FleetNode{{Name: "w1", Inputs: good}, {Name: "w2", Inputs: bad}}, `node "w2": --max-pods: -1`},
		{"bad hostname", []spec.FleetNode{{Name: "w1", Inputs: badHost}}, `node "w1": --hostname: "Not_A_Host"`},
		{"same hostname", []spec.FleetNode{{Name: "w1", Inputs: sameHost}, {Name: "w2", Inputs: sameHost}}, `node "w2": --hostname: "w" is node "w1"'s hostname too`},
		{"index", []spec.FleetNode{{Name: "index", Inputs: func() spec.Inputs { i := good; i.Format = "plan"; return i }()}}, `node "index": name: its output index.json would be the fleet's index`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := PrepareFleet(c.nodes, fleetOptions(t))
			var ne *spec.NodeError
			if err == nil || !errors.As(err, &ne) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want a spec.NodeError with %q", err, c.want)
			}
		})
	}
}

// TestFleetReplace: a fleet directory is replaced whole; a directory that
// is not one is refused; a failure while writing leaves the old one.
func TestFleetReplace(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "out")
	in := sampleInputs()
	in.JoinBinary = "baked"
	writeFleet(t, []spec.FleetNode{{Name: "old", Inputs: in}}, dir)
	writeFleet(t, []spec.FleetNode{{Name: "new", Inputs: in}}, dir)
	if _, err := os.Stat(filepath.Join(dir, "old.ign")); err == nil {
		t.Error("old.ign survived the replacement")
	}
	if _, err := os.Stat(filepath.Join(dir, "new.ign")); err != nil {
		t.Error(err)
	}

	// A failure in a worker: an agent whose checksum is wrong fails the
	// plan format's verification.
	broken := in
	broken.JoinBinary, broken.Format = "embedded", "plan"
	opt := fleetOptions(t)
	opt.Agent = func(string) (embed.Agent, error) {
		a := *standIn(t)
		a.SHA512 = strings.Repeat("0", 128)
		return a, nil
	}
	f, err := PrepareFleet([]spec.FleetNode{{Name: "a", Inputs: in}, {Name: "b", Inputs: broken}}, opt)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(context.Background(), dir); err == nil || !strings.Contains(err.Error(), `node "b"`) {
		t.Fatalf("got %v, want node b's error", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "new.ign")); err != nil {
		t.Errorf("the previous fleet is gone after a failed write: %v", err)
	}
	left, _ := os.ReadDir(base)
	if len(left) != 1 {
		t.Errorf("%s holds %d entries after a failed write, want only out/", base, len(left))
	}

	// Interrupted (Ctrl-C cancels the context): nothing changes either.
	f, err = PrepareFleet([]spec.FleetNode{{Name: "a", Inputs: in}, {Name: "b", Inputs: in}}, fleetOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.Write(ctx, dir); !errors.Is(err, context.Canceled) {
		t.Errorf("an interrupted write: got %v, want context.Canceled", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "new.ign")); err != nil {
		t.Errorf("the previous fleet is gone after an interrupted write: %v", err)
	}
	if left, _ := os.ReadDir(base); len(left) != 1 {
		t.Errorf("%s holds %d entries after an interrupted write, want only out/", base, len(left))
	}

	other := filepath.Join(base, "other")
	os.Mkdir(other, 0o755)
	os.WriteFile(filepath.Join(other, "notes.txt"), nil, 0o644)
	f, err = PrepareFleet([]spec.FleetNode{{Name: "a", Inputs: in}}, fleetOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	var ie *inputs.Error
	if _, err := f.Write(context.Background(), other); !errors.As(err, &ie) || ie.Field != "--out-dir" {
		t.Errorf("writing over a directory that is no fleet's: got %v, want an --out-dir error", err)
	}

	// A directory is replaced only when it holds what a fleet wrote and
	// nothing else: not a web site with its own index.json, not an earlier
	// fleet directory the user put other files (the nodes file, the token)
	// into, not through a symbolic link.
	site := filepath.Join(base, "site")
	os.Mkdir(site, 0o755)
	os.WriteFile(filepath.Join(site, write.IndexFile), []byte("{}"), 0o644)
	os.WriteFile(filepath.Join(site, "index.html"), nil, 0o644)
	mixed := filepath.Join(base, "mixed")
	writeFleet(t, []spec.FleetNode{{Name: "a", Inputs: in}}, mixed)
	os.WriteFile(filepath.Join(mixed, "nodes.yaml"), nil, 0o600)
	link := filepath.Join(base, "link")
	os.Symlink(dir, link)
	for d, want := range map[string]string{
		site:  "its index.json is not kubebake's",
		mixed: "it holds nodes.yaml, which its index.json does not list",
		link:  "is a symbolic link",
	} {
		_, err := f.Write(context.Background(), d)
		if !errors.As(err, &ie) || ie.Field != "--out-dir" || !strings.Contains(err.Error(), want) {
			t.Errorf("writing over %s: got %v, want an --out-dir error saying %q", d, err, want)
		}
	}
	if _, err := os.Stat(filepath.Join(site, "index.html")); err != nil {
		t.Error(err)
	}
	if _, err := os.Stat(filepath.Join(mixed, "nodes.yaml")); err != nil {
		t.Error(err)
	}
}

// TestParseNodesFile: errors name the node, the file, line and key.
func TestParseNodesFile(t *testing.T) {
	for _, c := range []struct{ doc, want string }{
		{"nodes: [{name: a, max-pod: 3}]", `node "a": n.yaml:1: max-pod: unknown key (did you mean max-pods?)`},
		{"nodes: [{name: a, max-pods: many}]", `node "a": n.yaml:1: max-pods: "many" is not a whole number`},
		{"nodes: [{hostname: a}]", `n.yaml:1: nodes[0]: no name`},
		{"nodes: [{name: a, token: lofdk1.egbg0rjhecsbxrds}]", `node "a": n.yaml:1: token: may not be set in a config file`},
		{"defaults: {token: lofdk1.egbg0rjhecsbxrds}\nnodes: [{name: a}]", `n.yaml:1: token: may not be set in a config file`},
		{"defaults: {colour: red}\nnodes: [{name: a}]", `n.yaml:1: colour: unknown key`},
		{"nodes: [{name: a, out-dir: x}]", `node "a": n.yaml:1: out-dir: may not be set in a config file`},
		{"node: [{name: a}]", `n.yaml:1: node: unknown key`},
		{"defaults: {}", `nodes: lists no node`},
	} {
		nf, err := spec.ParseNodesFile("n.yaml", []byte(c.doc))
		if err == nil {
			_, err = nf.Merge(sampleInputs())
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: got %v, want %q", c.doc, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "egbg0rjhecsbxrds") {
			t.Errorf("%q: the error quotes the token", c.doc)
		}
	}
}

func TestIndexJSON(t *testing.T) {
	var idx write.Index
	data, err := os.ReadFile("../testdata/golden/fleet/index.json")
	if err != nil {
		t.Skip(err)
	}
	if err := json.Unmarshal(data, &idx); err != nil || len(idx.Nodes) == 0 {
		t.Fatalf("golden index.json: %v", err)
	}
}

// BenchmarkFleet renders 100 baked nodes into a directory per iteration
// (scripts/bench.sh prints whole-process figures, embedded ones too:
// tools/benchfleet): the sample node with a hostname each; nodes that
// differ only in hostname; nodes that each have their own labels, taints
// (every fifth) and max-pods, as benchfleet's -only labels (issue 21).
func BenchmarkFleet(b *testing.B) {
	for _, c := range []struct {
		name string
		set  func(in *spec.Inputs, i int)
	}{
		{"baked", func(in *spec.Inputs, i int) {}},
		{"hostnames", func(in *spec.Inputs, i int) { in.NodeLabels, in.RegisterWithTaints = nil, nil }},
		{"labelled", func(in *spec.Inputs, i int) {
			in.NodeLabels = []string{fmt.Sprintf("example.com/index=%d", i), fmt.Sprintf("example.com/pool=p%d", i%7)}
			in.MaxPods, in.RegisterWithTaints = int32(100+i%50), nil
			if i%5 == 0 {
				in.RegisterWithTaints = []string{fmt.Sprintf("example.com/gpu=g%d:NoSchedule", i)}
			}
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			agent, err := embed.Load("amd64")
			if err != nil {
				b.Skip(err)
			}
			var nodes []spec.FleetNode
			for i := range 100 {
				in := sampleInputs()
				in.JoinBinary = "baked"
				in.Hostname = fmt.Sprintf("node-%03d", i)
				c.set(&in, i)
				nodes = append(nodes, spec.FleetNode{Name: in.Hostname, Inputs: in})
			}
			for i := 0; i < b.N; i++ {
				f, err := PrepareFleet(nodes, FleetOptions{Cache: cache.New(os.ReadFile, goldenNow), Agent: func(string) (embed.Agent, error) { return agent, nil }})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := f.Write(context.Background(), filepath.Join(b.TempDir(), "out")); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N*len(nodes)), "ms/node")
		})
	}
}

// TestIndexPart: index.json says which part each output is, and names a
// token only for outputs that hold one (not --part image).
func TestIndexPart(t *testing.T) {
	image, boot := sampleInputs(), sampleInputs()
	image.Part, boot.Part = "image", "boot"
	idx := writeFleet(t, []spec.FleetNode{{Name: "i", Inputs: image}, {Name: "b", Inputs: boot}}, filepath.Join(t.TempDir(), "out"))
	if e := idx.Nodes[0]; e.Part != "image" || e.TokenID != "" {
		t.Errorf("image part: part %q, tokenId %q", e.Part, e.TokenID)
	}
	if e := idx.Nodes[1]; e.Part != "boot" || e.TokenID != "lofdk1" {
		t.Errorf("boot part: part %q, tokenId %q", e.Part, e.TokenID)
	}
}

// TestOutDirMissingParent: --out-dir a/b/c whose parent is missing says
// which directory to create, not a stat error (issue 17 item 11).
func TestOutDirMissingParent(t *testing.T) {
	in := sampleInputs()
	in.JoinBinary = "baked"
	f, err := PrepareFleet([]spec.FleetNode{{Name: "a", Inputs: in}}, fleetOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "a", "b", "c")
	_, err = f.Write(context.Background(), dir)
	var ie *inputs.Error
	if !errors.As(err, &ie) || ie.Field != "--out-dir" || !strings.Contains(err.Error(), filepath.Dir(dir)+" does not exist") || strings.Contains(err.Error(), "stat ") {
		t.Errorf("got %v, want an --out-dir error naming the missing %s", err, filepath.Dir(dir))
	}
}
