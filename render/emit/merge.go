package emit

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"strings"

	butane "github.com/coreos/butane/config"
	"github.com/coreos/butane/config/common"
	"github.com/coreos/ignition/v2/config/merge"
	"github.com/coreos/ignition/v2/config/shared/errors"
	v34 "github.com/coreos/ignition/v2/config/v3_4"
	v35 "github.com/coreos/ignition/v2/config/v3_5"
	"github.com/coreos/vcontext/report"
	"github.com/kubebake/kubebake/internal/inputs"
	"github.com/kubebake/kubebake/internal/userdata"
	"github.com/kubebake/kubebake/render/plan"
	"github.com/kubebake/kubebake/render/spec"
	"sigs.k8s.io/yaml"
)

// conflict is the error for a user entry that collides with one of ours.
func conflict(u *spec.UserConfig, entry, ourPart string) error {
	return inputs.Errorf("--merge", "%s: %s collides with %s; remove it from %s (kubebake must own it for the node to join)", u.Name, entry, ourPart, u.Name)
}

// --- Ignition and Butane ---------------------------------------------------

// ignitionOf returns the user's config as Ignition JSON: a Butane config is
// translated with the Butane library, as the butane command would.
func ignitionOf(u *spec.UserConfig) ([]byte, error) {
	data := bytes.TrimSpace(u.Data)
	if bytes.HasPrefix(data, []byte("{")) {
		return data, nil
	}
	ign, rpt, err := butane.TranslateBytes(u.Data, common.TranslateBytesOptions{})
	if err != nil {
		return nil, inputs.Errorf("--merge", "%s is neither Ignition (JSON) nor valid Butane: %v", u.Name, err)
	}
	if rpt.IsFatal() {
		return nil, inputs.Errorf("--merge", "%s: Butane refuses it: %s", u.Name, oneLine(rpt.String()))
	}
	return ign, nil
}

// ignitionChild is the subset of an Ignition config (any 3.x version) that
// the conflict check reads.
type ignitionChild struct {
	Ignition struct {
		Config struct {
			Replace *struct {
				Source *string `json:"source"`
			} `json:"replace"`
		} `json:"config"`
	} `json:"ignition"`
	Storage struct {
		Files       []struct{ Path string } `json:"files"`
		Links       []struct{ Path string } `json:"links"`
		Directories []struct{ Path string } `json:"directories"`
	} `json:"storage"`
	Systemd struct {
		Units []struct {
			Name     string  `json:"name"`
			Contents *string `json:"contents"`
			Enabled  *bool   `json:"enabled"`
			Mask     *bool   `json:"mask"`
			Dropins  []struct {
				Name string `json:"name"`
			} `json:"dropins"`
		} `json:"units"`
	} `json:"systemd"`
}

// checkIgnition refuses a user Ignition config that writes a path we write
// or replaces, disables or masks a unit we own or enable.
func checkIgnition(u *spec.UserConfig, ign []byte, o plan.Owned) error {
	var c ignitionChild
	if err := json.Unmarshal(ign, &c); err != nil {
		return inputs.Errorf("--merge", "%s: not an Ignition config: %v", u.Name, err)
	}
	if r := c.Ignition.Config.Replace; r != nil && r.Source != nil && *r.Source != "" {
		return inputs.Errorf("--merge", "%s: ignition.config.replace (%s) makes Ignition fetch that config at boot instead of this one, dropping everything kubebake writes: to keep a pointer config, name it in ignition.config.merge (Ignition merges it into this config)", u.Name, *r.Source)
	}
	check := func(kind, p string) error {
		if what := o.Conflict(p, kind == "directories"); what != "" {
			return conflict(u, fmt.Sprintf("storage.%s path %s", kind, p), what)
		}
		return nil
	}
	for _, f := range c.Storage.Files {
		if err := check("files", f.Path); err != nil {
			return err
		}
	}
	for _, l := range c.Storage.Links {
		if err := check("links", l.Path); err != nil {
			return err
		}
	}
	for _, d := range c.Storage.Directories {
		if err := check("directories", d.Path); err != nil {
			return err
		}
	}
	for _, un := range c.Systemd.Units {
		entry := "systemd.units " + un.Name
		switch {
		case un.Contents != nil && o.Units[un.Name]:
			return conflict(u, entry+" (contents)", "kubebake's unit "+un.Name)
		case un.Mask != nil && *un.Mask && (o.Units[un.Name] || o.Enabled[un.Name]):
			return conflict(u, entry+" (mask: true)", "kubebake's unit "+un.Name)
		case un.Enabled != nil && !*un.Enabled && o.Enabled[un.Name]:
			return conflict(u, entry+" (enabled: false)", "kubebake enabling "+un.Name)
		}
		for _, d := range un.Dropins {
			if what, ok := o.Paths[path.Join(plan.UnitDir, un.Name+".d", d.Name)]; ok {
				return conflict(u, entry+" drop-in "+d.Name, what)
			}
		}
	}
	return nil
}

// mergeIgnition merges the user's config (child) into ours (parent) with
// Ignition's own merge, at the spec version of variant v, and validates the
// result with Ignition's parser.
func mergeIgnition(parent, child []byte, v spec.Variant, name string) ([]byte, error) {
	if v == spec.VariantFlatcar {
		return mergeAt(parent, child, v34.ParseCompatibleVersion, "3.4.0", name)
	}
	return mergeAt(parent, child, v35.ParseCompatibleVersion, "3.5.0", name)
}

