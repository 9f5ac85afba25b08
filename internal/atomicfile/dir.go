package atomicfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ReplaceDir puts the directory tmp of MkdirTemp in dir's place: a rename
// when dir does not exist (replace false), an atomic exchange when it does
// (the old directory is then at tmp: Release it). No signal is handled
// meanwhile, and the parent directory is synced afterwards. Write and
// SyncFS everything in tmp first.
func ReplaceDir(tmp, dir string, replace bool) error {
	err := Swap(func() error {
		if !replace {
			return os.Rename(tmp, dir)
		}
		if err := exchange(tmp, dir); err != nil {
			return fmt.Errorf("replacing %s: %w", dir, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return syncDir(filepath.Dir(dir))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return err
	}
	return nil
}
