package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/kubebake/kubebake/embed"
	"sigs.k8s.io/yaml"
)

// TestFleetMatchesSingleRenders renders a few hundred random nodes with
// `render --nodes` and each node alone with `render --config` holding the
// options the test itself merged (node keys over the command line over the
// defaults section): every output must be byte-identical.
func TestFleetMatchesSingleRenders(t *testing.T) {
	n := 300
	if testing.Short() {
		n = 40
	}
	_, embedErr := embed.Load("amd64")
	dir := t.TempDir()
	abs := func(name string) string { return filepath.Join(dir, name) }
	copyTestdata(t, "../../testdata/ca.crt", abs("ca.crt"))
	copyTestdata(t, "../../testdata/next-ca.crt", abs("next-ca.crt"))
	tokens := []string{"lofdk1.egbg0rjhecsbxrds", "poola1.egbg0rjhecsbxrds", "poolb2.swbyj8efy0qvmmez"}
	for i, tok := range tokens {
		write(t, abs(fmt.Sprintf("token%d", i)), tok+"\n")
	}
	write(t, abs("kubelet.yaml"), "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nimageGCHighThresholdPercent: 70\n")

	// What the command line gives every node.
	cli := map[string]any{
		"ca":          []string{abs("ca.crt")},
		"token-file":  abs("token0"),
		"api-server":  []string{"10.0.0.10"},
		"join-binary": "baked",
		"node-labels": []string{"example.com/fleet=test"},
	}
	cliArgs := []string{"--ca", abs("ca.crt"), "--token-file", abs("token0"), "--api-server", "10.0.0.10", "--join-binary", "baked", "--node-labels", "example.com/fleet=test"}

	rng := rand.New(rand.NewPCG(13, 13))
	pick := func(vals ...any) any { return vals[rng.IntN(len(vals))] }
	// Options a node (or the defaults) may set, each with a random value.
	options := map[string]func() any{
		"format":               func() any { return pick("ignition", "butane", "cloud-init", "plan", "tar") },
		"part":                 func() any { return pick("image", "boot", "all") },
		"variant":              func() any { return pick("fcos", "flatcar") },
		"runtime":              func() any { return pick("docker", "containerd") },
		"arch":                 func() any { return pick("amd64", "arm64") },
		"join-binary":          func() any { return pick("baked", "none", "baked", "embedded") },
		"token-file":           func() any { return abs(fmt.Sprintf("token%d", rng.IntN(len(tokens)))) },
		"ca":                   func() any { return pick([]string{abs("ca.crt")}, []string{abs("ca.crt"), abs("next-ca.crt")}) },
		"api-server":           func() any { return pick([]string{"10.0.0.11"}, []string{"10.0.0.12:443", "[fd00::1]:6443"}) },
		"node-labels":          func() any { return []string{fmt.Sprintf("example.com/rack=r%d", rng.IntN(40))} },
		"register-with-taints": func() any { return pick([]string{"example.com/gpu=true:NoSchedule"}, []string{"a=b:NoExecute"}) },
		"max-pods":             func() any { return 10 + rng.IntN(200) },
		"cluster-dns":          func() any { return pick([]string{"10.96.0.10"}, []string{"10.100.0.10", "fd00::a"}) },
		"cluster-domain":       func() any { return pick("cluster.local", "example.internal") },
		"kubelet-path":         func() any { return pick("/usr/bin/kubelet", "/opt/k8s/kubelet") },
		"cri-dockerd-path":     func() any { return "/opt/bin/cri-dockerd" },
		"kubelet-config":       func() any { return abs("kubelet.yaml") },
	}
	keys := make([]string, 0, len(options))
	for k := range options {
		keys = append(keys, k)
	}
	randomKeys := func(max int) map[string]any {
		m := map[string]any{}
		for range rng.IntN(max + 1) {
			k := keys[rng.IntN(len(keys))]
			m[k] = options[k]()
		}
		if embedErr != nil && m["join-binary"] == "embedded" {
			m["join-binary"] = "baked"
		}
		return m
	}

	defaults := map[string]any{"max-pods": 90, "cluster-domain": "fleet.local"}
	var nodes []map[string]any
	for i := range n {
		node := randomKeys(5)
		node["name"] = fmt.Sprintf("node-%03d", i)
		if rng.IntN(2) == 0 {
			node["hostname"] = fmt.Sprintf("host-%03d.example.com", i)
		}
		nodes = append(nodes, node)
	}
	writeYAML(t, abs("nodes.yaml"), map[string]any{"defaults": defaults, "nodes": nodes})

	out := abs("out")
	if code, stderr := runCLI(t, append(append([]string{"render"}, cliArgs...), "--nodes", abs("nodes.yaml"), "--out-dir", out)...); code != 0 {
		t.Fatalf("render --nodes: exit %d: %s", code, stderr)
	}
	var idx struct {
		Nodes []struct{ Name, File string }
	}
	readJSON(t, filepath.Join(out, "index.json"), &idx)
	if len(idx.Nodes) != n {
		t.Fatalf("index.json lists %d nodes, want %d", len(idx.Nodes), n)
	}
	for i, node := range nodes {
		// The test's own merge: node keys over the command line over the
		// defaults section.
		merged := map[string]any{}
		for _, layer := range []map[string]any{defaults, cli, node} {
			for k, v := range layer {
				merged[k] = v
			}
		}
		delete(merged, "name")
		cfg := abs(fmt.Sprintf("single-%d.yaml", i))
		writeYAML(t, cfg, merged)
		single := abs("single.out")
		if code, stderr := runCLI(t, "render", "--config", cfg, "-o", single); code != 0 {
			t.Fatalf("node %s: single render: exit %d: %s", node["name"], code, stderr)
		}
		want, _ := os.ReadFile(single)
		got, err := os.ReadFile(filepath.Join(out, idx.Nodes[i].File))
		if err != nil {
			t.Fatal(err)
		}
		if idx.Nodes[i].Name != node["name"] || !bytes.Equal(got, want) {
			t.Fatalf("node %s (%s): the fleet output differs from its single render with %v", node["name"], idx.Nodes[i].File, merged)
		}
	}
}

func runCLI(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(&cliEnv{stdout: &stdout, stderr: &stderr, getenv: func(string) string { return "" }}, args)
	return code, stderr.String()
}

func copyTestdata(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	write(t, to, string(data))
}

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

func writeYAML(t *testing.T, path string, v any) {
	t.Helper()
	data, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	write(t, path, string(data))
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatal(err)
	}
}
