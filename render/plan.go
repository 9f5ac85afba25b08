package render

import (
	"io/fs"
	"sort"
)

// Plan is the neutral description of a node's first-boot state: files with
// their modes and contents, systemd units with drop-ins and enablement, and
// the order a late applier starts them in. Every output format is one
// emitter over a Plan; nothing format-specific lives here.
type Plan struct {
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
	for _, u := range p.Units {
		sort.Slice(u.Dropins, func(i, j int) bool { return u.Dropins[i].Name < u.Dropins[j].Name })
	}
}
