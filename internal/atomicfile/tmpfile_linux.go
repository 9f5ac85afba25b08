package atomicfile

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"unsafe"
)

// Linux's O_TMPFILE (amd64 and arm64 alike), AT_FDCWD and
// AT_SYMLINK_FOLLOW. Raw, not golang.org/x/sys/unix: the agent links this
// and is a few KB under its size budget.
const (
	oTMPFILE        = 0x410000
	atFDCWD         = -100
	atSymlinkFollow = 0x400
)

// linkat is linkat(2) from the current directory to itself.
func linkat(oldpath, newpath string, flags int) error {
	o, err := syscall.BytePtrFromString(oldpath)
	if err != nil {
		return err
	}
	n, err := syscall.BytePtrFromString(newpath)
	if err != nil {
		return err
	}
	fd := atFDCWD
	_, _, e := syscall.Syscall6(syscall.SYS_LINKAT, uintptr(fd), uintptr(unsafe.Pointer(o)), uintptr(fd), uintptr(unsafe.Pointer(n)), uintptr(flags), 0)
	if e != 0 {
		return e
	}
	return nil
}

// createTemp opens an unnamed file in dir (O_TMPFILE), mode perm: named is
// "" and linkTemp names it once it is whole. A file system without
// O_TMPFILE gets a named temporary file (os.CreateTemp's pattern).
func createTemp(dir, pattern string, perm os.FileMode) (f *os.File, named string, err error) {
	if !noTmpfile {
		if f, err = os.OpenFile(dir, os.O_WRONLY|oTMPFILE|syscall.O_CLOEXEC, perm&0o600); err == nil {
			return f, "", nil
		}
	}
	if f, err = os.CreateTemp(dir, pattern); err != nil {
		return nil, "", err
	}
	return f, f.Name(), nil
}

// linkTemp gives the unnamed file f a name of pattern in dir.
func linkTemp(f *os.File, dir, pattern string) (string, error) {
	proc := "/proc/self/fd/" + strconv.Itoa(int(f.Fd()))
	var err error
	for i := 0; i < 100; i++ {
		name := filepath.Join(dir, pattern[:len(pattern)-1]+strconv.FormatUint(uint64(rand.Uint32()), 10))
		err = linkat(proc, name, atSymlinkFollow)
		if err == nil {
			return name, nil
		}
		if !os.IsExist(err) {
			break
		}
	}
	return "", &os.PathError{Op: "link", Path: dir, Err: err}
}
