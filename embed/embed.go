// Package embed exposes the kubebake-join binaries built into the renderer.
//
// `make` builds cmd/kubebake-join for each architecture and stores it in dist/
// gzip-compressed, once, with the SHA-512 of the uncompressed binary beside it,
// so that rendering never recompresses megabytes. A plain `go build` still
// compiles; Agent then says what to run.
package embed

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"crypto/sha512"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
)

//go:embed all:dist
var dist embed.FS

// Arches are the architectures kubebake-join is built for.
var Arches = []string{"amd64", "arm64"}

// ErrMissing says the renderer was built without the agent binaries.
var ErrMissing = errors.New("this kubebake was built without the kubebake-join binaries: run `make` in the kubebake source tree (it builds them into embed/dist) and use the kubebake it builds, or render with --join-binary baked or none")

// Agent is one architecture's kubebake-join, gzip-compressed.
type Agent struct {
	Arch string
	// Gzip is the binary compressed with gzip -9 (Go's compress/gzip: no name, no mtime).
	Gzip []byte
	// SHA512 is the lowercase hex SHA-512 of the uncompressed binary.
	SHA512 string
	// Size is the uncompressed size in bytes.
	Size int64
	// SHA256 is the lowercase hex SHA-256 of the uncompressed binary, as
	// `kubebake version` and `kubebake-join --version` print it; "" when
	// dist/ was built by an older mkembed (SHA256Sum computes it then).
	SHA256 string
}

// FileName is the name of the compressed binary in dist/.
func FileName(arch string) string { return "kubebake-join-linux-" + arch + ".gz" }

// Load returns the embedded agent for arch.
func Load(arch string) (Agent, error) { return load(dist, arch, true) }

// Describe returns the embedded agent for arch without its Gzip: its
// digests and size only (reading the binary copies megabytes).
func Describe(arch string) (Agent, error) { return load(dist, arch, false) }

func load(dist fs.FS, arch string, withGzip bool) (Agent, error) {
	if !known(arch) {
		return Agent{}, fmt.Errorf("no kubebake-join for architecture %q (have %s)", arch, strings.Join(Arches, ", "))
	}
	var gz []byte
	var err error
	if withGzip {
		gz, err = fs.ReadFile(dist, "dist/"+FileName(arch))
	} else {
		_, err = fs.Stat(dist, "dist/"+FileName(arch))
	}
	if errors.Is(err, fs.ErrNotExist) {
		return Agent{}, ErrMissing
	} else if err != nil {
		return Agent{}, err
	}
	meta, err := fs.ReadFile(dist, "dist/"+FileName(arch)+".sha512")
	if err != nil {
		return Agent{}, fmt.Errorf("embed/dist holds %s but not its .sha512: run `make` again", FileName(arch))
	}
	var a = Agent{Arch: arch, Gzip: gz}
	f := strings.Fields(string(meta))
	if len(f) < 2 || len(f) > 3 || len(f[0]) != 128 {
		return Agent{}, fmt.Errorf("embed/dist/%s.sha512 is malformed: run `make` again", FileName(arch))
	}
	if _, err := fmt.Sscanf(f[1], "%d", &a.Size); err != nil {
		return Agent{}, fmt.Errorf("embed/dist/%s.sha512 is malformed: run `make` again", FileName(arch))
	}
	a.SHA512 = f[0]
	if len(f) == 3 {
		if len(f[2]) != 64 {
			return Agent{}, fmt.Errorf("embed/dist/%s.sha512 is malformed: run `make` again", FileName(arch))
		}
		a.SHA256 = f[2]
	}
	return a, nil
}

func known(arch string) bool {
	for _, a := range Arches {
		if a == arch {
			return true
		}
	}
	return false
}

// Gunzip returns the uncompressed bytes of gz, checked against sha512hex
// (lowercase hex), as Ignition checks them on the node.
func Gunzip(gz []byte, sha512hex string) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		return nil, err
	}
	if sum := sha512.Sum512(data); hex.EncodeToString(sum[:]) != sha512hex {
		return nil, errors.New("does not match its SHA-512: rebuild kubebake with make")
	}
	return data, nil
}

// SHA256Sum is the lowercase hex SHA-256 of the uncompressed binary: the
// one mkembed recorded, else computed (gunzip and hash: a hundred
// milliseconds and more).
func (a Agent) SHA256Sum() (string, error) {
	if a.SHA256 != "" {
		return a.SHA256, nil
	}
	if a.Gzip == nil {
		full, err := Load(a.Arch)
		if err != nil {
			return "", err
		}
		a = full
	}
	bin, err := a.Binary()
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(bin)
	return hex.EncodeToString(sum[:]), nil
}

// Versions are kubebake version's lines about the embedded agents, one an
// architecture: its sha256 (recorded by mkembed when make built it) and
// size, or that it is not embedded. On an error, the lines before it.
func Versions() ([]string, error) {
	var lines []string
	for _, arch := range Arches {
		a, err := Describe(arch)
		if err != nil {
			lines = append(lines, fmt.Sprintf("kubebake-join linux/%s: not embedded (build kubebake with make)", arch))
			continue
		}
		sum, err := a.SHA256Sum()
		if err != nil {
			return lines, err
		}
		lines = append(lines, fmt.Sprintf("kubebake-join linux/%s: sha256:%s (%d bytes)", arch, sum, a.Size))
	}
	return lines, nil
}

// Binary returns the agent uncompressed and verified.
func (a Agent) Binary() ([]byte, error) {
	b, err := Gunzip(a.Gzip, a.SHA512)
	if err != nil {
		return nil, fmt.Errorf("the embedded kubebake-join for %s: %v", a.Arch, err)
	}
	return b, nil
}
