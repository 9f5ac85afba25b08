package plan

import (
	"fmt"
	"io/fs"
	"strings"

	"github.com/kubebake/kubebake/internal/fetch"
	"github.com/kubebake/kubebake/render/spec"
	"sigs.k8s.io/yaml"
)

// Remote is a file the node downloads at boot and may use only once its
// hash matched: a stock image's kubelet, cri-dockerd, a system extension.
// An applier that verifies downloads itself (Ignition: a remote file with
// verification.hash) lays it down; for any other the emitter calls ByAgent,
// and kubebake-join fetches it before the join.
type Remote struct {
	Path string
	Mode fs.FileMode
	URL  string
	// Hash is sha512-HEX or sha256-HEX.
	Hash string
	// Link, if set, is a symbolic link to Path (/etc/extensions/NAME.raw).
	Link string
	// Sysext says Path is a system extension image, merged by systemd-sysext.
	Sysext bool
}

const (
	sysextUnit = "systemd-sysext.service"
	// fetchDropin is kubebake-join.service's drop-in that fetches first.
	fetchDropin = "50-kubebake-fetch.conf"
	// kubeadmDropin is the drop-in kubeadm's packages and the sysext
	// bakery's Kubernetes extension ship in /usr/lib, with their own
	// ExecStart=; one of the same name in /etc masks it.
	kubeadmDropin = "10-kubeadm.conf"
)

// stockPlan adds what a stock image needs: the downloads, the kubelet of
// --kubelet-file, and for system extensions their merge at every boot and
// the mask of the extension's kubelet drop-in.
func stockPlan(s *spec.Spec, p *Plan) {
	sysext := false
	for _, d := range s.Downloads {
		p.Remotes = append(p.Remotes, Remote{Path: d.Path, Mode: d.Mode, URL: d.URL, Hash: d.Hash, Link: d.Link, Sysext: d.Sysext != ""})
		sysext = sysext || d.Sysext != ""
	}
	if s.KubeletFile != nil {
		p.add(File{Path: s.KubeletPath, Mode: 0o755, Contents: s.KubeletFile})
	}
	if !sysext {
		return
	}
	// systemd-sysext.service merges /etc/extensions at every boot (Flatcar
	// enables it; Debian and Fedora do not).
	// systemd before 255 does not reload after the merge (Flatcar's
	// ensure-sysext.service does it there): without a reload the
	// extension's units and drop-ins, and our mask of its drop-in, are
	// not what the boot runs.
	p.Units = append(p.Units, Unit{Name: sysextUnit, Enabled: true, Dropins: []Dropin{{Name: dropinName,
		Contents: "# Rendered by kubebake: load the merged extensions' units (systemd < 255 does\n# not reload after the merge; Flatcar's ensure-sysext.service does).\n[Service]\nExecStartPost=systemctl daemon-reload\n"}}})
	for i := range p.Units {
		if p.Units[i].Name == kubeletUnit {
			// Our kubelet.service in /etc replaces the extension's unit, but
			// not its drop-ins: an empty one of the same name masks the
			// extension's 10-kubeadm.conf (its own ExecStart= and
			// environment), and ours resets ExecStart= anyway.
			p.Units[i].Dropins = append(p.Units[i].Dropins, Dropin{Name: kubeadmDropin, Contents: "# Rendered by kubebake: masks the 10-kubeadm.conf of a system extension\n# (or a kubeadm package) under /usr/lib; kubebake's kubelet command line is\n# in " + dropinName + ".\n"})
		}
	}
}

// ByAgent returns p with what makes kubebake-join fetch p's Remotes before
// the join: /etc/kubebake/fetch.yaml and a drop-in that runs
// `kubebake-join fetch` first (ExecStartPre=), then, for system
// extensions, `systemd-sysext refresh` and a daemon-reload, so that the
// kubelet the join starts is the extension's. The join, and so the
// kubelet and the token, wait until every download verified. p itself is
// not changed; without Remotes it is returned as it is.
func (p *Plan) ByAgent() (*Plan, error) {
	if len(p.Remotes) == 0 {
		return p, nil
	}
	if p.AgentPath == "" {
		return nil, fmt.Errorf("internal error: downloads to verify and no kubebake-join to verify them (the spec refuses --join-binary none for %s)", p.Spec.Format)
	}
	cfg := fetch.Config{APIVersion: fetch.APIVersion, Kind: fetch.Kind}
	sysext := false
	for _, r := range p.Remotes {
		f := fetch.File{URL: r.URL, Hash: r.Hash, Path: r.Path, Link: r.Link}
		if r.Mode != 0o755 {
			f.Mode = fmt.Sprintf("%04o", uint32(r.Mode.Perm()))
		}
		cfg.Files = append(cfg.Files, f)
		sysext = sysext || r.Sysext
	}
	if err := cfg.Check(); err != nil {
		return nil, fmt.Errorf("internal error: the fetch configuration: %v", err)
	}
	data, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	out := *p
	out.Files = append(append([]File(nil), p.Files...), File{Path: fetch.DefaultPath, Mode: 0o644,
		Contents: append([]byte("# Rendered by kubebake: what kubebake-join fetch downloads and verifies before the join.\n"), data...)})
	var b strings.Builder
	b.WriteString("# Rendered by kubebake: a stock image's downloads, fetched and verified\n")
	b.WriteString("# (" + fetch.DefaultPath + ") before the join; nothing runs them, and the token\n")
	b.WriteString("# goes nowhere, until every hash matched. Failures are retried.\n[Service]\n")
	fmt.Fprintf(&b, "ExecStartPre=%s fetch --config %s\n", p.AgentPath, fetch.DefaultPath)
	if sysext {
		b.WriteString("ExecStartPre=systemd-sysext refresh\nExecStartPre=systemctl daemon-reload\n")
	}
	out.Units = append([]Unit(nil), p.Units...)
	found := false
	for i := range out.Units {
		if out.Units[i].Name == joinUnit {
			u := out.Units[i]
			u.Dropins = append(append([]Dropin(nil), u.Dropins...), Dropin{Name: fetchDropin, Contents: b.String()})
			out.Units[i] = u
			found = true
		}
	}
	if !found {
		// The image part of a golden image holds the join unit; the boot
		// part holds no Remotes.
		return nil, fmt.Errorf("internal error: downloads to verify and no %s to run kubebake-join fetch", joinUnit)
	}
	out.sort()
	return &out, nil
}

// ManifestRemote is one Remote of a Manifest.
type ManifestRemote struct {
	Path string `json:"path"`
	Mode string `json:"mode"`
	URL  string `json:"url"`
	Hash string `json:"hash"`
	Link string `json:"link,omitempty"`
}

func manifestRemotes(rs []Remote) []ManifestRemote {
	var out []ManifestRemote
	for _, r := range rs {
		out = append(out, ManifestRemote{Path: r.Path, Mode: fmt.Sprintf("%04o", uint32(r.Mode.Perm())), URL: r.URL, Hash: r.Hash, Link: r.Link})
	}
	return out
}
