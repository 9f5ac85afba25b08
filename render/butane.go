package render

import (
	"bytes"
	"fmt"

	"gopkg.in/yaml.v3"
)

// The Butane document, typed: the subset of the fcos 1.6 / flatcar 1.1
// schema kubebake writes. The Butane library validates it when it
// translates; see Ignition.
type butaneConfig struct {
	Variant string        `yaml:"variant"`
	Version string        `yaml:"version"`
	Storage butaneStorage `yaml:"storage"`
	Systemd butaneSystemd `yaml:"systemd"`
}

type butaneStorage struct {
	Files []butaneFile `yaml:"files"`
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
func butaneVersion(v Variant) string {
	if v == VariantFlatcar {
		return "1.1.0"
	}
	return "1.6.0"
}

// Butane emits the plan as a Butane config.
func Butane(p *Plan, v Variant) ([]byte, error) {
	doc, large, err := butaneDoc(p, v)
	if err != nil {
		return nil, err
	}
	return large.apply(doc)
}

// butaneDoc marshals the Butane config with placeholders for large values.
// With forIgnition, every file's contents are placeholders too: data URLs
// made here with Butane's own encoder (see ignitionDoc).
func butaneDoc(p *Plan, v Variant) ([]byte, *largeValues, error) {
	return butaneDocFor(p, v, false, nil)
}

func butaneDocFor(p *Plan, v Variant, forIgnition bool, shared *Shared) ([]byte, *largeValues, error) {
	large := &largeValues{}
	doc := butaneConfig{Variant: string(v), Version: butaneVersion(v)}
	for _, f := range p.Files {
		bf := butaneFile{Path: f.Path, Mode: octal(f.Mode.Perm()), Overwrite: true}
		if f.Gzip != nil {
			// Already compressed at build time: a data URL Butane passes
			// through as it is, so rendering never recompresses megabytes.
			src := large.add(f.Gzip, true)
			gz := "gzip"
			bf.Contents = butaneResource{Source: &src, Compression: &gz, Verification: &butaneVerification{Hash: "sha512-" + f.SHA512}}
		} else if forIgnition {
			uri, compression, err := shared.dataURL(f.Contents)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %v", f.Path, err)
			}
			src := large.addLiteral(uri)
			bf.Contents = butaneResource{Source: &src, Compression: &compression}
		} else {
			s := string(f.Contents)
			bf.Contents = butaneResource{Inline: &s}
		}
		doc.Storage.Files = append(doc.Storage.Files, bf)
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
	var b bytes.Buffer
	b.WriteString("# Rendered by kubebake. Holds the bootstrap token: keep it private.\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, nil, err
	}
	return b.Bytes(), large, nil
}

func ptrTo[T any](v T) *T { return &v }
