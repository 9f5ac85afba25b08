package inspect

import (
	"bytes"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path"
	"strconv"
	"strings"

	butane "github.com/coreos/butane/config"
	"github.com/coreos/butane/config/common"
	ignition "github.com/coreos/ignition/v2/config"
	"github.com/coreos/ignition/v2/config/merge"
	"github.com/coreos/ignition/v2/config/v3_7_experimental/types"
	"github.com/vincent-petithory/dataurl"
	"sigs.k8s.io/yaml"
)

// readButane translates a Butane config with the Butane library and reads
// the Ignition config it makes.
func readButane(data []byte) (*Node, error) {
	var head struct {
		Variant string `json:"variant"`
		Version string `json:"version"`
	}
	if err := yaml.Unmarshal(data, &head); err != nil || head.Variant == "" {
		return nil, fmt.Errorf("not an output of kubebake: neither Ignition (JSON), Butane (YAML with a variant), #cloud-config, MIME multipart, gzip nor tar")
	}
	st := &stash{}
	ign, rpt, err := butane.TranslateBytes(st.hide(data), common.TranslateBytesOptions{})
	if err != nil {
		return nil, fmt.Errorf("butane: %v\n%s", err, rpt.String())
	}
	if rpt.IsFatal() {
		return nil, fmt.Errorf("butane:\n%s", rpt.String())
	}
	n, err := readIgnitionWith(ign, st)
	if err != nil {
		return nil, err
	}
	n.Format = fmt.Sprintf("butane %s %s (%s)", head.Variant, head.Version, n.Format)
	return n, nil
}

// readIgnition parses an Ignition config of any version, merges the child
// configs it carries inline (data: URLs) as Ignition would, and reads the
// result.
func readIgnition(data []byte) (*Node, error) {
	return readIgnitionWith(data, &stash{})
}

// readIgnitionWith reads an Ignition config whose large data URLs st holds
// (or hides now).
func readIgnitionWith(data []byte, st *stash) (*Node, error) {
	cfg, rpt, err := ignition.Parse(st.hide(data))
	if err != nil {
		return nil, fmt.Errorf("ignition: %v\n%s", err, rpt.String())
	}
	var head struct {
		Ignition struct {
			Version string `json:"version"`
		} `json:"ignition"`
	}
	_ = json.Unmarshal(data, &head)
	n := newNode("ignition " + head.Ignition.Version)
	if cfg, err = mergeInline(n, cfg, 0, st); err != nil {
		return nil, err
	}
	if err := ignitionFiles(n, cfg, st); err != nil {
		return nil, err
	}
	ignitionLinks(n, cfg)
	ignitionUnits(n, cfg)
	ignitionRest(n, cfg)
	return n, nil
}

// ignitionFiles adds the config's storage.files, their contents read from
// their data URLs (or st), to n.
func ignitionFiles(n *Node, cfg types.Config, st *stash) error {
	for _, f := range cfg.Storage.Files {
		mode := uint32(0o644)
		if f.Mode != nil {
			mode = uint32(*f.Mode)
		}
		e := Entry{Mode: mode}
		res := append([]types.Resource{f.Contents}, f.Append...)
		for _, r := range res {
			if r.Source == nil {
				continue
			}
			body, src, err := st.resource(r)
			if err != nil {
				return fmt.Errorf("ignition storage.files %s: %v", f.Path, err)
			}
			e.Data = append(e.Data, body...)
			if src != "" {
				e.Source = src
				if r.Verification.Hash != nil {
					e.Hash = *r.Verification.Hash
				}
			}
		}
		owner(n, f.Path, f.User, f.Group)
		n.Entries[path.Clean(f.Path)] = e
	}
	return nil
}

