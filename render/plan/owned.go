package plan

import "path"

// Owned is what the plan writes and owns, to refuse a user config (--merge)
// that would overwrite it.
type Owned struct {
	// Paths maps each path kubebake writes to what it is, for messages.
	Paths map[string]string
	// Units are the units kubebake writes the unit file of (a user's would
	// replace it), Enabled those it enables (a user's enabled: false or
	// mask would undo it).
	Units, Enabled map[string]bool
}

// Owned lists what p writes and owns.
func (p *Plan) Owned() Owned {
	o := Owned{Paths: map[string]string{}, Units: map[string]bool{}, Enabled: map[string]bool{}}
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
	return o
}
