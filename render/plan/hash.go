package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"sort"

	"github.com/kubebake/kubebake/embed"
	"github.com/kubebake/kubebake/render/cache"
	"github.com/kubebake/kubebake/render/spec"
)

// Manifest is the plan as --format plan prints it: every file the node gets
// (units and drop-ins included) with its mode and digest, never contents, so
// it holds no secret.
type Manifest struct {
	// Part is the part of the configuration the files are (--part).
	Part spec.Part `json:"part"`
	// ConfigHash is the SHA-256 of the whole node configuration (every part)
	// with the token left out: it changes when anything but the token does,
	// so equal hashes mean nodes need not be rolled for a new token.
	ConfigHash string         `json:"configHash"`
	Files      []ManifestFile `json:"files"`
	Enabled    []string       `json:"enabled"`
	Start      []string       `json:"start"`
	// StartNoWait is omitted when empty, so plans without an agent read
	// as before.
	StartNoWait []string `json:"startNoWait,omitempty"`
	// Remote lists what the node downloads and verifies at boot (a stock
	// image's kubelet): URL and hash, so both change the ConfigHash.
	Remote []ManifestRemote `json:"remote,omitempty"`
	// Merge is the user's --merge config, by digest: part of what the node
	// gets, so part of the configHash.
	Merge *ManifestMerge `json:"merge,omitempty"`
}

// ManifestMerge is the user's config of a Manifest.
type ManifestMerge struct {
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
	// Part is "image" when the config is baked into the image part
	// (--merge-part image), so applied at image build rather than at
	// every node's first boot; left out when it goes with the boot part,
	// which is when it is applied without --part too.
	Part spec.Part `json:"part,omitempty"`
}

// ManifestFile is one file of a Manifest.
type ManifestFile struct {
	Path string `json:"path"`
	Mode string `json:"mode"`
	// SHA256 is left out for a Secret file: a digest of the token is not
	// for printing (inspect shows none either).
	SHA256 string `json:"sha256,omitempty"`
	Size   int64  `json:"size"`
	Secret bool   `json:"secret,omitempty"`
}

// Bytes are the file's contents; a compressed file's are decompressed and
// checked against its SHA-512 as Ignition would, once per cache.
func (f File) Bytes(c *cache.Cache) ([]byte, error) {
	k, ok := cache.KeyOf(f.Gzip)
	if !ok {
		return f.Contents, nil
	}
	return cache.Get(c, "gunzip", k, cache.Unbounded, func() ([]byte, error) {
		data, err := embed.Gunzip(f.Gzip, f.SHA512)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", f.Path, err)
		}
		return data, nil
	})
}

// DigestFunc gives a file's SHA-256 (hex) and size.
type DigestFunc func(File) (string, int64, error)

// Digest digests a file's bytes; a compressed file's (the agent's) once
// per cache.
func Digest(c *cache.Cache) DigestFunc {
	type digest struct {
		sum  string
		size int64
	}
	return func(f File) (string, int64, error) {
		k, ok := cache.KeyOf(f.Gzip)
		if !ok {
			sum := sha256.Sum256(f.Contents)
			return hex.EncodeToString(sum[:]), int64(len(f.Contents)), nil
		}
		d, err := cache.Get(c, "digest", k, cache.Unbounded, func() (digest, error) {
			data, err := f.Bytes(c)
			if err != nil {
				return digest{}, err
			}
			sum := sha256.Sum256(data)
			return digest{hex.EncodeToString(sum[:]), int64(len(data))}, nil
		})
		return d.sum, d.size, err
	}
}

// ConfigHash is "sha256:" and the hex SHA-256 of the plan as --format plan
// shows it (every file's path, mode and digest, the enabled units, the start
// order) with each Secret file's digest and size left out: the token is the
// only thing that may change without changing it.
func (p *Plan) ConfigHash(digest DigestFunc) (string, error) {
	doc, err := p.Manifest(digest)
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

// Manifest lists p's files (units and drop-ins as files) with their
// digests, its enabled units and its start order. Part and ConfigHash are
// left to the caller.
func (p *Plan) Manifest(digest DigestFunc) (Manifest, error) {
	doc := Manifest{Enabled: []string{}, Start: p.Start, StartNoWait: p.StartNoWait, Remote: manifestRemotes(p.Remotes)}
	if doc.Start == nil {
		doc.Start = []string{}
	}
	for _, f := range p.Files {
		sum, size, err := digest(f)
		if err != nil {
			return Manifest{}, err
		}
		if f.Secret {
			sum = ""
		}
		doc.Files = append(doc.Files, ManifestFile{Path: f.Path, Mode: fmt.Sprintf("%04o", uint32(f.Mode.Perm())), SHA256: sum, Size: size, Secret: f.Secret})
	}
	for _, u := range p.Units {
		if u.Contents != "" {
			doc.Files = append(doc.Files, fileEntry(path.Join(UnitDir, u.Name), 0o644, []byte(u.Contents)))
		}
		for _, d := range u.Dropins {
			doc.Files = append(doc.Files, fileEntry(path.Join(UnitDir, u.Name+".d", d.Name), 0o644, []byte(d.Contents)))
		}
		if u.Enabled {
			doc.Enabled = append(doc.Enabled, u.Name)
		}
	}
	if doc.Files == nil {
		doc.Files = []ManifestFile{}
	}
	if p.User != nil {
		sum := sha256.Sum256(p.User.Data)
		doc.Merge = &ManifestMerge{SHA256: hex.EncodeToString(sum[:]), Size: int64(len(p.User.Data))}
		if s := p.Spec; s.Part != spec.PartAll && s.MergePart == spec.PartImage {
			doc.Merge.Part = spec.PartImage
		}
	}
	sort.Slice(doc.Files, func(i, j int) bool { return doc.Files[i].Path < doc.Files[j].Path })
	return doc, nil
}

func fileEntry(p string, mode fs.FileMode, data []byte) ManifestFile {
	sum := sha256.Sum256(data)
	return ManifestFile{Path: p, Mode: fmt.Sprintf("%04o", uint32(mode)), SHA256: hex.EncodeToString(sum[:]), Size: int64(len(data))}
}
