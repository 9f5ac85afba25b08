// Package emit writes a plan in each output format. Each format is one
// file here declaring an Emitter (its name, its traits, its Emit function)
// and one line in the registry below, as Butane registers its translators
// by variant: a new format is a new file and a new Register line.
//
// An emitter returns a Doc: the document with short placeholders for its
// large values (the agent's megabytes of base64), which the writer splices
// in as it writes (see large.go), so no serializer or validator scans them.
package emit

import (
	"fmt"

	"github.com/kubebake/kubebake/render/cache"
	"github.com/kubebake/kubebake/render/plan"
	"github.com/kubebake/kubebake/render/spec"
)

// The registry, in --help order.
func init() {
	Register(ignitionEmitter)
	Register(butaneEmitter)
	Register(cloudInitEmitter)
	Register(planEmitter)
	Register(tarEmitter)
}

// Emitter is one output format.
type Emitter struct {
	// FormatInfo names the format and says which options apply to it; the
	// spec validates the options with it.
	spec.FormatInfo
	// Emit writes in.Plan in the format.
	Emit func(in Input) (Doc, error)
}

// Input is what an emitter is given.
type Input struct {
	// Plan is what to emit: the part of Full that --part asks for. It
	// carries the spec (variant, part), the user's config to merge (User)
	// and the agent's path.
	Plan *plan.Plan
	// Full is the whole plan, for what describes the whole node (the
	// plan format's configHash).
	Full *plan.Plan
	// Cache holds what a fleet's nodes share (never nil).
	Cache *cache.Cache
}

var emitters = map[spec.Format]Emitter{}

// Register adds an emitter and its format.
func Register(e Emitter) {
	if e.Emit == nil || e.Name == "" || e.Ext == "" {
		panic("emit: incomplete emitter " + string(e.Name))
	}
	spec.RegisterFormat(e.FormatInfo)
	emitters[e.Name] = e
}

// Lookup returns the emitter of format f.
func Lookup(f spec.Format) (Emitter, error) {
	e, ok := emitters[f]
	if !ok {
		return Emitter{}, fmt.Errorf("internal error: no emitter for format %q", f)
	}
	return e, nil
}

// Emit emits in.Plan in its spec's format.
func Emit(in Input) (Doc, error) {
	e, err := Lookup(in.Plan.Spec.Format)
	if err != nil {
		return Doc{}, err
	}
	if in.Plan.User != nil && !e.Merge {
		return Doc{}, fmt.Errorf("internal error: %s output cannot merge %s", e.Name, in.Plan.User.Name)
	}
	return e.Emit(in)
}

// Bytes is Emit with the large values spliced in.
func Bytes(in Input) ([]byte, error) {
	doc, err := Emit(in)
	if err != nil {
		return nil, err
	}
	return doc.Bytes()
}
