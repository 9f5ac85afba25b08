package render

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"runtime"

	"github.com/kubebake/kubebake/embed"
	"github.com/kubebake/kubebake/internal/inputs"
	"github.com/kubebake/kubebake/internal/options"
	"github.com/kubebake/kubebake/internal/token"
	"github.com/kubebake/kubebake/render/cache"
	"github.com/kubebake/kubebake/render/plan"
	"github.com/kubebake/kubebake/render/spec"
	"github.com/kubebake/kubebake/render/write"
	"k8s.io/apimachinery/pkg/util/validation"
)

// A fleet is many nodes rendered in one call, one output file per node in
// one directory, plus index.json. Every output is byte for byte what a
// single render of that node's inputs writes (both go through writeNode);
// the work that does not depend on the node is done once (the cache), the
// nodes render in parallel, each output is streamed to its file, and the
// directory appears whole or not at all (write.Dir).

// FleetOptions tune PrepareFleet.
type FleetOptions struct {
	// Cache holds node-independent work: cache.New(os.ReadFile, time.Now()).
	Cache *cache.Cache
	// Agent loads the embedded kubebake-join of an architecture (embed.Load);
	// it is called once per architecture the fleet needs.
	Agent func(arch string) (embed.Agent, error)
	// Workers render in parallel; 0 means one per CPU (GOMAXPROCS).
	Workers int
}

// Fleet is a validated fleet, ready to write.
type Fleet struct {
	nodes    []fleetNode
	cache    *cache.Cache
	workers  int
	warnings []FleetWarning
}

type fleetNode struct {
	name  string
	file  string
	spec  *spec.Spec
	agent *embed.Agent
	given options.Given
}

// FleetWarning is a warning and the nodes it concerns (all of them when
// Nodes is empty).
type FleetWarning struct {
	Warning spec.Warning
	Nodes   []string
}

// Warnings are the distinct warnings of the fleet's nodes.
func (f *Fleet) Warnings() []FleetWarning { return f.warnings }

// Len is the number of nodes.
func (f *Fleet) Len() int { return len(f.nodes) }

// ValidNode is one validated node of a fleet: its name, its spec as render
// checked it, and where each of its options came from.
type ValidNode struct {
	Name  string
	Spec  *spec.Spec
	Given options.Given
}

// Nodes are the validated nodes, in the nodes file's order: the cluster
// commands take their tokens, CAs and endpoints from them.
func (f *Fleet) Nodes() []ValidNode {
	out := make([]ValidNode, len(f.nodes))
	for i, n := range f.nodes {
		out[i] = ValidNode{Name: n.name, Spec: n.spec, Given: n.given}
	}
	return out
}

// PrepareFleet validates every node before anything is written: names
// (unique, usable as file names), inputs (as a single render checks them),
// hostnames (unique). Errors are *NodeError naming the node, wrapping the
// *InputError naming the option.
func PrepareFleet(nodes []spec.FleetNode, opt FleetOptions) (*Fleet, error) {
	if len(nodes) == 0 {
		return nil, errors.New("no nodes: the nodes file lists none")
	}
	if opt.Cache == nil {
		return nil, errors.New("PrepareFleet: no Cache")
	}
	f := &Fleet{cache: opt.Cache, workers: opt.Workers}
	if f.workers <= 0 {
		f.workers = runtime.GOMAXPROCS(0)
	}
	agents := map[string]*embed.Agent{}
	u := uniques{names: map[string]bool{}, files: map[string]string{write.IndexFile: ""}, hostnames: map[string]string{}, tokens: map[string]tokenUse{}}
	warnNodes := map[spec.Warning][]string{}
	var warnOrder []spec.Warning
	for i, n := range nodes {
		if n.Name == "" {
			return nil, fmt.Errorf("nodes[%d]: no name", i)
		}
		nameField := "name"
		if n.Where != "" {
			nameField = n.Where + ": name"
		}
		if errs := validation.IsDNS1123Subdomain(n.Name); len(errs) > 0 {
			return nil, &spec.NodeError{Node: n.Name, Err: inputs.Errorf(nameField, "%s (a node's name names its output file; use a lowercase DNS name such as worker-1)", spec.ValidationMessage(errs))}
		}
		sp, warns, err := u.check(n, nameField, opt.Cache)
		if err != nil {
			return nil, &spec.NodeError{Node: n.Name, Err: err}
		}
		for _, w := range warns {
			if _, seen := warnNodes[w]; !seen {
				warnOrder = append(warnOrder, w)
			}
			warnNodes[w] = append(warnNodes[w], n.Name)
		}
		fn := fleetNode{name: n.Name, file: n.Name + sp.Info().Ext, spec: sp, given: n.Inputs.Given}
		if sp.JoinBinary == spec.JoinEmbedded {
			a, ok := agents[sp.Arch]
			if !ok {
				if opt.Agent == nil {
					return nil, embed.ErrMissing
				}
				loaded, err := opt.Agent(sp.Arch)
				if err != nil {
					return nil, &spec.NodeError{Node: n.Name, Err: err}
				}
				a = &loaded
				agents[sp.Arch] = a
			}
			fn.agent = a
		}
		f.nodes = append(f.nodes, fn)
	}
	for _, w := range warnOrder {
		fw := FleetWarning{Warning: w}
		if len(warnNodes[w]) < len(nodes) {
			fw.Nodes = warnNodes[w]
		}
		f.warnings = append(f.warnings, fw)
	}
	return f, nil
}

