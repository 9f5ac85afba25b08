package token

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"
)

// ErrNoToken is returned by Wait when the token did not arrive in time.
var ErrNoToken = errors.New("no bootstrap token arrived")

// Wait reads the token from the file at path, waiting for it to appear: on
// a node built from an image that holds no secret, the token arrives with
// the boot part (cloud-init's write_files, Ignition's files stage), which
// normally runs first, but need not have finished. It logs one line when it
// starts to wait and checks every poll until ctx is done.
//
// A file that exists but does not hold a token is read again until it
// stays the same for one poll (a writer may not have finished it), then
// refused with ErrFormat's message: never with its contents.
func Wait(ctx context.Context, path string, poll time.Duration, logf func(string, ...any)) (Token, error) {
	var last []byte
	waiting, seen := false, false
	for {
		data, err := os.ReadFile(path)
		switch {
		case err == nil:
			tok, perr := ParseFile(data)
			if perr == nil {
				if waiting {
					logf("the bootstrap token (id %s) has arrived at %s", tok.ID(), path)
				}
				return tok, nil
			}
			if seen && bytes.Equal(data, last) {
				return Token{}, fmt.Errorf("%s: %v", path, perr)
			}
			seen, last = true, data
		case errors.Is(err, fs.ErrNotExist):
			seen, last = false, nil
		default:
			return Token{}, err
		}
		if !waiting {
			waiting = true
			logf("waiting for the bootstrap token at %s: the node's boot part (kubebake render --part boot, as cloud-init user-data or Ignition) delivers it", path)
		}
		t := time.NewTimer(poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return Token{}, fmt.Errorf("%w at %s before the deadline: was the node booted with its boot part?", ErrNoToken, path)
		case <-t.C:
		}
	}
}
