// Package render turns kubebake's inputs into a worker node's first-boot
// configuration. It is one pipeline, one package a stage:
//
//	spec   inputs (flags, --config, a nodes file) → a validated Spec: every
//	       option declared once in spec.Options with its rules; one error
//	       type, inputs.Error, naming the flag or file line.
//	plan   Spec → Plan: the neutral node (files, units, start order, the
//	       agent's path, the user's config to merge) and its configHash.
//	emit   Plan → a document per format; each format is one file and one
//	       line in emit's registry.
//	write  document → an io.Writer, or a fleet's directory, swapped into
//	       place whole.
//
// cache, below them all, holds what the nodes of a fleet share. This
// package runs the stages: Render for one node, Fleet for many (one node is
// a fleet of one: both go through writeNode).
package render

import (
	"bytes"
	"errors"
	"io"

	"github.com/kubebake/kubebake/embed"
	"github.com/kubebake/kubebake/render/emit"
	"github.com/kubebake/kubebake/render/plan"
	"github.com/kubebake/kubebake/render/spec"
	"github.com/kubebake/kubebake/render/write"
)

// Render builds the plan for s and returns it in s.Format. agent is needed
// only with --join-binary embedded.
func Render(s *spec.Spec, agent *embed.Agent) ([]byte, error) {
	_, doc, err := emitNode(s, agent)
	if err != nil {
		return nil, err
	}
	// One output, in one allocation of its size (growing a buffer to the
	// 4 MB of an embedded agent's config would copy and fault in twice
	// that), with its large values encoded straight into it: nothing else
	// shares them, and nothing asks for its digest.
	var buf bytes.Buffer
	if !s.Gzip {
		buf.Grow(doc.Len())
	}
	n, err := write.Stream(&buf, doc, s.Gzip, nil)
	if err != nil {
		return nil, err
	}
	return buf.Bytes(), s.CheckSize(int(n))
}

// RenderPointer renders the boot part of s (--part boot) and the pointer
// config that fetches it from s.Pointer (see emit.Pointer): the pointer is
// the user-data, the boot part is uploaded where the pointer points.
func RenderPointer(s *spec.Spec, agent *embed.Agent) (pointer, boot []byte, err error) {
	if s.Pointer == "" || s.Part != spec.PartBoot {
		return nil, nil, errors.New("internal error: RenderPointer needs --pointer and --part boot")
	}
	if boot, err = Render(s, agent); err != nil {
		return nil, nil, err
	}
	if pointer, err = emit.Pointer(boot, s); err != nil {
		return nil, nil, err
	}
	return pointer, boot, s.CheckSize(len(pointer))
}

// emitNode is one node through the pipeline to its document: its plan,
// emitted in its format.
func emitNode(s *spec.Spec, agent *embed.Agent) (*plan.Plan, emit.Doc, error) {
	full, err := plan.Build(s, agent)
	if err != nil {
		return nil, emit.Doc{}, err
	}
	doc, err := emit.Emit(emit.Input{Plan: full.Part(s.Part), Full: full, Cache: s.Cache()})
	return full, doc, err
}

// writeNode is one node of a fleet through the pipeline, written to w,
// its large values encoded once for the fleet; the output must fit
// --max-size.
func writeNode(w io.Writer, s *spec.Spec, agent *embed.Agent) (*plan.Plan, write.Result, error) {
	full, doc, err := emitNode(s, agent)
	if err != nil {
		return nil, write.Result{}, err
	}
	res, err := write.Output(w, doc, s.Gzip, s.Cache())
	if err != nil {
		return nil, write.Result{}, err
	}
	return full, res, s.CheckSize(int(res.Size))
}
