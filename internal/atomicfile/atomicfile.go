// Package atomicfile writes files so that a crash or power cut leaves either
// the old file or the new one, never half of either: write a temporary file
// in the same directory, fsync it, rename it over the target, fsync the
// directory. A process that calls CleanupOnSignal also leaves no temporary
// file behind when SIGINT or SIGTERM arrives mid-write.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
)

// live are the temporary files being written, and the temporary
// directories (true) being filled. mu is held while one is created and
// registered and while it is renamed away, and the signal handler takes it
// for good: no temporary file is created, or left, after the handler has
// run.
var (
	mu   sync.Mutex
	live = map[string]bool{}
)

// afterCreate, when set (by tests), runs once the temporary file exists.
var afterCreate func(tmp string)

// CleanupOnSignal removes the temporary files of writes in progress when
// SIGINT or SIGTERM arrives, then calls exit with 128+signal (130, 143).
func CleanupOnSignal(exit func(code int)) {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		s := <-c
		mu.Lock() // never unlocked: no write may start or finish now
		for name, dir := range live {
			if dir {
				os.RemoveAll(name)
			} else {
				os.Remove(name)
			}
		}
		code := 1
		if n, ok := s.(syscall.Signal); ok {
			code = 128 + int(n)
		}
		exit(code)
	}()
}

// WriteFile writes data to name with mode perm, atomically. The mode is set
// on the temporary file before any data is written, so a secret is never
// readable by others, not even for a moment.
func WriteFile(name string, data []byte, perm os.FileMode) (err error) {
	dir := filepath.Dir(name)
	mu.Lock()
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(name)+".tmp-*")
	if err == nil {
		live[tmp.Name()] = true
	}
	mu.Unlock()
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			mu.Lock()
			os.Remove(tmp.Name())
			delete(live, tmp.Name())
			mu.Unlock()
		}
	}()
	if afterCreate != nil {
		afterCreate(tmp.Name())
	}
	if err = tmp.Chmod(perm); err != nil {
		return err
	}
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	mu.Lock()
	err = os.Rename(tmp.Name(), name)
	if err == nil {
		delete(live, tmp.Name())
	}
	mu.Unlock()
	if err != nil {
		return err
	}
	if d, derr := os.Open(dir); derr == nil {
		// Best effort: not every file system supports syncing a directory.
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// MkdirTemp creates a new directory in dir, as os.MkdirTemp does, mode
// 0700, to be filled with Create and then renamed into place: a signal
// removes it with everything in it until Release.
func MkdirTemp(dir, pattern string) (string, error) {
	mu.Lock()
	defer mu.Unlock()
	tmp, err := os.MkdirTemp(dir, pattern)
	if err != nil {
		return "", err
	}
	if err := os.Chmod(tmp, 0o700); err != nil {
		os.Remove(tmp)
		return "", err
	}
	live[tmp] = true
	return tmp, nil
}

// Create creates the new file name, mode perm, in a directory of
// MkdirTemp; once a signal has arrived none is created.
func Create(name string, perm os.FileMode) (*os.File, error) {
	mu.Lock()
	defer mu.Unlock()
	return os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
}

// Swap runs rename, which puts a directory of MkdirTemp in its place (or
// exchanges the two), with no signal handled meanwhile. Release the
// temporary directory afterwards: after a rename that removes nothing,
// after an exchange it removes the old directory, and until then a signal
// does.
func Swap(rename func() error) error {
	mu.Lock()
	defer mu.Unlock()
	return rename()
}

// Release removes the directory tmp of MkdirTemp with what it holds (a run
// that failed, or the old directory after Swap exchanged them) and forgets
// it.
func Release(tmp string) error {
	err := os.RemoveAll(tmp)
	mu.Lock()
	defer mu.Unlock()
	if err == nil {
		delete(live, tmp)
	}
	return err
}

// MkdirWrite creates name's parent directories (0755) and then writes it
// atomically.
func MkdirWrite(name string, data []byte, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return fmt.Errorf("creating the directory of %s: %w", name, err)
	}
	return WriteFile(name, data, perm)
}

// WriteTarget writes data to a path a user named (an -o argument):
//   - a regular file, or nothing yet: replaced atomically with mode perm;
//   - a symbolic link: followed, and the file it points to is replaced
//     atomically (the link stays a link);
//   - a device, FIFO or socket: written to directly, never replaced (so
//     -o /dev/null discards, and a FIFO's reader gets the data);
//   - a directory: an error.
//
// A link, FIFO, device or socket another user could have put there is
// refused (CheckWrite): data is a secret. Errors name the path as the user
// gave it and say what is wrong with it, never the temporary file.
func WriteTarget(name string, data []byte, perm os.FileMode) error {
	if err := CheckWrite(name); err != nil {
		return err
	}
	target := name
	if fi, err := os.Lstat(name); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		if t, err := filepath.EvalSymlinks(name); err == nil {
			target = t
		} else if l, lerr := os.Readlink(name); lerr == nil {
			// A dangling link: write where it points.
			if !filepath.IsAbs(l) {
				l = filepath.Join(filepath.Dir(name), l)
			}
			target = l
		}
	}
	fi, err := os.Stat(target)
	switch {
	case err == nil && fi.IsDir():
		return &os.PathError{Op: "write", Path: name, Err: errors.New("is a directory; name a file")}
	case err == nil && !fi.Mode().IsRegular():
		f, err := os.OpenFile(target, os.O_WRONLY, 0)
		if err != nil {
			return &os.PathError{Op: "open", Path: name, Err: reason(err)}
		}
		// What was opened is what was checked, not something put there since.
		if ofi, err := f.Stat(); err != nil || !os.SameFile(fi, ofi) {
			f.Close()
			return &os.PathError{Op: "open", Path: name, Err: errors.New("it was replaced while kubebake opened it: another user may be interfering; name a path of your own")}
		}
		if _, err := f.Write(data); err != nil {
			f.Close()
			return &os.PathError{Op: "write", Path: name, Err: reason(err)}
		}
		if err := f.Close(); err != nil {
			return &os.PathError{Op: "write", Path: name, Err: reason(err)}
		}
		return nil
	}
	if err := WriteFile(target, data, perm); err != nil {
		dir := filepath.Dir(target)
		if errors.Is(err, fs.ErrNotExist) {
			if _, serr := os.Stat(dir); serr != nil {
				return &os.PathError{Op: "write", Path: name, Err: fmt.Errorf("directory %s does not exist", dir)}
			}
		}
		if errors.Is(err, fs.ErrPermission) {
			return &os.PathError{Op: "write", Path: name, Err: fmt.Errorf("permission denied (kubebake writes a temporary file in %s and renames it)", dir)}
		}
		return &os.PathError{Op: "write", Path: name, Err: reason(err)}
	}
	return nil
}

// reason strips the *PathError or *LinkError around err, whose path may be
// the temporary file's.
func reason(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	var se *os.SyscallError
	if errors.As(err, &se) {
		return se.Err
	}
	return err
}

// RemoveStale removes the temporary files WriteFile may have left next to
// name when a crash or power cut came between writing and renaming. Call
// it before writing a secret: a leftover would hold one too.
func RemoveStale(name string) error {
	leftovers, err := filepath.Glob(filepath.Join(filepath.Dir(name), "."+escapeGlob(filepath.Base(name))+".tmp-*"))
	if err != nil {
		return err
	}
	for _, p := range leftovers {
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	return nil
}

// escapeGlob quotes filepath.Match's special characters.
func escapeGlob(s string) string {
	var b []byte
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '[', '\\':
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return string(b)
}
