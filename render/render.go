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
	full, err := Build(s, agent)
	if err != nil {
		return nil, err
	}
	doc, large, err := emit(full, s, nil)
	if err != nil {
		return nil, err
	}
	out, err := large.apply(doc)
	if err != nil || !s.Gzip {
		return out, err
	}
	return gzipBytes(out)
}

// emit is the plan in s.Format, with placeholders for its large values
// (spliced in by largeValues.apply or writeTo). shared, when not nil,
// caches what the nodes of a fleet have in common.
func emit(full *Plan, s *Spec, shared *Shared) ([]byte, *largeValues, error) {
	part := s.Part
	if part == "" {
		part = PartAll
	}
	p := full.Part(part)
	if s.Merge != nil && (s.Format == FormatPlan || s.Format == FormatTar) {
		return nil, nil, inputErrorf("--merge", "merges into ignition, butane or cloud-init output, not %s", s.Format)
	}
	whole := func(out []byte, err error) ([]byte, *largeValues, error) { return out, &largeValues{}, err }
	switch {
	case s.Format == FormatButane && s.Merge == nil:
		return butaneDoc(p, s.Variant, nil)
	case s.Format == FormatButane:
		return whole(Butane(p, s.Variant, s.Merge))
	case s.Format == FormatCloudInit && s.Merge == nil:
		return cloudInitDoc(p)
	case s.Format == FormatCloudInit:
		out, err := CloudInit(p)
		if err != nil {
			return nil, nil, err
		}
		return whole(s.Merge.mergeCloudInit(p, out))
	case s.Format == FormatPlan:
		return whole(PlanJSON(full, part, shared.uncompressed))
	case s.Format == FormatTar:
		return whole(Tar(p, shared.uncompressed))
	case s.Merge == nil:
		return ignitionDoc(p, s.Variant, shared)
	default:
		return whole(Ignition(p, s.Variant, s.Merge))
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
