package render

import (
	"github.com/kubebake/kubebake/render/spec"
	"github.com/kubebake/kubebake/render/write"
)

// LoadFleet reads the nodes file in.Nodes, merges every node over in (the
// command line and --config) and validates the fleet (PrepareFleet).
// tokenFile, when set, is called once for each token file the nodes use,
// before they are validated (render warns about one others can read).
func LoadFleet(in spec.Inputs, opt FleetOptions, tokenFile func(*spec.Inputs)) (*Fleet, error) {
	nf, err := spec.ReadNodesFile(in.Nodes)
	if err != nil {
		return nil, err
	}
	nodes, err := nf.Merge(in)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for i, n := range nodes {
		if f := n.Inputs.TokenFile; !seen[f] && tokenFile != nil {
			seen[f] = true
			tokenFile(&nodes[i].Inputs)
		}
	}
	return PrepareFleet(nodes, opt)
}

// JoinNone says a node of the fleet runs no kubebake-join
// (--join-binary none).
func (f *Fleet) JoinNone() bool {
	for _, n := range f.nodes {
		if n.spec.JoinBinary == spec.JoinNone {
			return true
		}
	}
	return false
}

// String is the warning, and the nodes it concerns.
func (w FleetWarning) String() string {
	msg := string(w.Warning)
	if len(w.Nodes) > 0 {
		msg += " (nodes " + write.ShortList(w.Nodes, 5) + ")"
	}
	return msg
}

// Line is the warning as the CLI prints it after "kubebake render: " (see
// spec.Warning.Line).
func (w FleetWarning) Line() string { return spec.Warning(w.String()).Line() }