// uniques is what must differ from node to node: names, output files,
// hostnames, and a token id's secret (one id, one secret).
type uniques struct {
	names     map[string]bool
	files     map[string]string // file -> node ("" for the index)
	hostnames map[string]string
	tokens    map[string]tokenUse // by token id
}

type tokenUse struct {
	tok  token.Token
	node string // the first node using it
}

// check validates node n's inputs and what must be unique in a fleet.
func (u *uniques) check(n spec.FleetNode, nameField string, c *cache.Cache) (*spec.Spec, []spec.Warning, error) {
	if u.names[n.Name] {
		return nil, nil, inputs.Errorf(nameField, "given twice: every node needs its own name")
	}
	u.names[n.Name] = true
	sp, warns, err := spec.NewSpec(n.Inputs, c)
	if err != nil {
		return nil, nil, n.Inputs.Given.Locate(err)
	}
	file := n.Name + sp.Info().Ext
	if len(file) > 255 {
		return nil, nil, inputs.Errorf(nameField, "its output %s is longer than the 255 bytes a file name may have: shorten the name", file)
	}
	if id := sp.Token.ID(); id != "" {
		if first, ok := u.tokens[id]; !ok {
			u.tokens[id] = tokenUse{sp.Token, n.Name}
		} else if subtle.ConstantTimeCompare([]byte(first.tok.Secret()), []byte(sp.Token.Secret())) != 1 {
			return nil, nil, inputs.Errorf(n.Inputs.Given.Where("token-file"), "token %s has another secret than node %q's: one id names one token (the cluster keeps one Secret per id), so one of the two pools could never join", id, first.node)
		}
	}
	if other, dup := u.files[file]; dup {
		if other == "" {
			return nil, nil, inputs.Errorf(nameField, "its output %s would be the fleet's index; rename the node", file)
		}
		return nil, nil, inputs.Errorf(nameField, "its output %s is node %q's too; rename one", file, other)
	}
	u.files[file] = n.Name
	if sp.Hostname != "" {
		if other, dup := u.hostnames[sp.Hostname]; dup {
			return nil, nil, inputs.Errorf(n.Inputs.Given.Where("hostname"), "%q is node %q's hostname too: the second kubelet would take over the first one's Node", sp.Hostname, other)
		}
		u.hostnames[sp.Hostname] = n.Name
	}
	return sp, warns, nil
}

// Write renders every node into dir (see write.Dir): dir holds every
// output and index.json, or, after an error, is as it was. At most Workers
// outputs are being written at once.
func (f *Fleet) Write(ctx context.Context, dir string) (*write.Index, error) {
	files := make([]string, len(f.nodes))
	for i, n := range f.nodes {
		files[i] = n.file
	}
	return write.Dir(ctx, dir, files, f.workers, func(i int, w io.Writer) (write.IndexEntry, error) {
		e, err := f.nodes[i].write(w)
		if err != nil {
			return e, &spec.NodeError{Node: f.nodes[i].name, Err: f.nodes[i].given.Locate(err)}
		}
		return e, nil
	})
}

// write renders the node to w and describes it for index.json.
func (n fleetNode) write(w io.Writer) (write.IndexEntry, error) {
	full, res, err := writeNode(w, n.spec, n.agent)
	if err != nil {
		return write.IndexEntry{}, err
	}
	ch, err := full.ConfigHash(plan.Digest(n.spec.Cache()))
	if err != nil {
		return write.IndexEntry{}, err
	}
	e := write.IndexEntry{
		Name: n.name, File: n.file, Format: string(n.spec.Format), Hostname: n.spec.Hostname, Part: string(n.spec.Part),
		Size: res.Size, SHA256: res.SHA256, ConfigHash: ch,
	}
	part := full.Part(n.spec.Part)
	if part.HasSecret() {
		e.TokenID = n.spec.Token.ID()
	}
	e.Merged = part.User != nil
	return e, nil
}
