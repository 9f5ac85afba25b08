// Package atomicfile writes files so that a crash or power cut leaves either
// the old file or the new one, never half of either: write a temporary file
// in the same directory, fsync it, rename it over the target, fsync the
// directory. A process that calls CleanupOnSignal also leaves no temporary
// file behind when SIGINT, SIGTERM, SIGHUP or SIGQUIT arrives mid-write;
// after a SIGKILL the next write beside the same target removes it.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
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

// afterCreate, when set (by tests), runs once the temporary file exists
// (tmp is "" for an unnamed one); noTmpfile (tests) names it from the start.
var (
	afterCreate func(tmp string)
	noTmpfile   bool
)

// CleanupOnSignal removes the temporary files of writes in progress when
// SIGINT, SIGTERM, SIGHUP (the terminal closed) or SIGQUIT arrives, then
// calls exit with 128+signal (130, 143, 129, 131). SIGKILL cannot be
// handled: WriteFile gives its file a name only once it is whole, and the
// next write beside the same target removes what a killed run left.
func CleanupOnSignal(exit func(code int)) {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
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

// Logf, when set, is told about every stale temporary file or directory a
// write removes (kubebake and kubebake-join print it).
var Logf func(format string, a ...any)

// tmpPrefix is the start of the names of name's temporary files and
// directories; the writer's process id follows, then "-" and a random part.
func tmpPrefix(name string) string { return "." + filepath.Base(name) + ".tmp-" }

// WriteFile writes data to name with mode perm, atomically. The data goes
// into an unnamed file (O_TMPFILE) where the system allows it, which gets
// a name only once it is whole and synced, just before the rename: a hard
// kill leaves nothing behind. Elsewhere the temporary file is named from
// the start, with mode perm before any data is written, so a secret is
// never readable by others, not even for a moment. Temporary files of
// name's that a dead process left are removed first.
func WriteFile(name string, data []byte, perm os.FileMode) (err error) {
	dir := filepath.Dir(name)
	if err := RemoveStale(name); err != nil {
		return err
	}
	pattern := tmpPrefix(name) + strconv.Itoa(os.Getpid()) + "-*"
	mu.Lock()
	tmp, named, err := createTemp(dir, pattern, perm)
	if err == nil && named != "" {
		live[named] = false
	}
	mu.Unlock()
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			mu.Lock()
			if named != "" {
				os.Remove(named)
				delete(live, named)
			}
			mu.Unlock()
		}
	}()
	if afterCreate != nil {
		afterCreate(named)
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
	mu.Lock()
	if named == "" {
		// The whole file gets a name now, and a moment later its own.
		if named, err = linkTemp(tmp, dir, pattern); err == nil {
			live[named] = false
		}
	}
	if err == nil {
		err = tmp.Close()
	}
	if err == nil {
		err = os.Rename(named, name)
	}
	if err == nil {
		delete(live, named)
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

// MkdirTemp creates a new directory in dir, named pattern followed by this
// process's id and a random part, mode 0700, to be filled with Create and
// then renamed into place: a signal removes it with everything in it until
// Release. Directories of the same pattern that a dead process left (a
// hard kill mid-write) are removed first.
func MkdirTemp(dir, pattern string) (string, error) {
	if err := removeStale(dir, pattern, os.RemoveAll); err != nil {
		return "", err
	}
	mu.Lock()
	defer mu.Unlock()
	tmp, err := os.MkdirTemp(dir, pattern+strconv.Itoa(os.Getpid())+"-*")
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
// name when a process was killed or the power cut between writing and
// renaming (the few microseconds a name exists with O_TMPFILE; the whole
// write without it), and says so through Logf. WriteFile calls it.
func RemoveStale(name string) error {
	return removeStale(filepath.Dir(name), tmpPrefix(name), os.Remove)
}

// removeStale removes the entries of dir named prefix + a process id + "-"
// + anything, whose process is gone, or prefix + anything else (the
// naming of earlier versions, which had no process id), with remove
// (os.Remove for files: the agent links no os.RemoveAll). Only this
// package's naming beside a target is touched.
func removeStale(dir, prefix string, remove func(string) error) error {
	leftovers, err := filepath.Glob(filepath.Join(dir, escapeGlob(prefix)+"*"))
	if err != nil {
		return err
	}
	for _, p := range leftovers {
		rest := strings.TrimPrefix(filepath.Base(p), prefix)
		if pid, _, ok := strings.Cut(rest, "-"); ok {
			if n, err := strconv.Atoi(pid); err == nil && n > 0 && alive(n) {
				continue // a write in progress, maybe this process's own
			}
		}
		if err := remove(p); err != nil && !os.IsNotExist(err) {
			return err
		}
		if Logf != nil {
			Logf("removed %s, a temporary copy an interrupted earlier run left (it may have held the token)", p)
		}
	}
	return nil
}

// alive reports whether process pid exists.
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
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
