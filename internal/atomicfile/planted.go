package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// A secret must never go into, or come from, something another local user
// put at a path the caller named: a FIFO in /tmp whose reader is that user
// (writing), or that feeds the user's own token (reading); a symbolic link
// leading to either. The kernel's protected_fifos and protected_symlinks do
// not help: they apply to O_CREAT opens and to links the kernel follows,
// and kubebake opens an existing FIFO without O_CREAT and resolves links
// itself. The rule, for the link a path names and for a FIFO, device or
// socket it leads to (and, when reading, also a regular file in a
// directory every user may write):
//
//   - it belongs to the caller or to root: nobody else made it;
//   - its directory belongs to the caller or to root, and is writable by
//     no one else, or is sticky (/tmp: others cannot replace what is ours).
//
// /dev/null, /dev/stdout (a link in /dev to the caller's own terminal or
// pipe) and the caller's own FIFOs pass.

// ErrPlanted is the error of a path another user could have planted.
var ErrPlanted = errors.New("planted")

type plantedError struct{ msg string }

func (e *plantedError) Error() string   { return e.msg }
func (e *plantedError) Is(t error) bool { return t == ErrPlanted }

// CheckWrite refuses name, where a secret is to be written, when the link
// it names or the FIFO, device or socket it leads to could have been put
// there by another user. A path that does not exist, or a regular file
// (replaced, never opened), passes.
func CheckWrite(name string) error { return checkPlanted(name, false) }

// CheckRead is CheckWrite for a file a secret is read from (--token-file):
// a regular file there must pass too when its directory is writable by
// every user (a token of someone else's choosing in /tmp).
func CheckRead(name string) error { return checkPlanted(name, true) }

func checkPlanted(name string, read bool) error {
	lfi, err := os.Lstat(name)
	if err != nil {
		return nil // the caller's own open says what is wrong
	}
	target := name
	if lfi.Mode()&fs.ModeSymlink != 0 {
		if err := placedSafely(name, lfi, "symbolic link"); err != nil {
			return &fs.PathError{Op: op(read), Path: name, Err: err}
		}
		target = resolve(name)
	}
	fi, err := os.Stat(target)
	if err != nil {
		return nil
	}
	switch {
	case fi.IsDir():
	case !fi.Mode().IsRegular():
		err = placedSafely(target, fi, kind(fi.Mode()))
	case read && worldWritable(filepath.Dir(target)):
		err = placedSafely(target, fi, "file")
	}
	if err == nil {
		return nil
	}
	if target != name {
		err = &plantedError{"leads to " + target + ", " + err.Error()}
	}
	return &fs.PathError{Op: op(read), Path: name, Err: err}
}

func op(read bool) string {
	if read {
		return "read"
	}
	return "write"
}

// resolve is where the link name leads (a dangling one too).
func resolve(name string) string {
	if t, err := filepath.EvalSymlinks(name); err == nil {
		return t
	}
	if l, err := os.Readlink(name); err == nil {
		if !filepath.IsAbs(l) {
			l = filepath.Join(filepath.Dir(name), l)
		}
		return l
	}
	return name
}

func kind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "FIFO"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeDevice != 0:
		return "device"
	}
	return "special file"
}

// trusted reports whether uid is the caller's or root's.
func trusted(uid uint32) bool { return uid == 0 || int(uid) == os.Geteuid() }

func owner(fi fs.FileInfo) (uint32, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return st.Uid, true
}

func worldWritable(dir string) bool {
	fi, err := os.Stat(dir)
	return err == nil && fi.Mode().Perm()&0o002 != 0
}

// placedSafely checks p (described as what) and its directory against the
// rule above.
func placedSafely(p string, fi fs.FileInfo, what string) error {
	if uid, ok := owner(fi); ok && !trusted(uid) {
		return &plantedError{fmt.Sprintf("a %s that belongs to another user (uid %d), who could read or feed the token through it: remove it, or name a path of your own", what, uid)}
	}
	dir := filepath.Dir(p)
	dfi, err := os.Stat(dir)
	if err != nil {
		return nil
	}
	if uid, ok := owner(dfi); ok && !trusted(uid) {
		return &plantedError{fmt.Sprintf("a %s in %s, a directory of another user (uid %d), who could have put it there: name a path of your own", what, dir, uid)}
	}
	if dfi.Mode().Perm()&0o022 != 0 && dfi.Mode()&fs.ModeSticky == 0 {
		return &plantedError{fmt.Sprintf("a %s in %s, which other users may write (mode %04o, not sticky): anyone could have put it there; name a path of your own", what, dir, dfi.Mode().Perm())}
	}
	return nil
}
