package atomicfile

import "golang.org/x/sys/unix"

// exchange swaps the directories a and b atomically (renameat2
// RENAME_EXCHANGE): b is never missing, not even for a moment.
func exchange(a, b string) error {
	return unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE)
}

// SyncFS flushes the file system holding dir (syncfs): every file written
// in dir reaches the disk, in one call.
func SyncFS(dir string) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Syncfs(fd)
}
