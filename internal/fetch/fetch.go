package fetch

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// MaxSize caps one download (a kubelet is ~100 MB, a Kubernetes system
// extension ~200 MB): a server cannot fill the node's disk.
const MaxSize = 2 << 30

// stallTimeout ends an attempt that received nothing for this long.
const stallTimeout = 60 * time.Second

// maxBackoff caps the wait between attempts.
const maxBackoff = 60 * time.Second

// Options are the knobs of Run.
type Options struct {
	// Root prefixes every path written (image builds, tests).
	Root string
	// Logf reports progress and every failed attempt (the journal).
	Logf func(format string, a ...any)
	// Client overrides the HTTP client (tests); nil: NewClient.
	Client *http.Client
	// MaxSize overrides MaxSize (tests).
	MaxSize int64
	// Backoff is the wait before attempt n+1 (tests); nil: 1 s doubling
	// to a minute, with jitter.
	Backoff func(n int) time.Duration
}

// NewClient is the agent's HTTP client for downloads: the proxy from the
// environment (HTTP_PROXY, HTTPS_PROXY, NO_PROXY), TLS 1.2 or later
// against the system's roots plus extraCAs (PEM, may be empty), no
// transparent decompression (the hash is of the bytes served), redirects
// followed as Ignition does.
func NewClient(extraCAs string) (*http.Client, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if extraCAs != "" {
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM([]byte(extraCAs)) {
			return nil, errors.New("certificateAuthorities: no PEM certificate in it")
		}
		tc.RootCAs = pool
	}
	return &http.Client{Transport: &http.Transport{
		Proxy:                  http.ProxyFromEnvironment,
		TLSClientConfig:        tc,
		DisableCompression:     true,
		ForceAttemptHTTP2:      false,
		TLSHandshakeTimeout:    30 * time.Second,
		ResponseHeaderTimeout:  stallTimeout,
		MaxResponseHeaderBytes: 64 << 10,
	}}, nil
}

// MismatchError is a download whose hash is not the expected one.
type MismatchError struct {
	URL, Path string
	Want, Got Hash
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("%s: hash mismatch: expected %s, got %s; nothing installed at %s", Loggable(e.URL), e.Want, e.Got, e.Path)
}

// Run installs every file of c in order, each only once its hash matched,
// retrying every failed attempt with backoff until ctx ends. A mismatch is
// retried too: over plain http anyone on the path can cause one, and that
// must not end the node's join for good.
func Run(ctx context.Context, c *Config, o Options) error {
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	client := o.Client
	if client == nil {
		var err error
		if client, err = NewClient(c.CertificateAuthorities); err != nil {
			return err
		}
	}
	if o.MaxSize == 0 {
		o.MaxSize = MaxSize
	}
	if o.Backoff == nil {
		o.Backoff = backoff
	}
	for _, f := range c.Files {
		for n := 1; ; n++ {
			err := Install(ctx, client, f, o)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return fmt.Errorf("%s not installed at %s: %w (last attempt: %v)", Loggable(f.URL), f.Path, ctx.Err(), err)
			}
			wait := o.Backoff(n)
			o.Logf("attempt %d: %v; retrying in %s", n, err, wait.Round(time.Second))
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s not installed at %s: %w (last attempt: %v)", Loggable(f.URL), f.Path, ctx.Err(), err)
			case <-time.After(wait):
			}
		}
	}
	return nil
}

func backoff(n int) time.Duration {
	d := maxBackoff
	if n < 7 {
		d = time.Second << (n - 1)
	}
	return d + rand.N(d/4+1)
}

