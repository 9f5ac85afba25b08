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
	// Part is the part of the configuration the files are (--part).
	Part Part `json:"part"`
	// ConfigHash is the SHA-256 of the whole node configuration (every part)
	// with the token left out: it changes when anything but the token does,
	// so equal hashes mean nodes need not be rolled for a new token.
	ConfigHash string     `json:"configHash"`
	Files      []planFile `json:"files"`
	Enabled    []string   `json:"enabled"`
	Start      []string   `json:"start"`
	// StartNoWait is omitted when empty, so plans without an agent read
	// as before.
	StartNoWait []string `json:"startNoWait,omitempty"`
}

type planFile struct {
	Path   string `json:"path"`
	Mode   string `json:"mode"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
	Secret bool   `json:"secret,omitempty"`
}

// PlanJSON emits part of the plan as JSON. The digest of a compressed file
// needs its uncompressed bytes: uncompressed gives them.
func PlanJSON(full *Plan, part Part, uncompressed func(File) ([]byte, error)) ([]byte, error) {
	digest := digestBy(uncompressed)
	doc, err := planDocOf(full.Part(part), digest)
	if err != nil {
		return nil, err
	}
	if doc.ConfigHash, err = configHashWith(full, digest); err != nil {
		return nil, err
	}
	doc.Part = part
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// ConfigHash is "sha256:" and the hex SHA-256 of the plan as --format plan
// shows it (every file's path, mode and digest, the enabled units, the start
// order) with each Secret file's digest and size left out: the token is the
// only thing that may change without changing it.
func ConfigHash(full *Plan, uncompressed func(File) ([]byte, error)) (string, error) {
	return configHashWith(full, digestBy(uncompressed))
}

// digestFunc gives a file's SHA-256 (hex) and size; a fleet computes the
// agent's once (Shared.digest).
type digestFunc func(File) (string, int64, error)

// digestBy digests a file's bytes, decompressing with uncompressed.
func digestBy(uncompressed func(File) ([]byte, error)) digestFunc {
	return func(f File) (string, int64, error) {
		data := f.Contents
		if f.Gzip != nil {
			var err error
			if data, err = uncompressed(f); err != nil {
				return "", 0, err
			}
		}
		sum := sha256.Sum256(data)
		return hex.EncodeToString(sum[:]), int64(len(data)), nil
	}
}

func configHashWith(full *Plan, digest digestFunc) (string, error) {
	doc, err := planDocOf(full, digest)
	if err != nil {
		return "", err
	}
	for i := range doc.Files {
		if doc.Files[i].Secret {
			doc.Files[i].SHA256, doc.Files[i].Size = "", 0
		}
	}
	data, err := json.Marshal(doc)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

func planDocOf(p *Plan, digest digestFunc) (planDoc, error) {
	doc := planDoc{Enabled: []string{}, Start: p.Start, StartNoWait: p.StartNoWait}
	if doc.Start == nil {
		doc.Start = []string{}
	}
	for _, f := range p.Files {
		sum, size, err := digest(f)
		if err != nil {
			return planDoc{}, err
		}
		doc.Files = append(doc.Files, planFile{Path: f.Path, Mode: fmt.Sprintf("%04o", uint32(f.Mode.Perm())), SHA256: sum, Size: size, Secret: f.Secret})
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
	if doc.Files == nil {
		doc.Files = []planFile{}
	}
	sortFiles(doc.Files)
	return doc, nil
}

func fileEntry(p string, mode fs.FileMode, data []byte, secret bool) planFile {
	sum := sha256.Sum256(data)
	return planFile{Path: p, Mode: fmt.Sprintf("%04o", uint32(mode)), SHA256: hex.EncodeToString(sum[:]), Size: int64(len(data)), Secret: secret}
}

func sortFiles(fs []planFile) {
	sort.Slice(fs, func(i, j int) bool { return fs[i].Path < fs[j].Path })
}
