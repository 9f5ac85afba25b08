package spec

import (
	"errors"
	"fmt"

	"github.com/kubebake/kubebake/internal/inputs"
	"github.com/kubebake/kubebake/internal/options"
	"github.com/kubebake/kubebake/render/cache"
)

// partAndMerge sets the spec's --part and reads its --merge file (the
// table checked both: mergeFormat, mergePartRule).
func partAndMerge(s *Spec, in Inputs, c *cache.Cache) error {
	s.Part = partOf(&in)
	s.MergePart = Part(in.MergePart)
	if s.MergePart == "" {
		s.MergePart = PartBoot
	}
	if in.Merge != "" {
		data, err := c.ReadFile(in.Merge)
		if err != nil {
			return inputs.Errorf("--merge", "%v", inputs.FileError(err))
		}
		s.Merge = &UserConfig{Name: in.Merge, Data: data}
	}
	return nil
}

// partOf is --part, all when unset.
func partOf(in *Inputs) Part {
	if in.Part == "" {
		return PartAll
	}
	return Part(in.Part)
}

// mergeFormat is --merge's rule: only into a format that merges.
func mergeFormat(in *Inputs, _ options.Given) error {
	if f, _ := LookupFormat(Format(in.Format)); in.Merge == "" || f.Merge {
		return nil
	}
	var merging []string
	for _, f := range Formats() {
		if f.Merge {
			merging = append(merging, string(f.Name))
		}
	}
	return fmt.Errorf("merges into %s output, not %s", orList(merging), in.Format)
}

// mergePartRule is --merge-part's rule: it places a --merge file in one
// of the parts --part image or boot makes.
func mergePartRule(in *Inputs, given options.Given) error {
	switch {
	case !given.Has("merge-part"):
		return nil
	case in.Merge == "":
		return errors.New("places the --merge file, and there is none: give --merge FILE, or leave --merge-part out")
	case partOf(in) == PartAll:
		return fmt.Errorf("only with --part image or --part boot: with --part %s the one output holds everything", PartAll)
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
