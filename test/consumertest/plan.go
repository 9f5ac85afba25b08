package consumertest

import (
	"encoding/json"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Plan is `kubebake render --format plan`: every file the node gets (units
// and drop-ins included) with its mode and the SHA-256 of its uncompressed
// contents, the units enabled, and the order a late applier starts units in.
type Plan struct {
	// Part is the --part the plan shows; ConfigHash leaves the token out.
	Part       string     `json:"part"`
	ConfigHash string     `json:"configHash"`
	Files      []PlanFile `json:"files"`
	Enabled    []string   `json:"enabled"`
	Start      []string   `json:"start"`
	// StartNoWait: started after Start without waiting (kubebake-join).
	StartNoWait []string `json:"startNoWait,omitempty"`
	// Merge is the user's --merge config, by digest.
	Merge *struct {
		SHA256 string `json:"sha256"`
		Size   int64  `json:"size"`
	} `json:"merge,omitempty"`
	// Remote lists what the node downloads and verifies at boot (a stock
	// image's kubelet, a system extension).
	Remote []struct {
		Path string `json:"path"`
		Mode string `json:"mode"`
		URL  string `json:"url"`
		Hash string `json:"hash"`
		Link string `json:"link,omitempty"`
	} `json:"remote,omitempty"`
}

// PlanFile is one file of a Plan.
type PlanFile struct {
	Path string `json:"path"`
	Mode string `json:"mode"` // octal, "0644"
	// SHA256 is empty for a Secret file: the plan withholds a digest of
	// the token.
	SHA256 string `json:"sha256,omitempty"`
	Size   int64  `json:"size"`
	Secret bool   `json:"secret,omitempty"`
}

// ParsePlan decodes a plan, refusing unknown fields and malformed entries.
func ParsePlan(data []byte) (*Plan, error) {
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	var p Plan
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	seen := map[string]bool{}
	for _, f := range p.Files {
		if !path.IsAbs(f.Path) || path.Clean(f.Path) != f.Path {
			return nil, fmt.Errorf("plan: file path %q is not a clean absolute path", f.Path)
		}
		if seen[f.Path] {
			return nil, fmt.Errorf("plan: %s listed twice", f.Path)
		}
		seen[f.Path] = true
		if _, err := f.Perm(); err != nil {
			return nil, err
		}
		if f.Secret && f.SHA256 != "" {
			return nil, fmt.Errorf("plan: %s holds the token and shows its digest", f.Path)
		}
		if !f.Secret && len(f.SHA256) != 64 {
			return nil, fmt.Errorf("plan: %s: sha256 %q is not 64 hex digits", f.Path, f.SHA256)
		}
	}
	return &p, nil
}

// Perm is the file's mode as a number.
func (f PlanFile) Perm() (uint32, error) {
	m, err := strconv.ParseUint(f.Mode, 8, 32)
	if err != nil || m > 0o7777 {
		return 0, fmt.Errorf("plan: %s: mode %q is not octal permission bits", f.Path, f.Mode)
	}
	return uint32(m), nil
}

// Tree is what the plan says the machine holds: each file, owned by root,
// with its mode and digest (none for a file holding the token: see
// Entry.Matches).
func (p *Plan) Tree() Tree {
	t := Tree{}
	for _, f := range p.Files {
		perm, _ := f.Perm()
		t[f.Path] = Entry{Type: "file", Mode: modeOf(perm), UID: 0, GID: 0, Size: f.Size, SHA256: f.SHA256}
	}
	return t
}

// Dirs returns the directories holding the plan's files, sorted.
func (p *Plan) Dirs() []string {
	set := map[string]bool{}
	for _, f := range p.Files {
		set[path.Dir(f.Path)] = true
	}
	out := make([]string, 0, len(set))
	for d := range set {
		out = append(out, d)
	}
	sort.Strings(out)
	return out
}

// Units returns the units the plan writes a unit file or drop-in for, sorted.
func (p *Plan) Units() []string {
	set := map[string]bool{}
	for _, f := range p.Files {
		dir, base := path.Split(f.Path)
		dir = strings.TrimSuffix(dir, "/")
		switch {
		case dir == UnitDir:
			set[base] = true
		case path.Dir(dir) == UnitDir && strings.HasSuffix(dir, ".d"):
			set[strings.TrimSuffix(path.Base(dir), ".d")] = true
		}
	}
	out := make([]string, 0, len(set))
	for u := range set {
		out = append(out, u)
	}
	sort.Strings(out)
	return out
}

// HasFile reports whether the plan writes path.
func (p *Plan) HasFile(file string) bool {
	for _, f := range p.Files {
		if f.Path == file {
			return true
		}
	}
	return false
}

// ImageUnits returns the units the plan enables or adds drop-ins to without
// writing the unit itself: the image must ship them.
func (p *Plan) ImageUnits() []string {
	set := map[string]bool{}
	for _, u := range append(p.Units(), p.Enabled...) {
		if !p.HasFile(path.Join(UnitDir, u)) {
			set[u] = true
		}
	}
	out := make([]string, 0, len(set))
	for u := range set {
		out = append(out, u)
	}
	sort.Strings(out)
	return out
}