// ignitionLinks adds the config's links and directories to n.
func ignitionLinks(n *Node, cfg types.Config) {
	for _, l := range cfg.Storage.Links {
		target := ""
		if l.Target != nil {
			target = *l.Target
		}
		if l.Hard != nil && *l.Hard {
			n.Extra = append(n.Extra, fmt.Sprintf("hard link %s -> %s", l.Path, target))
			continue
		}
		n.Entries[path.Clean(l.Path)] = Entry{Target: target}
	}
	for _, d := range cfg.Storage.Directories {
		mode := "0755"
		if d.Mode != nil {
			mode = fmt.Sprintf("%04o", *d.Mode)
		}
		n.Extra = append(n.Extra, fmt.Sprintf("directory %s %s", d.Path, mode))
	}
}

// ignitionUnits adds the config's units and drop-ins, and which are enabled
// or masked, to n.
func ignitionUnits(n *Node, cfg types.Config) {
	enabled, masked := map[string]bool{}, map[string]bool{}
	for _, u := range cfg.Systemd.Units {
		if u.Contents != nil {
			n.Entries[path.Join(UnitDir, u.Name)] = Entry{Mode: 0o644, Data: []byte(*u.Contents)}
		}
		for _, d := range u.Dropins {
			if d.Contents != nil {
				n.Entries[path.Join(UnitDir, u.Name+".d", d.Name)] = Entry{Mode: 0o644, Data: []byte(*d.Contents)}
			}
		}
		if u.Enabled != nil && *u.Enabled {
			enabled[u.Name] = true
		}
		if u.Mask != nil && *u.Mask {
			masked[u.Name] = true
		}
	}
	n.Enabled, n.Masked = sortedSet(enabled), sortedSet(masked)
}

// ignitionRest adds everything else (users, SSH keys, kernel arguments,
// disks) to n, as YAML.
func ignitionRest(n *Node, cfg types.Config) {
	rest := cfg
	rest.Ignition = types.Ignition{}
	rest.Storage.Files, rest.Storage.Links, rest.Storage.Directories = nil, nil, nil
	rest.Systemd = types.Systemd{}
	if out, err := json.Marshal(rest); err == nil {
		var m map[string]any
		_ = json.Unmarshal(out, &m)
		delete(m, "ignition")
		for _, k := range sortedKeys(m) {
			if y, err := yaml.Marshal(map[string]any{k: m[k]}); err == nil && !isEmptyJSON(m[k]) {
				n.Extra = append(n.Extra, strings.TrimRight(string(y), "\n"))
			}
		}
	}
}

// mergeInline merges the config's inline children (ignition.config.merge
// with data: URLs) into it, parent first, as Ignition does at boot.
func mergeInline(n *Node, cfg types.Config, depth int, st *stash) (types.Config, error) {
	if depth > 4 {
		return cfg, fmt.Errorf("ignition: config.merge nests deeper than 4")
	}
	children := cfg.Ignition.Config.Merge
	if cfg.Ignition.Config.Replace.Source != nil {
		n.Extra = append(n.Extra, "ignition.config.replace: "+*cfg.Ignition.Config.Replace.Source)
	}
	cfg.Ignition.Config.Merge = nil
	for i, r := range children {
		body, src, err := st.resource(r)
		if err != nil {
			return cfg, fmt.Errorf("ignition.config.merge[%d]: %v", i, err)
		}
		if src != "" {
			n.Extra = append(n.Extra, "ignition.config.merge (not fetched): "+src)
			continue
		}
		child, rpt, err := ignition.Parse(st.hide(body))
		if err != nil {
			return cfg, fmt.Errorf("ignition.config.merge[%d]: %v\n%s", i, err, rpt.String())
		}
		if child, err = mergeInline(n, child, depth+1, st); err != nil {
			return cfg, err
		}
		merged, _ := merge.MergeStructTranscribe(cfg, child)
		cfg = merged.(types.Config)
		n.Format += fmt.Sprintf(" + inline child config %d", i+1)
	}
	return cfg, nil
}

