package discovery

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kubebake/kubebake/internal/atomicfile"
	"github.com/kubebake/kubebake/internal/joinconfig"
	"github.com/kubebake/kubebake/internal/kubeconfig"
	"github.com/kubebake/kubebake/internal/token"
)

// Result is what Run did.
type Result struct {
	// AlreadyJoined: the kubelet kubeconfig exists, nothing was done.
	AlreadyJoined bool
	*Discovered
	// Server is the server the bootstrap kubeconfig names.
	Server string
	// Written lists the files written (with Root), none with Check.
	Written []string
}

// Run is the first-boot agent: unless the node has joined already, it
// waits for the token when j has none yet (it comes with the node's boot
// part), discovers the cluster of j, then writes the pinned CAs and a
// bootstrap kubeconfig built from j (server, token) and those CAs, each
// atomically. With opts.Check it verifies the same way and writes nothing.
// The wait for the token counts against j.Deadline.
func Run(ctx context.Context, j *joinconfig.Join, opts Options) (*Result, error) {
	o := opts.withDefaults()
	if o.ProxyRoots == nil {
		o.ProxyRoots = j.ProxyRoots
	}
	if err := checkPaths(o.Root, j); err != nil {
		return nil, err
	}
	joined, err := Joined(o.Root, j.Paths)
	if err != nil {
		return nil, &Error{Class: Transient, Err: err}
	}
	if joined && !o.Check {
		o.Logf("%s exists: this node has joined its cluster already; nothing to do", j.Paths.KubeletKubeconfig)
		return &Result{AlreadyJoined: true}, nil
	}
	if joined {
		o.Logf("%s exists: this node has joined already; checking discovery anyway", j.Paths.KubeletKubeconfig)
	}
	timeout, err := tokenTimeout(ctx, j, o)
	if err != nil {
		return nil, err
	}
	res, bootstrap, err := verifyJoin(ctx, j, timeout, o)
	if err != nil {
		return res, err
	}
	if o.Check {
		o.Logf("--check: the kubelet would talk to %s; wrote nothing", res.Server)
		return res, nil
	}
	return install(j, res, bootstrap, o)
}

// checkPaths refuses (BadConfig) a path of j that does not lie inside
// root, or leads out of it through a link.
func checkPaths(root string, j *joinconfig.Join) error {
	for _, p := range []string{j.TokenFile, j.Paths.CACert, j.Paths.BootstrapKubeconfig, j.Paths.KubeletKubeconfig} {
		if p == "" {
			continue
		}
		if _, err := InRoot(root, p); err != nil {
			return &Error{Class: BadConfig, Err: err}
		}
	}
	return nil
}

// tokenTimeout waits for the token when j has none yet (awaitToken) and
// returns what is left of j.Deadline for discovery.
func tokenTimeout(ctx context.Context, j *joinconfig.Join, o Options) (time.Duration, error) {
	timeout := j.Deadline
	if !j.Token.IsZero() {
		return timeout, nil
	}
	o.progress(Progress{Step: StepWaitingForToken})
	start := time.Now()
	if err := awaitToken(ctx, j, atRoot(o.Root, j.TokenFile), o); err != nil {
		return 0, err
	}
	if timeout -= time.Since(start).Round(time.Millisecond); timeout <= 0 {
		return 0, errorf(Transient, "the deadline passed while waiting for the token")
	}
	return timeout, nil
}

// verifyJoin discovers the cluster of j within timeout and builds the
// bootstrap kubeconfig for the server the kubelet is to use. Nothing is
// written. The Result is nil only when discovery failed.
func verifyJoin(ctx context.Context, j *joinconfig.Join, timeout time.Duration, o Options) (*Result, []byte, error) {
	o.Logf("discovering the cluster with token %s at %s (CA pins: %s; deadline %s)", j.Token.ID(), strings.Join(j.Endpoints, ", "), strings.Join(j.Pins.List(), ", "), timeout)
	o.progress(Progress{Step: StepDiscovering})
	d, err := Discover(ctx, Target{Endpoints: j.Endpoints, Pins: j.Pins, Token: j.Token, Timeout: timeout}, o)
	if err != nil {
		return nil, nil, err
	}
	o.progress(Progress{Step: StepVerified, Endpoint: d.Endpoint})
	res := &Result{Discovered: d, Server: j.KubeletServer(d.Endpoint, d.Server)}
	o.Logf("%s verified after %d attempt(s): its CA %s matches a pin, it signed cluster-info for token %s, and its certificate verifies", d.Endpoint, d.Attempts, strings.Join(d.Pins, ", "), j.Token.ID())
	if len(d.Unpinned) > 0 {
		o.Logf("cluster-info's CA bundle also holds %s, which no pin matches: not trusted, not installed (pin it too if it is the cluster's next CA)", describeUnpinned(d.Unpinned))
	}
	if !usableServer(res.Server) {
		// Signed with the token and served over a connection verified with
		// a pinned CA: the cluster itself says so. Final.
		return res, nil, errorf(Refused, "cluster-info names server %q, which is no https://host:port the kubelet can use: fix the cluster's cluster-info, or render with --kubelet-server discovered or an address", d.Server)
	}
	bootstrap, err := kubeconfig.Bootstrap(res.Server, d.Bundle, kubeconfig.AuthInfo{Token: j.Token.Value()})
	if err != nil {
		return res, nil, errorf(Transient, "building the bootstrap kubeconfig: %v", err)
	}
	return res, bootstrap, nil
}

