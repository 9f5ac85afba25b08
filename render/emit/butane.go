package emit

import (
	"bytes"
	"fmt"

	"github.com/kubebake/kubebake/render/cache"
	"github.com/kubebake/kubebake/render/plan"
	"github.com/kubebake/kubebake/render/spec"
	"gopkg.in/yaml.v3"
)

var butaneEmitter = Emitter{
	FormatInfo: spec.FormatInfo{Name: "butane", Ext: ".bu", Variant: true, Merge: true, UserData: true, RemoteFiles: true},
	Emit: func(in Input) (Doc, error) {
		if in.Plan.User == nil {
			return butaneDoc(in.Plan, in.Plan.Spec.Variant, nil)
		}
		return whole(Butane(in.Plan))
	},
}

// The Butane document, typed: the subset of the fcos 1.6 / flatcar 1.1
// schema kubebake writes. The Butane library validates it when it
// translates; see Ignition.
type butaneConfig struct {
	Variant  string          `yaml:"variant"`
	Version  string          `yaml:"version"`
	Ignition *butaneIgnition `yaml:"ignition,omitempty"`
	Storage  butaneStorage   `yaml:"storage,omitempty"`
	Systemd  butaneSystemd   `yaml:"systemd,omitempty"`
}

// butaneIgnition carries the user's --merge config, inline, for Ignition
// to merge into ours at boot.
type butaneIgnition struct {
	Config struct {
		Merge []butaneResource `yaml:"merge"`
	} `yaml:"config"`
}

type butaneStorage struct {
	Directories []butaneDir  `yaml:"directories,omitempty"`
	Files       []butaneFile `yaml:"files"`
	Links       []butaneLink `yaml:"links,omitempty"`
}

// butaneDir is a directory Ignition creates with its mode before it writes
// any file (the token's directory, 0700).
type butaneDir struct {
	Path string `yaml:"path"`
	Mode octal  `yaml:"mode"`
}

type butaneLink struct {
	Path      string `yaml:"path"`
	Target    string `yaml:"target"`
	Overwrite bool   `yaml:"overwrite"`
}

type butaneFile struct {
	Path      string         `yaml:"path"`
	Mode      octal          `yaml:"mode"`
	Overwrite bool           `yaml:"overwrite"`
	Contents  butaneResource `yaml:"contents"`
}

type butaneResource struct {
	Inline       *string             `yaml:"inline,omitempty"`
	Source       *string             `yaml:"source,omitempty"`
	Compression  *string             `yaml:"compression,omitempty"`
	Verification *butaneVerification `yaml:"verification,omitempty"`
}

type butaneVerification struct {
	Hash string `yaml:"hash"`
}

type butaneSystemd struct {
	Units []butaneUnit `yaml:"units"`
}

type butaneUnit struct {
	Name     string         `yaml:"name"`
	Enabled  *bool          `yaml:"enabled,omitempty"`
	Contents *string        `yaml:"contents,omitempty"`
	Dropins  []butaneDropin `yaml:"dropins,omitempty"`
}

type butaneDropin struct {
	Name     string `yaml:"name"`
	Contents string `yaml:"contents"`
}

// octal is a file mode that YAML shows as 0644, as people write it.
type octal uint32

func (o octal) MarshalYAML() (any, error) {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: fmt.Sprintf("0%o", uint32(o))}, nil
}

// butaneVersion is the Butane spec each variant renders.
func butaneVersion(v spec.Variant) string {
	if v == spec.VariantFlatcar {
		return "1.1.0"
	}
	return "1.6.0"
}

// Butane emits the plan as a Butane config. With p.User, the user's config,
// as Ignition, is carried inline in ignition.config.merge: Ignition merges
// it into ours at boot, with the same code mergeIgnition runs, which checks
// here that the merged config is valid.
func Butane(p *plan.Plan) ([]byte, error) {
	v, user := p.Spec.Variant, p.User
	var child []byte
	if user != nil {
		var err error
		if child, err = childIgnition(p); err != nil {
			return nil, err
		}
		if child, err = childAt(child, v, user.Name); err != nil {
			return nil, err
		}
		if _, err := Ignition(p); err != nil {
			return nil, err
		}
	}
	doc, err := butaneDoc(p, v, child)
	if err != nil {
		return nil, err
	}
	return doc.Bytes()
}