// resource returns a resource's bytes (decompressed and checked against its
// verification hash) when it is a data: URL; else its source, not fetched.
func (st *stash) resource(r types.Resource) ([]byte, string, error) {
	src := st.reveal(*r.Source)
	if !strings.HasPrefix(src, "data:") {
		return nil, src, nil
	}
	du, err := dataurl.DecodeString(src)
	if err != nil {
		return nil, "", fmt.Errorf("data URL: %v", err)
	}
	body := du.Data
	if r.Compression != nil && *r.Compression == "gzip" {
		if body, err = gunzip(body); err != nil {
			return nil, "", fmt.Errorf("gzip: %v", err)
		}
	}
	if r.Verification.Hash != nil {
		algo, want, _ := strings.Cut(*r.Verification.Hash, "-")
		if algo == "sha512" {
			sum := sha512.Sum512(body)
			if hex.EncodeToString(sum[:]) != want {
				return nil, "", fmt.Errorf("contents do not match verification.hash")
			}
		}
	}
	return body, "", nil
}

func owner(n *Node, p string, u types.NodeUser, g types.NodeGroup) {
	var who []string
	if u.ID != nil && *u.ID != 0 {
		who = append(who, fmt.Sprintf("user id %d", *u.ID))
	}
	if u.Name != nil && *u.Name != "root" {
		who = append(who, "user "+*u.Name)
	}
	if g.ID != nil && *g.ID != 0 {
		who = append(who, fmt.Sprintf("group id %d", *g.ID))
	}
	if g.Name != nil && *g.Name != "root" {
		who = append(who, "group "+*g.Name)
	}
	if len(who) > 0 {
		n.Extra = append(n.Extra, fmt.Sprintf("%s is owned by %s", p, strings.Join(who, ", ")))
	}
}

func isEmptyJSON(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case map[string]any:
		for _, e := range x {
			if !isEmptyJSON(e) {
				return false
			}
		}
		return true
	case []any:
		return len(x) == 0
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	set := map[string]bool{}
	for k := range m {
		set[k] = true
	}
	return sortedSet(set)
}

// stash keeps large data URLs (an embedded agent: megabytes of base64) out
// of the Butane and Ignition parsers, which scan a string byte by byte and
// take seconds over one: each is replaced by a short placeholder URL, and
// resource reads the original back.
type stash struct{ vals []string }

// minStashed is the length from which a data URL is hidden.
const minStashed = 1024

// urlChars are the characters of a base64 data URL and its header: no
// quote, no escape, no space.
const urlChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789;,+/=%:._-"

const stashPrefix = "data:,kubebake-inspect-stashed-"

// hide replaces each whole data URL of minStashed or more characters in
// data with a placeholder (a plain scan: a regular expression over
// megabytes is itself slow).
func (st *stash) hide(data []byte) []byte {
	var out []byte
	last, from := 0, 0
	for {
		i := bytes.Index(data[from:], []byte("data:"))
		if i < 0 {
			break
		}
		start := from + i
		end := start + len("data:")
		for end < len(data) && strings.IndexByte(urlChars, data[end]) >= 0 {
			end++
		}
		from = end
		// Only a whole value: what follows must end the string.
		if end-start < minStashed || (end < len(data) && strings.IndexByte("\"' \t\r\n,}]", data[end]) < 0) {
			continue
		}
		out = append(out, data[last:start]...)
		out = append(out, fmt.Sprintf("%s%d", stashPrefix, len(st.vals))...)
		st.vals = append(st.vals, string(data[start:end]))
		last = end
	}
	if out == nil {
		return data
	}
	return append(out, data[last:]...)
}

func (st *stash) reveal(src string) string {
	if i, err := strconv.Atoi(strings.TrimPrefix(src, stashPrefix)); err == nil && strings.HasPrefix(src, stashPrefix) && i < len(st.vals) {
		return st.vals[i]
	}
	return src
}
