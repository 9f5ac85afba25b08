package plan

import (
	"path"
	"strings"

	"github.com/kubebake/kubebake/internal/joinconfig"
)

// Owned is what the plan writes and owns, to refuse a user config (--merge)
// that would overwrite it or stand in its way.
type Owned struct {
	// Paths maps each path kubebake writes, or the agent or the kubelet
	// writes at boot, to what it is, for messages.
	Paths map[string]string
	// Dirs are the directories kubebake, the agent or the kubelet own
	// whole: nothing of the user's belongs in them.
	Dirs map[string]string
	// parents maps each directory on the way to one of Paths or Dirs to
	// that path: a user's file there would stand where a directory must.
	parents map[string]string
	// Units are the units kubebake writes the unit file of (a user's would
	// replace it), Enabled those it enables (a user's enabled: false or
	// mask would undo it).
	Units, Enabled map[string]bool
}

// Owned lists what p writes and owns; for a part of a plan, what the
// whole plan does: the user's config lands on the same node as every part.
func (p *Plan) Owned() Owned {
	if p.whole != nil {
		return p.whole.Owned()
	}
	o := Owned{Paths: map[string]string{}, Dirs: map[string]string{}, parents: map[string]string{}, Units: map[string]bool{}, Enabled: map[string]bool{}}
	paths := joinconfig.DefaultPaths()
	o.Paths[paths.BootstrapKubeconfig] = "the bootstrap kubeconfig kubebake-join writes at boot"
	o.Paths[paths.KubeletKubeconfig] = "the kubeconfig the kubelet writes once it has joined"
	// Named by the kubelet's drop-in whether or not this node has flags: a
	// user's file there would become the kubelet's command line.
	o.Paths[KubeletFlagsPath] = "the kubelet's per-node flags file, which kubebake's kubelet drop-in reads"
	o.Dirs[path.Dir(joinconfig.DefaultPath)] = "kubebake's own directory"
	o.Dirs["/var/lib/kubelet/pki"] = "the directory the kubelet keeps its certificates in"
	for _, f := range p.Files {
		o.Paths[f.Path] = "a file kubebake writes"
		if f.Secret {
			o.Paths[f.Path] = "the file kubebake writes the bootstrap token to"
		}
	}
	for _, u := range p.Units {
		if u.Contents != "" {
			o.Paths[path.Join(UnitDir, u.Name)] = "kubebake's unit " + u.Name
			o.Units[u.Name] = true
		}
		for _, d := range u.Dropins {
			o.Paths[path.Join(UnitDir, u.Name+".d", d.Name)] = "kubebake's drop-in for " + u.Name
		}
		if u.Enabled {
			o.Enabled[u.Name] = true
		}
	}
	for _, m := range []map[string]string{o.Paths, o.Dirs} {
		for p := range m {
			for d := path.Dir(p); d != "/"; d = path.Dir(d) {
				if _, ok := o.parents[d]; !ok || p < o.parents[d] {
					o.parents[d] = p
				}
			}
		}
	}
	return o
}

// Conflict says what of ours a user's entry at p collides with ("" when
// nothing): a path of ours, a path inside a directory of ours, or, for an
// entry that is not a directory (dir false), a path where a directory of
// ours must be.
func (o Owned) Conflict(p string, dir bool) string {
	p = path.Clean(p)
	if what, ok := o.Paths[p]; ok {
		return what
	}
	for d, what := range o.Dirs {
		if strings.HasPrefix(p, d+"/") || p == d && !dir {
			return what + " (" + d + ")"
		}
	}
	if ours, ok := o.parents[p]; ok && !dir {
		return "the directory that holds " + ours
	}
	return ""
}