// butaneDoc marshals the Butane config with placeholders for large values;
// child is a config to merge at boot, or nil.
func butaneDoc(p *plan.Plan, v spec.Variant, child []byte) (Doc, error) {
	doc, large, err := butaneConfigOf(p, v, child, false, nil)
	if err != nil {
		return Doc{}, err
	}
	bu, err := marshalButane(p, doc)
	return Doc{Data: bu, large: large}, err
}

// butaneConfigOf is the typed Butane config of the plan. With forIgnition,
// every file's contents are placeholders too: data URLs made with Butane's
// own encoder (see ignitionDoc), made once per cache c.
func butaneConfigOf(p *plan.Plan, v spec.Variant, child []byte, forIgnition bool, c *cache.Cache) (butaneConfig, *largeValues, error) {
	large := &largeValues{}
	doc := butaneConfig{Variant: string(v), Version: butaneVersion(v)}
	if child != nil {
		inline := string(child)
		doc.Ignition = &butaneIgnition{}
		doc.Ignition.Config.Merge = []butaneResource{{Inline: &inline}}
	}
	// The token's directory is made 0700 before the token is written, as
	// cloud-init's bootcmd does, so the node's tree is the same either way.
	for _, d := range p.PrivateDirs() {
		doc.Storage.Directories = append(doc.Storage.Directories, butaneDir{Path: d, Mode: 0o700})
	}
	for _, f := range p.Files {
		bf := butaneFile{Path: f.Path, Mode: octal(f.Mode.Perm()), Overwrite: true}
		if f.Gzip != nil {
			// Already compressed at build time: a data URL Butane passes
			// through as it is, so rendering never recompresses megabytes.
			src := large.add(f.Gzip, true)
			gz := "gzip"
			bf.Contents = butaneResource{Source: &src, Compression: &gz, Verification: &butaneVerification{Hash: "sha512-" + f.SHA512}}
		} else if forIgnition {
			uri, compression, err := dataURL(c, f.Contents)
			if err != nil {
				return butaneConfig{}, nil, fmt.Errorf("%s: %v", f.Path, err)
			}
			src := large.addLiteral(uri)
			bf.Contents = butaneResource{Source: &src, Compression: &compression}
		} else {
			s := string(f.Contents)
			bf.Contents = butaneResource{Inline: &s}
		}
		doc.Storage.Files = append(doc.Storage.Files, bf)
	}
	// A stock image's downloads: Ignition fetches each in the initramfs and
	// fails the boot unless its hash matched.
	for _, r := range p.Remotes {
		src := r.URL
		doc.Storage.Files = append(doc.Storage.Files, butaneFile{Path: r.Path, Mode: octal(r.Mode.Perm()), Overwrite: true,
			Contents: butaneResource{Source: &src, Verification: &butaneVerification{Hash: r.Hash}}})
		if r.Link != "" {
			doc.Storage.Links = append(doc.Storage.Links, butaneLink{Path: r.Link, Target: r.Path, Overwrite: true})
		}
	}
	for _, u := range p.Units {
		bu := butaneUnit{Name: u.Name}
		if u.Enabled {
			bu.Enabled = ptrTo(true)
		}
		if u.Contents != "" {
			bu.Contents = ptrTo(u.Contents)
		}
		for _, d := range u.Dropins {
			bu.Dropins = append(bu.Dropins, butaneDropin{Name: d.Name, Contents: d.Contents})
		}
		doc.Systemd.Units = append(doc.Systemd.Units, bu)
	}
	return doc, large, nil
}

// marshalButane is the Butane document of doc, with the plan's header.
func marshalButane(p *plan.Plan, doc butaneConfig) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(header(p))
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func ptrTo[T any](v T) *T { return &v }

// header is the comment an output starts with: whether it holds the token.
func header(p *plan.Plan) string {
	if p.HasSecret() {
		return "# Rendered by kubebake. Holds the bootstrap token: keep it private.\n"
	}
	return "# Rendered by kubebake. Holds no secret: the bootstrap token comes with the boot part.\n"
}
