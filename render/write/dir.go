package write

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/kubebake/kubebake/internal/atomicfile"
	"github.com/kubebake/kubebake/internal/inputs"
)

// Dir writes len(files) files into a new directory beside dir and then puts
// it in dir's place: dir holds every file and index.json, or, after an
// error, is as it was. An existing dir is replaced only when it is empty or
// a fleet directory itself (it holds an index.json listing what it holds).
// Each file is mode 0600 (it may hold the token) and filled by fill(i, w)
// in one of workers goroutines, which returns the file's index entry. All
// of it is on the disk (synced) before it takes dir's place. The first
// error stops the rest.
func Dir(ctx context.Context, dir string, files []string, workers int, fill func(i int, w io.Writer) (IndexEntry, error)) (*Index, error) {
	dir = filepath.Clean(dir)
	replace, err := checkOutDir(dir)
	if err != nil {
		return nil, err
	}
	// The files hold the token: a signal (atomicfile.CleanupOnSignal)
	// removes the directory they are written in, and so does an error.
	tmp, err := atomicfile.MkdirTemp(filepath.Dir(dir), "."+filepath.Base(dir)+".tmp-")
	if err != nil {
		return nil, inputs.Errorf("--out-dir", "the outputs are written into a new directory beside %s and then put in its place: %v", dir, err)
	}
	defer atomicfile.Release(tmp)

	idx := &Index{Nodes: make([]IndexEntry, len(files))}
	if err := parallel(ctx, len(files), workers, func(i int) (err error) {
		idx.Nodes[i], err = writeFile(filepath.Join(tmp, files[i]), func(w io.Writer) (IndexEntry, error) { return fill(i, w) })
		return err
	}); err != nil {
		return nil, err
	}
	data, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFile(filepath.Join(tmp, IndexFile), append(data, '\n'), 0o644); err != nil {
		return nil, err
	}
	// Every file reaches the disk before the directory takes dir's place:
	// one sync of the file system rather than one per file, which would
	// make a fleet of small outputs wait on the disk a thousand times.
	if err := atomicfile.SyncFS(tmp); err != nil {
		return nil, err
	}
	if err := atomicfile.ReplaceDir(tmp, dir, replace); err != nil {
		return nil, err
	}
	// An exchange left the previous directory at tmp.
	if err := atomicfile.Release(tmp); err != nil {
		return nil, fmt.Errorf("removing the previous %s (now %s): %w", dir, tmp, err)
	}
	return idx, nil
}

// writeFile creates name (0600) and fills it.
func writeFile(name string, fill func(w io.Writer) (IndexEntry, error)) (e IndexEntry, err error) {
	out, err := atomicfile.Create(name, 0o600)
	if err != nil {
		return e, err
	}
	defer func() {
		if cerr := out.Close(); err == nil {
			err = cerr
		}
	}()
	return fill(out)
}

// parallel runs do(0..n-1) in workers goroutines and returns the error of
// the lowest index that failed; the first failure stops what has not
// started.
func parallel(ctx context.Context, n, workers int, do func(i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan int)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for w := 0; w < min(workers, n); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				if errs[i] = do(i); errs[i] != nil {
					cancel()
				}
			}
		}()
	}
feed:
	for i := 0; i < n; i++ {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return ctx.Err()
}

// checkOutDir says whether dir exists and may be replaced; it refuses a
// directory that is not empty and not a fleet's.
func checkOutDir(dir string) (bool, error) {
	fi, err := os.Lstat(dir)
	if errors.Is(err, os.ErrNotExist) {
		parent := filepath.Dir(dir)
		if fi, err := os.Stat(parent); errors.Is(err, os.ErrNotExist) {
			return false, inputs.Errorf("--out-dir", "%s does not exist: create it first (mkdir -p %s); kubebake makes only %s itself", parent, parent, filepath.Base(dir))
		} else if err != nil {
			return false, inputs.Errorf("--out-dir", "%s: %v", parent, reason(err))
		} else if !fi.IsDir() {
			return false, inputs.Errorf("--out-dir", "%s is not a directory", parent)
		}
		return false, nil
	}
	if err != nil {
		return false, inputs.Errorf("--out-dir", "%v", err)
	}
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		return false, inputs.Errorf("--out-dir", "%s is a symbolic link: name the directory itself (the link would be replaced, not its target)", dir)
	case !fi.IsDir():
		return false, inputs.Errorf("--out-dir", "%s exists and is not a directory", dir)
	}
	if wd, err := os.Getwd(); err == nil {
		if abs, err := filepath.Abs(dir); err == nil && (abs == wd || strings.HasPrefix(wd, abs+string(filepath.Separator))) {
			return false, inputs.Errorf("--out-dir", "%s is the current directory or holds it, which cannot be replaced: name it from outside (cd ..)", dir)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false, inputs.Errorf("--out-dir", "%v", err)
	}
	if len(entries) == 0 {
		return true, nil
	}
	notOurs := func(why string, args ...any) error {
		return inputs.Errorf("--out-dir", "%s is not a fleet directory kubebake wrote (%s), so it is not replaced; name a new or empty directory", dir, fmt.Sprintf(why, args...))
	}
	data, err := os.ReadFile(filepath.Join(dir, IndexFile))
	if err != nil {
		return false, notOurs("it holds files and no readable %s", IndexFile)
	}
	// Replace only what an earlier run wrote: its index.json and the
	// files it lists, nothing else (a user's files, the run's own inputs).
	var idx Index
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&idx); err != nil || len(idx.Nodes) == 0 {
		return false, notOurs("its %s is not kubebake's", IndexFile)
	}
	listed := map[string]bool{IndexFile: true}
	for _, e := range idx.Nodes {
		listed[e.File] = true
	}
	for _, e := range entries {
		if !listed[e.Name()] || !e.Type().IsRegular() {
			return false, notOurs("it holds %s, which its %s does not list", e.Name(), IndexFile)
		}
	}
	return true, nil
}

// reason strips the path wrapper from a file system error.
func reason(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
