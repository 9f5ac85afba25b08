package consumertest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// Entry is what a machine sees at one path: its type, permission bits
// (with setuid/setgid/sticky), owner, and contents (SHA-256 of a regular
// file, target of a symlink).
type Entry struct {
	Type   string // "file", "dir", "symlink" or "other"
	Mode   fs.FileMode
	UID    uint32
	GID    uint32
	Size   int64
	SHA256 string // regular files
	Target string // symlinks
}

func (e Entry) String() string {
	switch e.Type {
	case "file":
		return fmt.Sprintf("file %04o %d:%d size %d sha256 %s", uint32(e.Mode), e.UID, e.GID, e.Size, e.SHA256)
	case "symlink":
		return fmt.Sprintf("symlink %d:%d -> %s", e.UID, e.GID, e.Target)
	default:
		return fmt.Sprintf("%s %04o %d:%d", e.Type, uint32(e.Mode), e.UID, e.GID)
	}
}

// Tree maps absolute paths (as the machine sees them, "/etc/...") to entries.
type Tree map[string]Entry

// Snapshot records every entry at or under the given prefixes of root
// ("/etc/kubebake", "/etc/systemd/system"); with no prefix, the whole root.
// Missing prefixes are fine: they contribute nothing.
func Snapshot(root string, prefixes ...string) (Tree, error) {
	if len(prefixes) == 0 {
		prefixes = []string{"/"}
	}
	tree := Tree{}
	for _, p := range prefixes {
		start := filepath.Join(root, filepath.FromSlash(p))
		err := filepath.WalkDir(start, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) && path == start {
					return nil
				}
				return err
			}
			rel, err := filepath.Rel(root, path)
			if err != nil {
				return err
			}
			name := "/" + filepath.ToSlash(rel)
			if rel == "." {
				name = "/"
			}
			if _, seen := tree[name]; seen {
				return nil
			}
			e, err := entryOf(path)
			if err != nil {
				return err
			}
			tree[name] = e
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return tree, nil
}

func entryOf(path string) (Entry, error) {
	st, err := os.Lstat(path)
	if err != nil {
		return Entry{}, err
	}
	e := Entry{Mode: st.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		e.UID, e.GID = sys.Uid, sys.Gid
	}
	switch {
	case st.Mode().IsRegular():
		e.Type, e.Size = "file", st.Size()
		f, err := os.Open(path)
		if err != nil {
			return Entry{}, err
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return Entry{}, err
		}
		e.SHA256 = hex.EncodeToString(h.Sum(nil))
	case st.IsDir():
		e.Type = "dir"
	case st.Mode()&fs.ModeSymlink != 0:
		e.Type, e.Mode = "symlink", 0
		if e.Target, err = os.Readlink(path); err != nil {
			return Entry{}, err
		}
	default:
		e.Type = "other"
	}
	return e, nil
}

// Changes returns the entries of after that before lacks or holds
// differently: what an applier added or changed.
func Changes(before, after Tree) Tree {
	out := Tree{}
	for p, e := range after {
		if b, ok := before[p]; !ok || b != e {
			out[p] = e
		}
	}
	return out
}

// Removed returns the paths of before that after lacks.
func Removed(before, after Tree) []string {
	var out []string
	for p := range before {
		if _, ok := after[p]; !ok {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// Filter returns the entries for which keep is true.
func (t Tree) Filter(keep func(path string, e Entry) bool) Tree {
	out := Tree{}
	for p, e := range t {
		if keep(p, e) {
			out[p] = e
		}
	}
	return out
}

// Without returns the tree less the given paths.
func (t Tree) Without(paths ...string) Tree {
	drop := map[string]bool{}
	for _, p := range paths {
		drop[p] = true
	}
	return t.Filter(func(p string, _ Entry) bool { return !drop[p] })
}

// Paths returns the tree's paths in order.
func (t Tree) Paths() []string {
	out := make([]string, 0, len(t))
	for p := range t {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// Matches says whether got is the entry e describes: the same, or, when e
// is a plan's file whose digest is withheld (it holds the token), the same
// but for the digest.
func (e Entry) Matches(got Entry) bool {
	if e.Type == "file" && e.SHA256 == "" && got.Type == "file" {
		got.SHA256 = ""
	}
	return e == got
}

// Diff describes how b differs from a, one line a path ("only in a", "only
// in b", or both entries), sorted; empty when they are the same.
func Diff(aName string, a Tree, bName string, b Tree) []string {
	var out []string
	for _, p := range a.Paths() {
		eb, ok := b[p]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("%s: only in %s (%s)", p, aName, a[p]))
		case !a[p].Matches(eb):
			out = append(out, fmt.Sprintf("%s: %s has %s; %s has %s", p, aName, a[p], bName, eb))
		}
	}
	for _, p := range b.Paths() {
		if _, ok := a[p]; !ok {
			out = append(out, fmt.Sprintf("%s: only in %s (%s)", p, bName, b[p]))
		}
	}
	sort.Strings(out)
	return out
}

// Under reports whether path is dir or inside it.
func Under(path, dir string) bool {
	return path == dir || strings.HasPrefix(path, strings.TrimSuffix(dir, "/")+"/")
}

// modeOf turns Unix permission bits (0o4755) into an fs.FileMode.
func modeOf(perm uint32) fs.FileMode {
	m := fs.FileMode(perm & 0o777)
	if perm&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if perm&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if perm&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m
}

// UsrMerged rewrites symlink targets under /lib, /bin and /sbin to their
// /usr equivalents: on a merged-/usr system (Debian, Fedora CoreOS,
// Flatcar) they are the same files, and Debian's systemctl links units
// through /lib/systemd/system where others say /usr/lib/systemd/system.
func (t Tree) UsrMerged() Tree {
	out := Tree{}
	for p, e := range t {
		if e.Type == "symlink" {
			for _, d := range []string{"/lib/", "/bin/", "/sbin/"} {
				if strings.HasPrefix(e.Target, d) {
					e.Target = "/usr" + e.Target
					break
				}
			}
		}
		out[p] = e
	}
	return out
}