// Install makes one attempt at f: if the file at its path already has the
// expected hash nothing is fetched; otherwise the download goes to a
// temporary file beside the target, is hashed as it arrives, and is renamed
// into place with its mode (0755 unless set) only when the hash matched. The link, if any,
// is made last.
func Install(ctx context.Context, client *http.Client, f File, o Options) error {
	want, err := ParseHash(f.Hash)
	if err != nil {
		return err
	}
	target := filepath.Join(o.Root, f.Path)
	if ok, _ := hasHash(target, want); ok {
		if o.Logf != nil {
			o.Logf("%s has the expected %s hash already: not fetched", f.Path, want.Algo)
		}
	} else {
		if err := download(ctx, client, f, want, target, o); err != nil {
			return err
		}
		if o.Logf != nil {
			o.Logf("installed %s from %s (%s verified)", f.Path, Loggable(f.URL), want.Algo)
		}
	}
	if f.Link != "" {
		return link(f.Path, filepath.Join(o.Root, f.Link))
	}
	return nil
}

// hasHash says whether name is a regular file with hash want.
func hasHash(name string, want Hash) (bool, error) {
	fd, err := os.Open(name)
	if err != nil {
		return false, err
	}
	defer fd.Close()
	if st, err := fd.Stat(); err != nil || !st.Mode().IsRegular() {
		return false, err
	}
	h := want.New()
	if _, err := io.Copy(h, fd); err != nil {
		return false, err
	}
	return bytes.Equal(h.Sum(nil), want.Sum), nil
}

func download(ctx context.Context, client *http.Client, f File, want Hash, target string, o Options) (err error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.URL, nil)
	if err != nil {
		return fmt.Errorf("%s: %v", Loggable(f.URL), err)
	}
	req.Header.Set("User-Agent", "kubebake-join")
	for _, h := range f.HTTPHeaders {
		req.Header.Set(h.Name, h.Value)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("fetching %s: %v", Loggable(f.URL), unwrapURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetching %s: HTTP %s", Loggable(f.URL), resp.Status)
	}
	if resp.ContentLength > o.MaxSize {
		return fmt.Errorf("fetching %s: %d bytes, more than the %d a download may have", Loggable(f.URL), resp.ContentLength, o.MaxSize)
	}
	dir := filepath.Dir(target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(target)+".kubebake-fetch-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	// A stalled server ends the attempt; every byte that arrives resets the clock.
	stall := time.AfterFunc(stallTimeout, func() { cancel(fmt.Errorf("nothing received for %s", stallTimeout)) })
	defer stall.Stop()
	h := want.New()
	body := io.LimitReader(&progressReader{r: resp.Body, stall: stall}, o.MaxSize+1)
	n, err := io.Copy(io.MultiWriter(tmp, h), body)
	if err != nil {
		if cause := context.Cause(ctx); cause != nil && ctx.Err() != nil {
			err = cause
		}
		return fmt.Errorf("fetching %s: after %d bytes: %v", Loggable(f.URL), n, unwrapURLError(err))
	}
	if n > o.MaxSize {
		return fmt.Errorf("fetching %s: more than the %d bytes a download may have", Loggable(f.URL), o.MaxSize)
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return fmt.Errorf("fetching %s: %d of %d bytes arrived", Loggable(f.URL), n, resp.ContentLength)
	}
	got := Hash{Algo: want.Algo, Sum: h.Sum(nil)}
	if !bytes.Equal(got.Sum, want.Sum) {
		return &MismatchError{URL: f.URL, Path: f.Path, Want: want, Got: got}
	}
	if err := tmp.Chmod(f.FileMode()); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), target); err != nil {
		return err
	}
	return syncDir(dir)
}

// link points name at dest, replacing what is there, atomically.
func link(dest, name string) error {
	if cur, err := os.Readlink(name); err == nil && cur == dest {
		return nil
	}
	dir := filepath.Dir(name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp := filepath.Join(dir, "."+filepath.Base(name)+".kubebake-link")
	os.Remove(tmp)
	if err := os.Symlink(dest, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, name); err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

type progressReader struct {
	r     io.Reader
	stall *time.Timer
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.stall.Reset(stallTimeout)
	}
	return n, err
}

// unwrapURLError drops url.Error's `Get "URL":` prefix: the message names
// the URL already, without its password.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err
	}
	return err
}
