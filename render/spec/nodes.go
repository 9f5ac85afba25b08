package spec

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/kubebake/kubebake/internal/inputs"
	"github.com/kubebake/kubebake/internal/options"
	yamlv3 "gopkg.in/yaml.v3"
)

// NodesFile is a --nodes file: the options every node shares (defaults),
// and the nodes, each with a name and its own options, keyed as in
// --config (relative paths are relative to the file's folder).
//
//	defaults:
//	  node-labels: [example.com/pool=a]
//	nodes:
//	- name: worker-1
//	  hostname: worker-1
//	- name: worker-2
//	  hostname: worker-2
//	  token-file: pool-b.token
//
// A node's own keys win over the command line, which wins over the
// defaults, which win over --config.
type NodesFile struct {
	file     *options.File
	defaults *yamlv3.Node
	Nodes    []NodeSpec
}

// NodeSpec is one node as the file gives it.
type NodeSpec struct {
	Name string
	// Where is "file:line" of the node.
	Where string
	keys  *yamlv3.Node // the node's mapping, name left out
}

// ReadNodesFile reads and parses the nodes file path (--nodes).
func ReadNodesFile(path string) (*NodesFile, error) {
	data, err := inputs.ReadBounded(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, inputs.Errorf("--nodes", "%s: %v", path, err)
	}
	return ParseNodesFile(path, data)
}

// ParseNodesFile parses the nodes file path. Errors name the file, line and
// key, and the node.
func ParseNodesFile(path string, data []byte) (*NodesFile, error) {
	f, err := options.ParseFile(path, data)
	if err != nil {
		return nil, err
	}
	nf := &NodesFile{file: f}
	root := f.Root
	var nodes *yamlv3.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], options.Resolve(root.Content[i+1])
		where := fmt.Sprintf("%s:%d: %s", path, k.Line, k.Value)
		switch k.Value {
		case "defaults":
			if v.Kind != yamlv3.MappingNode && v.Tag != "!!null" {
				return nil, inputs.Errorf(where, "want a mapping of option keys (node-labels: [...], token-file: ...)")
			}
			if err := checkNodeKeys(path, v, true); err != nil {
				return nil, err
			}
			nf.defaults = v
		case "nodes":
			nodes = v
		default:
			return nil, inputs.Errorf(where, "unknown key: a nodes file has defaults: and nodes:")
		}
	}
	if nodes != nil && nodes.Kind != yamlv3.SequenceNode && nodes.Tag != "!!null" {
		return nil, inputs.Errorf(fmt.Sprintf("%s:%d: nodes", path, nodes.Line), "want a list of nodes (- name: worker-1), not a %s", map[yamlv3.Kind]string{yamlv3.MappingNode: "mapping", yamlv3.ScalarNode: "single value"}[nodes.Kind])
	}
	if nodes == nil || len(nodes.Content) == 0 {
		return nil, inputs.Errorf(path, "nodes: lists no node (nodes: [{name: worker-1}, ...])")
	}
	for i, n := range nodes.Content {
		n = options.Resolve(n)
		if n.Kind != yamlv3.MappingNode {
			return nil, inputs.Errorf(fmt.Sprintf("%s:%d: nodes[%d]", path, n.Line, i), "want a mapping with a name and option keys")
		}
		keys := &yamlv3.Node{Kind: yamlv3.MappingNode, Line: n.Line}
		spec := NodeSpec{Where: fmt.Sprintf("%s:%d", path, n.Line)}
		for j := 0; j+1 < len(n.Content); j += 2 {
			k, v := n.Content[j], options.Resolve(n.Content[j+1])
			if k.Value == "name" {
				if v.Kind != yamlv3.ScalarNode || v.Value == "" {
					return nil, inputs.Errorf(fmt.Sprintf("%s:%d: name", path, k.Line), "want the node's name, such as worker-1")
				}
				spec.Name = v.Value
				continue
			}
			keys.Content = append(keys.Content, k, v)
		}
		if spec.Name == "" {
			return nil, inputs.Errorf(fmt.Sprintf("%s:%d: nodes[%d]", path, n.Line, i), "no name")
		}
		if err := checkNodeKeys(path, keys, false); err != nil {
			return nil, &NodeError{Node: spec.Name, Err: err}
		}
		spec.keys = keys
		nf.Nodes = append(nf.Nodes, spec)
	}
	return nf, nil
}

