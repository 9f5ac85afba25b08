package plan

import (
	"io/fs"
	"path"
	"sort"

	"github.com/kubebake/kubebake/render/spec"
)

// Plan is the neutral description of a node's first-boot state: files with
// their modes and contents, systemd units with drop-ins and enablement, and
// the order a late applier starts them in. Every output format is one
// emitter over a Plan; nothing format-specific lives here.
type Plan struct {
	// Spec is the validated spec the plan was built from.
	Spec  *spec.Spec
	Files []File
	Units []Unit
	// Start lists the units that an applier running after boot has begun
	// (cloud-init) must (re)start, in order, once the files are laid down.
	// Each must succeed before the next starts. An applier that runs before
	// systemd (Ignition) needs none of this: boot ordering does the same.
	Start []string
	// StartNoWait lists the units the applier then asks systemd to start
	// without waiting for them: kubebake-join, which may wait minutes for
	// the control plane, retries on its own and starts the kubelet once the
	// cluster is verified. The applier must not restart the kubelet after it
	// (that would cut its TLS bootstrap short), and a first attempt that
	// fails must not stop the applier.
	StartNoWait []string
	// Hostname is the node's hostname when the plan sets one; /etc/hostname
	// is among the Files then. An applier that sets the hostname itself
	// from its own data (cloud-init) is told to use this one.
	Hostname string
	// AgentPath is where kubebake-join is (installed, or baked into the
	// image); "" with --join-binary none.
	AgentPath string
	// User is the user's own config to merge into the output (--merge),
	// or nil. Each emitter that takes one merges it in its own format.
	User *spec.UserConfig
	// Remotes are the files the node downloads and verifies at boot (a
	// stock image's kubelet; stock.go). They belong to the image part.
	Remotes []Remote
	// whole is the plan a part was taken from (nil for a whole plan):
	// what the user's config may not touch is the whole node's.
	whole *Plan
}

// PrivateDirs are the directories of the plan's secret files (the token's,
// /etc/kubebake), sorted: an applier creates each 0700 before it writes any
// file, so that no file in it is readable by others for a moment
// (cloud-init 22.4's write_files writes a file 0644 and chmods it after).
func (p *Plan) PrivateDirs() []string {
	seen := map[string]bool{}
	var dirs []string
	for _, f := range p.Files {
		if d := path.Dir(f.Path); f.Secret && !seen[d] {
			seen[d] = true
			dirs = append(dirs, d)
		}
	}
	sort.Strings(dirs)
	return dirs
}

// File is a regular file, owned by root:root.
type File struct {
	Path string
	Mode fs.FileMode
	// Contents are the file's bytes. For a large binary, Contents is nil and
	// Gzip holds them compressed, with SHA512 the hex SHA-512 of the
	// uncompressed bytes (Ignition verifies it).
	Contents []byte
	Gzip     []byte
	SHA512   string
	// Secret marks files holding the bootstrap token (mode 0600).
	Secret bool
	// PerNode marks files that differ from node to node without being
	// secret (/etc/hostname): they go with the boot part, not the image.
	PerNode bool
}

// Unit is a systemd unit under /etc/systemd/system. A unit with no Contents
// is one the OS ships (docker.service, containerd.service): only its drop-ins
// and enablement are ours.
type Unit struct {
	Name     string
	Contents string
	Dropins  []Dropin
	Enabled  bool
}

// Dropin is /etc/systemd/system/<unit>.d/<Name>.
type Dropin struct {
	Name     string
	Contents string
}

// UnitDir is where units and drop-ins are written.
const UnitDir = "/etc/systemd/system"

// sort puts files and units in path/name order so that emitters, and the
// bytes they produce, do not depend on the order the plan was built in.
func (p *Plan) sort() {
	sort.Slice(p.Files, func(i, j int) bool { return p.Files[i].Path < p.Files[j].Path })
	sort.Slice(p.Units, func(i, j int) bool { return p.Units[i].Name < p.Units[j].Name })
	sort.Slice(p.Remotes, func(i, j int) bool { return p.Remotes[i].Path < p.Remotes[j].Path })
	for _, u := range p.Units {
		sort.Slice(u.Dropins, func(i, j int) bool { return u.Dropins[i].Name < u.Dropins[j].Name })
	}
}

// Part returns the plan's share of part. The image part keeps every file
// that is not Secret, every unit and its enablement, and no start list: its
// units start in boot order on the image's first boot, which is when the
// boot part delivers the token (kubebake-join waits for it). The boot part
// is the Secret files alone. The two are a partition of the plan's files:
// laid down together they are the tree of PartAll. The user's config
// (--merge) goes into one of them, the one --merge-part names: merged into
// both, its commands would run at image build and again at every first
// boot.
func (p *Plan) Part(part spec.Part) *Plan {
	var out *Plan
	switch part {
	case spec.PartImage:
		out = &Plan{Spec: p.Spec, AgentPath: p.AgentPath, Units: p.Units, Remotes: p.Remotes}
		for _, f := range p.Files {
			if !f.Secret && !f.PerNode {
				out.Files = append(out.Files, f)
			}
		}
	case spec.PartBoot:
		out = &Plan{Spec: p.Spec, AgentPath: p.AgentPath, Hostname: p.Hostname}
		for _, f := range p.Files {
			if f.Secret || f.PerNode {
				out.Files = append(out.Files, f)
			}
		}
	default:
		return p
	}
	if p.Spec.HoldsMerge(part) {
		out.User = p.User
	}
	out.whole = p
	return out
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
