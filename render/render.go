// Package render turns kubebake's inputs into a worker node's first-boot
// configuration: inputs → a validated Spec → one neutral Plan → one emitter
// per output format (Butane, Ignition, cloud-init, and the plan itself).
package render

import (
	"fmt"

	"github.com/kubebake/kubebake/embed"
)

// Render builds the plan for s and emits it in s.Format. agent is needed
// only with --join-binary embedded.
func Render(s *Spec, agent *embed.Agent) ([]byte, error) {
	p, err := Build(s, agent)
	if err != nil {
		return nil, err
	}
	doc, large, err := emit(p, s, nil)
	if err != nil {
		return nil, err
	}
	return large.apply(doc)
}

// emit is the plan in s.Format, with placeholders for its large values.
// shared, when not nil, caches what nodes of a fleet have in common.
func emit(p *Plan, s *Spec, shared *Shared) ([]byte, *largeValues, error) {
	switch s.Format {
	case FormatButane:
		return butaneDoc(p, s.Variant)
	case FormatCloudInit:
		return cloudInitDoc(p)
	case FormatPlan:
		doc, err := PlanJSON(p, shared.uncompressed)
		return doc, &largeValues{}, err
	default:
		return ignitionDoc(p, s.Variant, shared)
	}
}

// gunzipVerified returns a compressed file's bytes, checked against its
// SHA-512 as Ignition would.
func gunzipVerified(f File) ([]byte, error) {
	data, err := embed.Gunzip(f.Gzip, f.SHA512)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", f.Path, err)
	}
	return data, nil
}
