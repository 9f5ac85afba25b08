// Package fetch downloads the files a stock image lacks (the kubelet,
// cri-dockerd, system extension images) and installs each only once its
// hash matched: it is what the node runs where the applier cannot verify a
// download itself (cloud-init's write_files has no hash). The renderer uses
// its types and checks, so a URL or hash it accepts is one the node reads
// the same way.
package fetch

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"strings"
)

// Hash is an expected digest in Ignition's spelling: sha512-HEX or
// sha256-HEX (lower-case hex, as sha512sum and dl.k8s.io print it).
type Hash struct {
	Algo string // "sha512" or "sha256"
	Sum  []byte
}

// HashHelp is the one-line spelling of a hash, for error messages.
const HashHelp = "sha512-HEX or sha256-HEX (Ignition's spelling; sha512sum or sha256sum prints the HEX)"

// ParseHash reads sha512-HEX or sha256-HEX.
func ParseHash(s string) (Hash, error) {
	algo, hexSum, ok := strings.Cut(s, "-")
	if !ok {
		return Hash{}, fmt.Errorf("%q is not a hash: want %s", s, HashHelp)
	}
	var size int
	switch algo {
	case "sha512":
		size = sha512.Size
	case "sha256":
		size = sha256.Size
	default:
		return Hash{}, fmt.Errorf("%q: unsupported hash function %q: want %s", s, algo, HashHelp)
	}
	if len(hexSum) != 2*size || strings.ToLower(hexSum) != hexSum {
		return Hash{}, fmt.Errorf("%q: a %s hash is %d lower-case hex digits, not %d: want %s", s, algo, 2*size, len(hexSum), HashHelp)
	}
	sum, err := hex.DecodeString(hexSum)
	if err != nil {
		return Hash{}, fmt.Errorf("%q: not hex digits: want %s", s, HashHelp)
	}
	return Hash{Algo: algo, Sum: sum}, nil
}

// String is the hash in Ignition's spelling.
func (h Hash) String() string { return h.Algo + "-" + hex.EncodeToString(h.Sum) }

// New returns a hash.Hash of h's function.
func (h Hash) New() hash.Hash {
	if h.Algo == "sha256" {
		return sha256.New()
	}
	return sha512.New()
}
