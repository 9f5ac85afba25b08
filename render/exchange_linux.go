package render

import "golang.org/x/sys/unix"

// exchange swaps the directories a and b atomically (renameat2
// RENAME_EXCHANGE): b is never missing, not even for a moment.
func exchange(a, b string) error {
	return unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE)
}
