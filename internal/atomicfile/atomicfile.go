// Package atomicfile writes files so that a crash or power cut leaves either
// the old file or the new one, never half of either: write a temporary file
// in the same directory, fsync it, rename it over the target, fsync the
// directory.
package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
)

// WriteFile writes data to name with mode perm, atomically. The mode is set
// on the temporary file before any data is written, so a secret is never
// readable by others, not even for a moment.
func WriteFile(name string, data []byte, perm os.FileMode) (err error) {
	dir := filepath.Dir(name)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(name)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
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
	if err = os.Rename(tmp.Name(), name); err != nil {
		return err
	}
	if d, derr := os.Open(dir); derr == nil {
		// Best effort: not every file system supports syncing a directory.
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// MkdirWrite creates name's parent directories (0755) and then writes it
// atomically.
func MkdirWrite(name string, data []byte, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return fmt.Errorf("creating the directory of %s: %w", name, err)
	}
	return WriteFile(name, data, perm)
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
