package render

import (
	"github.com/kubebake/kubebake/internal/inputs"
	"github.com/kubebake/kubebake/internal/options"
)

func init() {
	RegisterOption(options.Option[Inputs]{Meta: options.Meta{Name: "part", Arg: "PART", Config: true, Commands: renderOnly, Default: string(PartAll),
		Help:   "all (everything), image (everything but the token: no secret, the same bytes whatever the token, for a golden image) or boot (only the token, a few hundred bytes of user-data for a machine built from the image part)",
		Doc:    "`all`, `image` (everything but the token: holds no secret in any encoding and does not change when the token does, so its sha256 identifies the image; needs no token) or `boot` (only `/etc/kubebake/token`: the user-data, under 1 KB, for a machine built from the image part; kubebake-join waits for it). See [Golden images](#golden-images-no-secret-inside)",
		Values: options.Strings(Parts)},
		Field: func(in *Inputs) any { return &in.Part }})
	RegisterOption(options.Option[Inputs]{Meta: options.Meta{Name: "merge", Arg: "FILE", Config: true, Path: true, Commands: renderOnly,
		Help: "the user's own config to merge into the output: Butane or Ignition (merged as Ignition merges configs) for ignition and butane, #cloud-config, a script or MIME multipart for cloud-init (a MIME multipart out); a path or unit kubebake writes is an error"},
		Field: func(in *Inputs) any { return &in.Merge }})
}

// partAndMerge sets the spec's --part and reads its --merge file.
func partAndMerge(s *Spec, in Inputs, env Env) error {
	s.Part = Part(in.Part)
	if s.Part == "" {
		s.Part = PartAll
	}
	known := false
	for _, p := range Parts {
		known = known || s.Part == p
	}
	if !known {
		return inputErrorf("--part", "%q is not one of %v", s.Part, Parts)
	}
	if in.Merge != "" {
		data, err := env.ReadFile(in.Merge)
		if err != nil {
			return inputErrorf("--merge", "%v", inputs.FileError(err))
		}
		s.Merge = &UserConfig{Name: in.Merge, Data: data}
	}
	return nil
}

// Part is which part of a node's configuration an output holds.
type Part string

const (
	// PartAll is everything: what a first-boot config carries today.
	PartAll Part = "all"
	// PartImage is everything but the bootstrap token: the agent, units,
	// kubelet config, CA bundle, pins, endpoints. It holds no secret, so it
	// may be baked into an image; its bytes do not depend on the token.
	PartImage Part = "image"
	// PartBoot is only what carries the token: the few hundred bytes a
	// launch template or a machine's first boot supplies to a node built
	// from the image part.
	PartBoot Part = "boot"
)

// Parts lists the parts in the order --help shows them.
var Parts = []Part{PartAll, PartImage, PartBoot}

// Part returns the plan's share of part. The image part keeps every file
// that is not Secret, every unit and its enablement, and no start list: its
// units start in boot order on the image's first boot, which is when the
// boot part delivers the token (kubebake-join waits for it). The boot part
// is the Secret files alone. The two are a partition of the plan's files:
// laid down together they are the tree of PartAll.
func (p *Plan) Part(part Part) *Plan {
	switch part {
	case PartImage:
		out := &Plan{Units: p.Units}
		for _, f := range p.Files {
			if !f.Secret && !f.PerNode {
				out.Files = append(out.Files, f)
			}
		}
		return out
	case PartBoot:
		out := &Plan{Hostname: p.Hostname}
		for _, f := range p.Files {
			if f.Secret || f.PerNode {
				out.Files = append(out.Files, f)
			}
		}
		return out
	default:
		return p
	}
}

// HasSecret reports whether the plan holds a file with the token.
func (p *Plan) HasSecret() bool {
	for _, f := range p.Files {
		if f.Secret {
			return true
		}
	}
	return false
}
