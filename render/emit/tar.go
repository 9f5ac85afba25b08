package emit

import (
	"archive/tar"
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/kubebake/kubebake/render/cache"
	"github.com/kubebake/kubebake/render/plan"
	"github.com/kubebake/kubebake/render/spec"
)

var tarEmitter = Emitter{
	FormatInfo: spec.FormatInfo{Name: "tar", Help: "the node's files as a layer for an image's root", Ext: ".tar", Variant: true},
	Emit:       func(in Input) (Doc, error) { return whole(Tar(in.Plan, in.Cache)) },
}

// PresetPath is the preset file the tar output enables units with, as
// Ignition does with its 20-ignition.preset.
const PresetPath = "/etc/systemd/system-preset/20-kubebake.preset"

// tarEpoch is every entry's modification time: fixed, so that the same plan
// gives the same bytes (ostree and bootc set the same).
var tarEpoch = time.Unix(0, 0).UTC()

// tarEntry is one entry of the tar output, before it is written.
type tarEntry struct {
	path   string // absolute
	mode   fs.FileMode
	data   []byte
	target string // a symlink's target; "" for a file
	dir    bool   // a directory (the token's, 0700)
}

// Tar emits the plan as a tar stream to lay over an image's root (a
// Containerfile's `ADD node.tar /`, a Packer file provisioner, mkosi
// ExtraTrees): every file, unit and drop-in with its mode, owned by uid and
// gid 0, with fixed mtimes and in sorted order, so the same inputs give the
// same bytes. Directories are not entries, but for the token's (0700): the
// extractor creates missing parents (root, 0755) and leaves the image's own
// directories as they are.
//
// Enablement takes effect on the image's first boot as the Ignition output's
// does, by two means:
//   - PresetPath says `enable` for every unit the plan enables. systemd
//     applies presets on a machine's first boot (no /etc/machine-id yet),
//     which is how Ignition's units are enabled too, and the only way for a
//     unit the OS ships (docker.service, containerd.service) whose [Install]
//     section kubebake does not know.
//   - For each enabled unit kubebake writes, the links `systemctl enable`
//     makes from its [Install] section (WantedBy=, RequiredBy=), so those
//     units are enabled even in an image whose machine-id is already set.
//
// c decompresses the agent once per fleet.
func Tar(p *plan.Plan, c *cache.Cache) ([]byte, error) {
	entries, err := tarEntries(p, c)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{
			Name:    strings.TrimPrefix(e.path, "/"),
			Mode:    int64(e.mode.Perm()),
			ModTime: tarEpoch,
			Format:  tar.FormatUSTAR,
		}
		if e.target != "" {
			h.Typeflag, h.Linkname, h.Mode = tar.TypeSymlink, e.target, 0o777
		} else if e.dir {
			h.Typeflag, h.Name = tar.TypeDir, h.Name+"/"
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(e.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("tar: %s: %v", e.path, err)
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// tarEntries lists the tar's entries in path order.
func tarEntries(p *plan.Plan, c *cache.Cache) ([]tarEntry, error) {
	// The image's first boot fetches a stock image's downloads: kubebake-join
	// does, and checks their hashes, before the join.
	p, err := p.ByAgent()
	if err != nil {
		return nil, err
	}
	var out []tarEntry
	// The token's directory is an entry, 0700, as Ignition and cloud-init
	// make it before they write the token; other directories are the
	// extractor's (root, 0755) or the image's own.
	for _, d := range p.PrivateDirs() {
		out = append(out, tarEntry{path: d, mode: 0o700, dir: true})
	}
	for _, f := range p.Files {
		data, err := f.Bytes(c)
		if err != nil {
			return nil, err
		}
		out = append(out, tarEntry{path: f.Path, mode: f.Mode.Perm(), data: data})
	}
	var preset strings.Builder
	for _, u := range p.Units {
		unitPath := path.Join(plan.UnitDir, u.Name)
		if u.Contents != "" {
			out = append(out, tarEntry{path: unitPath, mode: 0o644, data: []byte(u.Contents)})
		}
		for _, d := range u.Dropins {
			out = append(out, tarEntry{path: path.Join(plan.UnitDir, u.Name+".d", d.Name), mode: 0o644, data: []byte(d.Contents)})
		}
		if !u.Enabled {
			continue
		}
		fmt.Fprintf(&preset, "enable %s\n", u.Name)
		if u.Contents == "" {
			continue // the OS ships it: the preset enables it
		}
		targets, err := installTargets(u)
		if err != nil {
			return nil, err
		}
		for _, t := range targets {
			out = append(out, tarEntry{path: path.Join(plan.UnitDir, t, u.Name), target: unitPath})
		}
	}
	if preset.Len() > 0 {
		out = append(out, tarEntry{path: PresetPath, mode: 0o644,
			data: []byte("# Rendered by kubebake: the units it enables, applied on the image's first boot.\n" + preset.String())})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	for i := 1; i < len(out); i++ {
		if out[i].path == out[i-1].path {
			return nil, fmt.Errorf("internal error: the tar would hold %s twice", out[i].path)
		}
	}
	return out, nil
}

// installTargets returns the ".wants" and ".requires" directories
// `systemctl enable` links u into, from its [Install] section. A key this
// does not implement is an error (a kubebake bug: the units are ours).
func installTargets(u plan.Unit) ([]string, error) {
	var out []string
	section := ""
	sc := bufio.NewScanner(strings.NewReader(u.Contents))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if strings.HasPrefix(line, "[") {
			section = line
			continue
		}
		if section != "[Install]" {
			continue
		}
		key, val, _ := strings.Cut(line, "=")
		var suffix string
		switch strings.TrimSpace(key) {
		case "WantedBy":
			suffix = ".wants"
		case "RequiredBy":
			suffix = ".requires"
		default:
			return nil, fmt.Errorf("internal error: %s: [Install] key %q is not one the tar output implements", u.Name, key)
		}
		for _, t := range strings.Fields(val) {
			out = append(out, t+suffix)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("internal error: %s is enabled but has no WantedBy= or RequiredBy=", u.Name)
	}
	return out, nil
}