// install writes the verified CAs and the bootstrap kubeconfig, each
// atomically, unless the node has joined meanwhile.
func install(j *joinconfig.Join, res *Result, bootstrap []byte, o Options) (*Result, error) {
	// The kubelet is not ordered after the agent: with the bootstrap
	// kubeconfig of an earlier run it may have joined during discovery,
	// and the cleanup removed the token's files. Write no token back then.
	if joinedMeanwhile(o.Root, j.Paths, o.Logf) {
		return &Result{AlreadyJoined: true}, nil
	}
	for _, f := range []struct {
		path string
		data []byte
		mode os.FileMode
	}{
		{j.Paths.CACert, res.Bundle, 0o644},
		{j.Paths.BootstrapKubeconfig, bootstrap, 0o600},
	} {
		p, err := InRoot(o.Root, f.path) // again: just before writing
		if err != nil {
			return res, &Error{Class: BadConfig, Err: err}
		}
		// A crash in an earlier run may have left a temporary copy, with
		// the token in it, next to the target: the write removes it first.
		if err := atomicfile.MkdirWrite(p, f.data, f.mode); err != nil {
			return res, errorf(Transient, "writing %s: %v", f.path, err)
		}
		res.Written = append(res.Written, p)
	}
	// It may also have joined while these were written, after the check
	// above and before the cleanup ran: remove the token's copy ourselves.
	if joinedMeanwhile(o.Root, j.Paths, o.Logf) {
		if err := os.Remove(atRoot(o.Root, j.Paths.BootstrapKubeconfig)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return res, errorf(Transient, "removing %s: %v", j.Paths.BootstrapKubeconfig, err)
		}
		return &Result{AlreadyJoined: true}, nil
	}
	o.Logf("wrote %s and %s (server %s): the kubelet can bootstrap", j.Paths.CACert, j.Paths.BootstrapKubeconfig, res.Server)
	return res, nil
}

// atRoot is p (a path on the node) under root, as is: no link check.
func atRoot(root, p string) string { return filepath.Join(root, filepath.FromSlash(p)) }

// awaitToken reads the token from path into j.Token, waiting for the boot
// part to deliver it, within j.Deadline: Transient when it did not come in
// time, BadConfig when the file does not hold a token.
func awaitToken(ctx context.Context, j *joinconfig.Join, path string, o Options) error {
	wctx, cancel := context.WithTimeout(ctx, j.Deadline)
	defer cancel()
	tok, err := token.Wait(wctx, path, o.TokenPoll, o.Logf)
	switch {
	case errors.Is(err, token.ErrNoToken):
		return &Error{Class: Transient, Err: err}
	case err != nil:
		return &Error{Class: BadConfig, Err: err}
	}
	j.Token = tok
	return nil
}

// Joined reports whether the node has joined its cluster: the kubelet's
// own kubeconfig (paths.KubeletKubeconfig, under root) exists. Everything
// that asks asks here.
func Joined(root string, paths joinconfig.Paths) (bool, error) {
	p, err := InRoot(root, paths.KubeletKubeconfig)
	if err != nil {
		return false, err
	}
	_, err = os.Lstat(p)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return false, err
}

// joinedMeanwhile reports, and logs, that the node has joined by now.
func joinedMeanwhile(root string, paths joinconfig.Paths, logf func(string, ...any)) bool {
	if ok, _ := Joined(root, paths); !ok {
		return false
	}
	logf("%s exists: this node has joined its cluster meanwhile; the bootstrap kubeconfig and its token are not needed", paths.KubeletKubeconfig)
	return true
}

// usableServer reports whether s is an https URL with a host, as a
// kubeconfig's server must be.
func usableServer(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Scheme == "https" && u.Host != "" && u.User == nil
}

// InRoot is p (an absolute path on the node) under root, for kubebake-join
// --root: refused when a component of it below root is a symbolic link,
// which would lead the token's files, and the removal of stale ones, out
// of the root (an image being built, a chroot). The components that do
// not exist yet are created as directories. Without a root, p as is.
func InRoot(root, p string) (string, error) {
	p = filepath.FromSlash(p)
	if root == "" {
		return p, nil
	}
	cur := root
	for _, c := range strings.Split(strings.TrimPrefix(filepath.Clean(p), string(filepath.Separator)), string(filepath.Separator)) {
		cur = filepath.Join(cur, c)
		fi, err := os.Lstat(cur)
		if err != nil {
			break // missing: nothing to follow
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			return "", fmt.Errorf("%s is a symbolic link: with --root, kubebake-join follows none (it could lead out of %s); make it a directory or file, or run without --root", cur, root)
		}
	}
	return filepath.Join(root, p), nil
}
