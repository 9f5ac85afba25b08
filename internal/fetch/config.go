package fetch

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"
)

const (
	// APIVersion and Kind name the document the renderer writes for the
	// agent (kubebake-join fetch).
	APIVersion = "kubebake.dev/v1alpha1"
	Kind       = "FetchConfiguration"
	// DefaultPath is where the renderer lays it down.
	DefaultPath = "/etc/kubebake/fetch.yaml"
)

// Config lists the files a node downloads and verifies before its join.
type Config struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Files      []File `json:"files"`
	// CertificateAuthorities is a PEM bundle of the CAs of an https
	// mirror, trusted in addition to the system's roots.
	CertificateAuthorities string `json:"certificateAuthorities,omitempty"`
}

// File is one download.
type File struct {
	// URL is http or https; redirects are followed (dl.k8s.io redirects
	// to its CDN): the hash, not the transport, is what is trusted.
	URL string `json:"url"`
	// Hash is sha512-HEX or sha256-HEX.
	Hash string `json:"hash"`
	// Path is where the file is installed once its hash matched.
	Path string `json:"path"`
	// Mode is the installed file's mode in octal ("0644"); "" means 0755
	// (a binary). A system extension image is 0644.
	Mode string `json:"mode,omitempty"`
	// Link, if set, is a symbolic link made to Path once it is installed
	// (/etc/extensions/kubernetes.raw for a system extension).
	Link string `json:"link,omitempty"`
	// HTTPHeaders are sent with the request (a mirror's credentials).
	HTTPHeaders []Header `json:"httpHeaders,omitempty"`
}

// FileMode is the mode f is installed with.
func (f File) FileMode() os.FileMode {
	m, err := parseMode(f.Mode)
	if err != nil {
		return 0o755 // Check refused it already
	}
	return m
}

func parseMode(s string) (os.FileMode, error) {
	if s == "" {
		return 0o755, nil
	}
	m, err := strconv.ParseUint(s, 8, 32)
	if err != nil || m&^0o777 != 0 {
		return 0, fmt.Errorf("mode: %q is not an octal permission mode such as 0644", s)
	}
	return os.FileMode(m), nil
}

// Header is one HTTP request header.
type Header struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Parse reads and checks a Config.
func Parse(data []byte) (*Config, error) {
	var c Config
	if err := yaml.UnmarshalStrict(data, &c); err != nil {
		return nil, fmt.Errorf("not a valid %s: %v", Kind, err)
	}
	if c.APIVersion != APIVersion || c.Kind != Kind {
		return nil, fmt.Errorf("apiVersion %q, kind %q: want %s, %s", c.APIVersion, c.Kind, APIVersion, Kind)
	}
	if err := c.Check(); err != nil {
		return nil, err
	}
	return &c, nil
}

// Check reports the first thing wrong with c.
func (c *Config) Check() error {
	if len(c.Files) == 0 {
		return errors.New("files: none listed")
	}
	seen := map[string]bool{}
	for i, f := range c.Files {
		if err := f.Check(); err != nil {
			return fmt.Errorf("files[%d]: %w", i, err)
		}
		for _, p := range []string{f.Path, f.Link} {
			if p != "" && seen[p] {
				return fmt.Errorf("files[%d]: %s is written twice", i, p)
			}
			seen[p] = true
		}
	}
	if c.CertificateAuthorities != "" {
		if !x509.NewCertPool().AppendCertsFromPEM([]byte(c.CertificateAuthorities)) {
			return errors.New("certificateAuthorities: no PEM certificate in it")
		}
	}
	return nil
}

// Check reports the first thing wrong with f.
func (f File) Check() error {
	if _, err := ParseURL(f.URL); err != nil {
		return fmt.Errorf("url: %w", err)
	}
	if _, err := ParseHash(f.Hash); err != nil {
		return fmt.Errorf("hash: %w", err)
	}
	if err := CheckPath(f.Path); err != nil {
		return fmt.Errorf("path: %w", err)
	}
	if _, err := parseMode(f.Mode); err != nil {
		return err
	}
	if f.Link != "" {
		if err := CheckPath(f.Link); err != nil {
			return fmt.Errorf("link: %w", err)
		}
		if f.Link == f.Path {
			return fmt.Errorf("link: %s is the file itself", f.Link)
		}
	}
	for _, h := range f.HTTPHeaders {
		if err := CheckHeader(h.Name, h.Value); err != nil {
			return fmt.Errorf("httpHeaders: %w", err)
		}
	}
	return nil
}

// CheckPath accepts an absolute, clean path to a file.
func CheckPath(p string) error {
	if !path.IsAbs(p) || path.Clean(p) != p || p == "/" {
		return fmt.Errorf("%q: want an absolute, clean path to a file", p)
	}
	if strings.ContainsAny(p, "\x00\n") {
		return fmt.Errorf("%q holds a NUL or newline", p)
	}
	return nil
}

// CheckHeader accepts an HTTP header net/http would send as given.
func CheckHeader(name, value string) error {
	if name == "" || strings.ContainsAny(name, " \t\r\n:") {
		return fmt.Errorf("%q is not a header name", name)
	}
	if strings.ContainsAny(value, "\r\n\x00") {
		return fmt.Errorf("header %s: the value holds a line break or NUL", name)
	}
	if http.CanonicalHeaderKey(name) == "Host" {
		return errors.New("the Host header cannot be set")
	}
	return nil
}
