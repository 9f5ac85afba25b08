//go:build !linux

package atomicfile

import (
	"errors"
	"os"
)

// createTemp creates a named temporary file in dir (no O_TMPFILE here).
func createTemp(dir, pattern string, perm os.FileMode) (*os.File, string, error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return nil, "", err
	}
	return f, f.Name(), nil
}

func linkTemp(*os.File, string, string) (string, error) {
	return "", errors.New("no unnamed temporary files on this system")
}
