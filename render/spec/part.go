package spec

import (
	"github.com/kubebake/kubebake/internal/inputs"
	"github.com/kubebake/kubebake/render/cache"
)

// partAndMerge sets the spec's --part and reads its --merge file.
func partAndMerge(s *Spec, in Inputs, c *cache.Cache) error {
	s.Part = Part(in.Part)
	if s.Part == "" {
		s.Part = PartAll
	}
	known := false
	for _, p := range Parts {
		known = known || s.Part == p
	}
	if !known {
		return inputs.Errorf("--part", "%q is not one of %v", s.Part, Parts)
	}
	if in.Merge != "" {
		data, err := c.ReadFile(in.Merge)
		if err != nil {
			return inputs.Errorf("--merge", "%v", inputs.FileError(err))
		}
		s.Merge = &UserConfig{Name: in.Merge, Data: data}
		if !s.Info().Merge {
			var merging []string
			for _, f := range Formats() {
				if f.Merge {
					merging = append(merging, string(f.Name))
				}
			}
			return inputs.Errorf("--merge", "merges into %s output, not %s", orList(merging), s.Format)
		}
	}
	return mergePart(s, in)
}

// mergePart sets which part holds the --merge file (--merge-part).
func mergePart(s *Spec, in Inputs) error {
	s.MergePart = Part(in.MergePart)
	if s.MergePart == "" {
		s.MergePart = PartBoot
	}
	if !in.Given.Has("merge-part") {
		return nil
	}
	switch {
	case in.Merge == "":
		return inputs.Errorf("--merge-part", "places the --merge file, and there is none: give --merge FILE, or leave --merge-part out")
	case s.Part == PartAll:
		return inputs.Errorf("--merge-part", "only with --part image or --part boot: with --part %s the one output holds everything", s.Part)
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

// HoldsMerge says whether the output of part holds the --merge file:
// every part but the one --merge-part does not name.
func (s *Spec) HoldsMerge(part Part) bool {
	return s.Merge != nil && (part == PartAll || part == s.MergePart)
}

// UserConfig is the user's own config given with --merge: their SSH keys,
// users, files and units, to go into the same first-boot config as ours.
type UserConfig struct {
	// Name is the file it came from, for messages.
	Name string
	Data []byte
}
