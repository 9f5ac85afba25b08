package render

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
