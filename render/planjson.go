package render

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"sort"
)

// planDoc is the plan as --format plan prints it: every file the node gets
// (units and drop-ins included) with its mode and digest, never contents, so
// it holds no secret.
type planDoc struct {
	Files   []planFile `json:"files"`
	Enabled []string   `json:"enabled"`
	Start   []string   `json:"start"`
}

type planFile struct {
	Path   string `json:"path"`
	Mode   string `json:"mode"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
	Secret bool   `json:"secret,omitempty"`
}

// PlanJSON emits the plan as JSON. The digest of a compressed file needs its
// uncompressed bytes: uncompressed gives them (nil when not needed).
func PlanJSON(p *Plan, uncompressed func(File) ([]byte, error)) ([]byte, error) {
	doc := planDoc{Enabled: []string{}, Start: p.Start}
	for _, f := range p.Files {
		data := f.Contents
		if f.Gzip != nil {
			var err error
			if data, err = uncompressed(f); err != nil {
				return nil, err
			}
		}
		doc.Files = append(doc.Files, fileEntry(f.Path, f.Mode.Perm(), data, f.Secret))
	}
	for _, u := range p.Units {
		if u.Contents != "" {
			doc.Files = append(doc.Files, fileEntry(path.Join(UnitDir, u.Name), 0o644, []byte(u.Contents), false))
		}
		for _, d := range u.Dropins {
			doc.Files = append(doc.Files, fileEntry(path.Join(UnitDir, u.Name+".d", d.Name), 0o644, []byte(d.Contents), false))
		}
		if u.Enabled {
			doc.Enabled = append(doc.Enabled, u.Name)
		}
	}
	sortFiles(doc.Files)
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

func fileEntry(p string, mode fs.FileMode, data []byte, secret bool) planFile {
	sum := sha256.Sum256(data)
	return planFile{Path: p, Mode: fmt.Sprintf("%04o", uint32(mode)), SHA256: hex.EncodeToString(sum[:]), Size: int64(len(data)), Secret: secret}
}

func sortFiles(fs []planFile) {
	sort.Slice(fs, func(i, j int) bool { return fs[i].Path < fs[j].Path })
}
