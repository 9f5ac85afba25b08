package render

import (
	"fmt"

	"github.com/kubebake/kubebake/internal/inputs"
)

// Format is an output format.
type Format string

const (
	FormatIgnition  Format = "ignition"
	FormatButane    Format = "butane"
	FormatCloudInit Format = "cloud-init"
	// FormatPlan is the neutral plan as JSON (paths, modes, digests), for
	// reviewing what a config lays down and for tests that compare trees.
	FormatPlan Format = "plan"
	// FormatTar is the node as a filesystem layer for an image's root.
	FormatTar Format = "tar"
)

// Formats lists the formats in the order --help shows them.
var Formats = []Format{FormatIgnition, FormatButane, FormatCloudInit, FormatPlan, FormatTar}

// Variant is the Butane variant, which fixes the Ignition spec version.
type Variant string

const (
	VariantFCOS    Variant = "fcos"    // Butane fcos 1.6.0 → Ignition 3.5.0
	VariantFlatcar Variant = "flatcar" // Butane flatcar 1.1.0 → Ignition 3.4.0
)

var Variants = []Variant{VariantFCOS, VariantFlatcar}

// Runtime is the container runtime the kubelet talks to.
type Runtime string

const (
	RuntimeDocker     Runtime = "docker" // docker + cri-dockerd
	RuntimeContainerd Runtime = "containerd"
)

var Runtimes = []Runtime{RuntimeDocker, RuntimeContainerd}

// JoinMode says how kubebake-join reaches the node.
type JoinMode string

const (
	// JoinEmbedded puts the agent binary into the output.
	JoinEmbedded JoinMode = "embedded"
	// JoinBaked expects the agent in the image already; the output stays small.
	JoinBaked JoinMode = "baked"
	// JoinNone runs no agent: the kubelet trusts the baked CA directly.
	JoinNone JoinMode = "none"
)

var JoinModes = []JoinMode{JoinEmbedded, JoinBaked, JoinNone}

func oneOf[T ~string](flag string, v T, all []T) error {
	for _, a := range all {
		if v == a {
			return nil
		}
	}
	return &InputError{Field: flag, Msg: fmt.Sprintf("%q is not one of %v", string(v), all)}
}

// InputError is a problem with one input: Field names the flag (or the
// --config key), Msg says what is wrong and how to fix it.
type InputError = inputs.Error

func inputErrorf(field, format string, a ...any) error {
	return inputs.Errorf(field, format, a...)
}
