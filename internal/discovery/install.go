package discovery

import (
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/kubebake/kubebake/internal/atomicfile"
	"github.com/kubebake/kubebake/internal/joinconfig"
	"github.com/kubebake/kubebake/internal/kubeconfig"
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
// discovers the cluster of cfg, then writes the pinned CAs and a bootstrap
// kubeconfig built from cfg (server, token) and those CAs, each
// atomically. With opts.Check it verifies the same way and writes nothing.
func Run(ctx context.Context, cfg *joinconfig.Config, opts Options) (*Result, error) {
	o := opts.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, &Error{Class: BadConfig, Err: err}
	}
	at := func(p string) string { return filepath.Join(o.Root, filepath.FromSlash(p)) }

	joined, err := exists(at(cfg.Paths.KubeletKubeconfig))
	if err != nil {
		return nil, &Error{Class: Transient, Err: err}
	}
	if joined && !o.Check {
		o.Logf("%s exists: this node has joined its cluster already; nothing to do", cfg.Paths.KubeletKubeconfig)
		return &Result{AlreadyJoined: true}, nil
	}
	if joined {
		o.Logf("%s exists: this node has joined already; checking discovery anyway", cfg.Paths.KubeletKubeconfig)
	}

	tok := cfg.ParsedToken()
	timeout := cfg.Deadline()
	if o.Timeout > 0 {
		timeout = o.Timeout
	}
	o.Logf("discovering the cluster with token %s at %s (CA pins: %s; deadline %s)", tok.ID(), strings.Join(cfg.Endpoints, ", "), strings.Join(cfg.CACertHashes, ", "), timeout)
	d, err := Discover(ctx, Target{Endpoints: cfg.Endpoints, Pins: cfg.CACertHashes, Token: tok, Timeout: timeout}, o)
	if err != nil {
		return nil, err
	}
	res := &Result{Discovered: d, Server: cfg.KubeletServer(d.Endpoint, d.Server)}
	o.Logf("%s verified after %d attempt(s): its CA %s matches a pin, it signed cluster-info for token %s, and its certificate verifies", d.Endpoint, d.Attempts, strings.Join(d.Pins, ", "), tok.ID())
	if len(d.Unpinned) > 0 {
		o.Logf("cluster-info's CA bundle also holds %s, which no pin matches: not trusted, not installed (pin it too if it is the cluster's next CA)", describeUnpinned(d.Unpinned))
	}
	if !usableServer(res.Server) {
		// Signed with the token and served over a connection verified with
		// a pinned CA: the cluster itself says so. Final.
		return res, errorf(Refused, "cluster-info names server %q, which is no https://host:port the kubelet can use: fix the cluster's cluster-info, or render with --kubelet-server discovered or an address", d.Server)
	}
	bootstrap, err := kubeconfig.Bootstrap(res.Server, d.Bundle, kubeconfig.AuthInfo{Token: tok.Value()})
	if err != nil {
		return res, errorf(Transient, "building the bootstrap kubeconfig: %v", err)
	}
	if o.Check {
		o.Logf("--check: the kubelet would talk to %s; wrote nothing", res.Server)
		return res, nil
	}
	// The kubelet is not ordered after the agent: with the bootstrap
	// kubeconfig of an earlier run it may have joined during discovery,
	// and the cleanup removed the token's files. Write no token back then.
	if joinedMeanwhile(at(cfg.Paths.KubeletKubeconfig), cfg.Paths.KubeletKubeconfig, o.Logf) {
		return &Result{AlreadyJoined: true}, nil
	}
	for _, f := range []struct {
		path string
		data []byte
		mode os.FileMode
	}{
		{cfg.Paths.CACert, d.Bundle, 0o644},
		{cfg.Paths.BootstrapKubeconfig, bootstrap, 0o600},
	} {
		p := at(f.path)
		// A crash in an earlier run may have left a temporary copy, with
		// the token in it, next to the target.
		if err := atomicfile.RemoveStale(p); err != nil {
			return res, errorf(Transient, "removing temporary files left next to %s: %v", f.path, err)
		}
		if err := atomicfile.MkdirWrite(p, f.data, f.mode); err != nil {
			return res, errorf(Transient, "writing %s: %v", f.path, err)
		}
		res.Written = append(res.Written, p)
	}
	// It may also have joined while these were written, after the check
	// above and before the cleanup ran: remove the token's copy ourselves.
	if joinedMeanwhile(at(cfg.Paths.KubeletKubeconfig), cfg.Paths.KubeletKubeconfig, o.Logf) {
		if err := os.Remove(at(cfg.Paths.BootstrapKubeconfig)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return res, errorf(Transient, "removing %s: %v", cfg.Paths.BootstrapKubeconfig, err)
		}
		return &Result{AlreadyJoined: true}, nil
	}
	o.Logf("wrote %s and %s (server %s): the kubelet can bootstrap", cfg.Paths.CACert, cfg.Paths.BootstrapKubeconfig, res.Server)
	return res, nil
}

// joinedMeanwhile reports, and logs, that the kubelet's own kubeconfig (at
// p, configured as name) exists now.
func joinedMeanwhile(p, name string, logf func(string, ...any)) bool {
	if ok, _ := exists(p); !ok {
		return false
	}
	logf("%s exists: this node has joined its cluster meanwhile; the bootstrap kubeconfig and its token are not needed", name)
	return true
}

func exists(p string) (bool, error) {
	_, err := os.Lstat(p)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return false, err
}

// usableServer reports whether s is an https URL with a host, as a
// kubeconfig's server must be.
func usableServer(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Scheme == "https" && u.Host != "" && u.User == nil
}
