package emit

import (
	"encoding/json"

	"github.com/kubebake/kubebake/render/plan"
	"github.com/kubebake/kubebake/render/spec"
)

var planEmitter = Emitter{
	FormatInfo: spec.FormatInfo{Name: "plan", Help: "what the node gets, as JSON", Ext: ".json", Variant: true, NoSecret: true, Merge: true},
	Emit:       func(in Input) (Doc, error) { return whole(PlanJSON(in)) },
}

// PlanJSON emits the part of the plan as JSON: its Manifest, with the
// configHash of the whole node. A user's --merge config is shown by its
// digest: what it adds is the user's, in the user's own file.
func PlanJSON(in Input) ([]byte, error) {
	digest := plan.Digest(in.Cache)
	doc, err := in.Plan.Manifest(digest)
	if err != nil {
		return nil, err
	}
	if doc.ConfigHash, err = in.Full.ConfigHash(digest); err != nil {
		return nil, err
	}
	doc.Part = in.Plan.Spec.Part
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}