// checkNodeKeys refuses the keys only a run may set (Meta.PerRun).
func checkNodeKeys(path string, m *yamlv3.Node, defaults bool) error {
	perRun := map[string]string{}
	for _, o := range AllOptions() {
		if o.PerRun != "" {
			perRun[o.Name] = o.PerRun
		}
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k := m.Content[i]
		if why, ok := perRun[k.Value]; ok {
			return inputs.Errorf(fmt.Sprintf("%s:%d: %s", path, k.Line, k.Value), "not in a nodes file: %s", why)
		}
		if k.Value == "name" && defaults {
			return inputs.Errorf(fmt.Sprintf("%s:%d: %s", path, k.Line, k.Value), "a name belongs to each node, not to the defaults")
		}
	}
	return nil
}

// Merge returns each node's inputs: base (the command line
// over --config, with defaults filled in), under the file's defaults for
// what the command line did not give, under the node's own keys.
func (nf *NodesFile) Merge(base Inputs) ([]FleetNode, error) {
	shared := base
	if nf.defaults != nil && nf.defaults.Kind == yamlv3.MappingNode {
		var err error
		if shared, err = base.WithYAML(nf.file, nf.defaults); err != nil {
			return nil, err
		}
	}
	out := make([]FleetNode, len(nf.Nodes))
	for i, n := range nf.Nodes {
		in, err := shared.withNode(nf.file, n.keys)
		if err != nil {
			return nil, &NodeError{Node: n.Name, Err: err}
		}
		out[i] = FleetNode{Name: n.Name, Inputs: in, Where: n.Where}
	}
	return out, nil
}

// ApplyNode sets the options bound in set for node i: the file's defaults
// where the command line gave nothing, then the node's own keys over
// everything. set.Given must be the run's (flags as "--name"). The cluster
// commands take a token's terms (ttl, expires, ...) from a node this way;
// render's own options go through Merge.
func (nf *NodesFile) ApplyNode(i int, set *options.Set) error {
	if nf.defaults != nil && nf.defaults.Kind == yamlv3.MappingNode {
		if err := set.Apply(nf.file, nf.defaults); err != nil {
			return err
		}
	}
	return set.ApplyOver(nf.file, nf.Nodes[i].keys)
}

// withNode sets the options of a node's mapping m over in, over the
// command line's too. A token-file not given by a flag replaces the token
// from any source.
func (in Inputs) withNode(f *options.File, m *yamlv3.Node) (Inputs, error) {
	out := in
	set := options.NewSet(anyCommand, AllOptions(), options.BindAll(Options, &out))
	set.Given = in.Given.Clone()
	if err := set.ApplyOver(f, m); err != nil {
		return Inputs{}, err
	}
	if w, ok := set.Given["token-file"]; ok && !strings.HasPrefix(w, "--") {
		out.Token, out.TokenEnv = "", ""
		if strings.HasPrefix(set.Given["token"], "--") {
			delete(set.Given, "token")
		}
	}
	out.Given = set.Given
	return out, nil
}

// FleetNode is one node: its name (which names its output file) and its
// inputs, merged from the command line, the nodes file's defaults and the
// node's own keys, with Defaults filled in.
type FleetNode struct {
	Name   string
	Inputs Inputs
	// Where is "file:line" of the node in its nodes file, for errors.
	Where string
}

// NodeError is a problem with one node of a fleet.
type NodeError struct {
	Node string
	Err  error
}

func (e *NodeError) Error() string { return fmt.Sprintf("node %q: %v", e.Node, e.Err) }
func (e *NodeError) Unwrap() error { return e.Err }
