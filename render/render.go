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
	part := s.Part
	if part == "" {
		part = PartAll
	}
	p := full.Part(part)
	if s.Merge != nil && (s.Format == FormatPlan || s.Format == FormatTar) {
		return nil, inputErrorf("--merge", "merges into ignition, butane or cloud-init output, not %s", s.Format)
	}
	switch s.Format {
	case FormatButane:
		return Butane(p, s.Variant, s.Merge)
	case FormatCloudInit:
		out, err := CloudInit(p)
		if err != nil || s.Merge == nil {
			return out, err
		}
		return s.Merge.mergeCloudInit(p, out)
	case FormatPlan:
		return PlanJSON(full, part, gunzipVerified)
	case FormatTar:
		return Tar(p, gunzipVerified)
	default:
		return Ignition(p, s.Variant, s.Merge)
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