// childAt returns the user's config translated to the spec version of
// variant v, as Ignition would before merging it: what Butane output
// carries inline (Butane validates an inline child of its own version only).
func childAt(child []byte, v spec.Variant, name string) ([]byte, error) {
	if v == spec.VariantFlatcar {
		return childAtVersion(child, v34.ParseCompatibleVersion, "3.4.0", name)
	}
	return childAtVersion(child, v35.ParseCompatibleVersion, "3.5.0", name)
}

func childAtVersion[C any](child []byte, parse func([]byte) (C, report.Report, error), version, name string) ([]byte, error) {
	cc, err := parseChild(child, parse, version, name)
	if err != nil {
		return nil, err
	}
	return json.Marshal(cc)
}

func parseChild[C any](child []byte, parse func([]byte) (C, report.Report, error), version, name string) (C, error) {
	cc, rpt, err := parse(child)
	if err == errors.ErrUnknownVersion || err == errors.ErrInvalidVersion {
		return cc, inputs.Errorf("--merge", "%s: its Ignition version is not one Ignition %s can merge (write it for spec %s or lower, or in a Butane version that translates to it)", name, version, version)
	}
	if err != nil || rpt.IsFatal() {
		return cc, inputs.Errorf("--merge", "%s: Ignition refuses it: %v %s", name, err, oneLine(rpt.String()))
	}
	return cc, nil
}

func mergeAt[C any](parent, child []byte, parse func([]byte) (C, report.Report, error), version, name string) ([]byte, error) {
	pc, rpt, err := parse(parent)
	if err != nil || len(rpt.Entries) > 0 {
		return nil, fmt.Errorf("internal error: our own Ignition does not parse: %v %s", err, rpt.String())
	}
	cc, err := parseChild(child, parse, version, name)
	if err != nil {
		return nil, err
	}
	merged, _ := merge.MergeStructTranscribe(pc, cc)
	out, err := json.Marshal(merged)
	if err != nil {
		return nil, err
	}
	if _, rpt, err := parse(out); err != nil || rpt.IsFatal() {
		return nil, inputs.Errorf("--merge", "the config merged from %s is not valid Ignition: %v %s", name, err, oneLine(rpt.String()))
	}
	return out, nil
}

// childIgnition is the user's config as Ignition JSON, checked against
// ours.
func childIgnition(p *plan.Plan) ([]byte, error) {
	u := p.User
	ign, err := ignitionOf(u)
	if err != nil {
		return nil, err
	}
	if err := checkIgnition(u, ign, p.Owned()); err != nil {
		return nil, err
	}
	return ign, nil
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// --- cloud-init ------------------------------------------------------------

// cloudInitMergeType makes our part's lists append to the user's (their
// write_files and runcmd first, ours after) and keeps their other keys:
// cloud-init's default would let one part's write_files replace the
// other's.
const cloudInitMergeType = "list(append)+dict(no_replace,recurse_list)+str()"

// userParts splits the user's cloud-init user-data into MIME parts: a
// #cloud-config, a script, a boothook or an include file is one part; a MIME
// multipart gives its parts; gzip is undone first.
func userParts(u *spec.UserConfig) ([]userdata.Part, error) {
	data := u.Data
	if len(data) > 2 && data[0] == 0x1f && data[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, inputs.Errorf("--merge", "%s: gzip: %v", u.Name, err)
		}
		if data, err = io.ReadAll(io.LimitReader(zr, 64<<20)); err != nil {
			return nil, inputs.Errorf("--merge", "%s: gzip: %v", u.Name, err)
		}
	}
	base := path.Base(u.Name)
	for _, k := range []struct{ prefix, ct string }{
		{"#cloud-config", "text/cloud-config"},
		{"#!", "text/x-shellscript"},
		{"#cloud-boothook", "text/cloud-boothook"},
		{"#include", "text/x-include-url"},
	} {
		if bytes.HasPrefix(data, []byte(k.prefix)) {
			return []userdata.Part{{ContentType: k.ct, Filename: base, Body: data}}, nil
		}
	}
	if userdata.IsMIME(data) {
		parts, err := userdata.Parse(data)
		if err != nil {
			return nil, inputs.Errorf("--merge", "%s: %v", u.Name, err)
		}
		return parts, nil
	}
	return nil, inputs.Errorf("--merge", "%s is not cloud-init user-data kubebake can merge: want #cloud-config, a #! script, #cloud-boothook, #include or MIME multipart", u.Name)
}

// checkCloudInit refuses user parts whose write_files write a path we
// write; it also checks that each cloud-config part is a YAML mapping.
func checkCloudInit(u *spec.UserConfig, parts []userdata.Part, o plan.Owned) error {
	for _, part := range parts {
		if part.ContentType != "text/cloud-config" {
			continue
		}
		var doc struct {
			WriteFiles []struct {
				Path string `json:"path"`
			} `json:"write_files"`
		}
		if err := yaml.Unmarshal(part.Body, &doc); err != nil {
			return inputs.Errorf("--merge", "%s: %s is not a cloud-config mapping: %v", u.Name, part.Filename, err)
		}
		for _, f := range doc.WriteFiles {
			if what := o.Conflict(f.Path, false); what != "" {
				return conflict(u, "write_files path "+f.Path, what)
			}
		}
	}
	return nil
}

// mergeCloudInit returns a MIME multipart user-data holding the user's parts
// and then ours (a #cloud-config, which cloud-init merges with
// cloudInitMergeType, and the boothook installing large files, if any).
func mergeCloudInit(p *plan.Plan, ours []userdata.Part) ([]byte, error) {
	u := p.User
	parts, err := userParts(u)
	if err != nil {
		return nil, err
	}
	if err := checkCloudInit(u, parts, p.Owned()); err != nil {
		return nil, err
	}
	return userdata.Write(append(parts, ours...))
}
