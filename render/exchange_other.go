//go:build !linux

package render

import "os"

// exchange swaps the directories a and b with two renames (b is missing
// for a moment: only Linux has an atomic exchange).
func exchange(a, b string) error {
	old := a + ".old"
	if err := os.Rename(b, old); err != nil {
		return err
	}
	if err := os.Rename(a, b); err != nil {
		os.Rename(old, b)
		return err
	}
	return os.Rename(old, a)
}
