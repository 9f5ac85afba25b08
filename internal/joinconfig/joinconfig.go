// Package joinconfig is the contract between the renderer and the first-boot
// agent: the schema of /etc/kubebake/join.yaml. kubebake render writes it,
// kubebake-join reads it. Both sides validate it with Validate.
package joinconfig

import (
	"crypto/x509"

	"errors"
	"fmt"
	pemcerts "github.com/kubebake/kubebake/internal/certs"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/kubebake/kubebake/internal/endpoint"
	"github.com/kubebake/kubebake/internal/pin"
	"github.com/kubebake/kubebake/internal/token"
	"sigs.k8s.io/yaml"
)

const (
	APIVersion = "kubebake.dev/v1alpha1"
	Kind       = "JoinConfiguration"

	// DefaultPath is where the renderer lays the config down.
	DefaultPath = "/etc/kubebake/join.yaml"
	// DefaultTokenFile is where the renderer writes the token, alone: every
	// other file may then go into an image, and the token come at boot.
	DefaultTokenFile = "/etc/kubebake/token"
	// DefaultTimeout is the overall discovery deadline of one agent run.
	DefaultTimeout = 10 * time.Minute
)

// Default install paths, kubeadm's.
const (
	DefaultBootstrapKubeconfig = "/etc/kubernetes/bootstrap-kubelet.conf"
	DefaultCACert              = "/etc/kubernetes/pki/ca.crt"
	DefaultKubeletKubeconfig   = "/etc/kubernetes/kubelet.conf"
)

// The values of Config.Server besides an address.
const (
	// ServerClusterInfo: the server named in the cluster's cluster-info,
	// which the token's signature covers, as kubeadm join does. The default.
	ServerClusterInfo = "cluster-info"
	// ServerDiscovered: the endpoint that answered discovery.
	ServerDiscovered = "discovered"
)

// Config is /etc/kubebake/join.yaml.
type Config struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	// Endpoints are API server addresses, "host:port", tried in order.
	Endpoints []string `json:"endpoints"`
	// CACertHashes are the pins ("sha256:<hex>"); a cluster CA matching any passes.
	CACertHashes []string `json:"caCertHashes"`
	// Token is the bootstrap token, "<id>.<secret>"; the file is then 0600.
	Token string `json:"token,omitempty"`
	// TokenFile, instead of Token, names the file that holds the token, or
	// will: the agent waits for it (it comes with the node's boot part).
	TokenFile string `json:"tokenFile,omitempty"`
	// Timeout is the overall deadline of one run, a Go duration ("10m").
	Timeout string `json:"timeout,omitempty"`
	// Server is the API server the bootstrap kubeconfig names, and so the
	// one the kubelet talks to: ServerClusterInfo (also when empty),
	// ServerDiscovered, or an address "https://host:port" (a load balancer).
	Server string `json:"server,omitempty"`
	// ProxyCA, PEM, verifies an https:// HTTPS_PROXY instead of the
	// system's CA certificates. Never the API server: only pins do that.
	ProxyCA string `json:"proxyCA,omitempty"`
	Paths   Paths  `json:"paths"`
}

// Paths are absolute paths on the node (kubebake-join --root prefixes them).
type Paths struct {
	// BootstrapKubeconfig is where the agent writes, once the cluster is
	// verified, the kubelet's bootstrap kubeconfig, built from this file.
	BootstrapKubeconfig string `json:"bootstrapKubeconfig"`
	// CACert is where the agent writes the verified, pinned CAs.
	CACert string `json:"caCert"`
	// KubeletKubeconfig exists once the node has joined; the agent then does nothing.
	KubeletKubeconfig string `json:"kubeletKubeconfig"`
}

// DefaultPaths are the paths the renderer uses.
func DefaultPaths() Paths {
	return Paths{
		BootstrapKubeconfig: DefaultBootstrapKubeconfig,
		CACert:              DefaultCACert,
		KubeletKubeconfig:   DefaultKubeletKubeconfig,
	}
}

// Join is a join.yaml parsed and validated once, typed: what the agent
// acts on. Nothing in it needs checking or defaulting again.
type Join struct {
	// Endpoints are the API server addresses, "host:port", tried in order.
	Endpoints []string
	// Pins is the set of CA pins; a cluster CA matching any passes.
	Pins pin.Set
	// Token is the bootstrap token; zero while it is still to be read
	// from TokenFile (the agent waits for it, then fills it in).
	Token token.Token
	// TokenFile names the file the token comes in, when join.yaml holds none.
	TokenFile string
	// Deadline is one run's overall deadline: the file's, or DefaultTimeout.
	Deadline time.Duration
	// Server is the Config's Server, ServerClusterInfo when it was empty.
	Server string
	// ProxyRoots are ProxyCA's certificates; nil: the system's.
	ProxyRoots *x509.CertPool
	Paths      Paths
}

// Parse decodes and validates a join.yaml into a Join. Unknown fields are
// errors: a typo in a hand-edited config should not silently fall back to
// a default. Errors never quote the token, whatever the file holds.
func Parse(data []byte) (*Join, error) {
	var c Config
	if err := yaml.UnmarshalStrict(data, &c); err != nil {
		// The decoders quote values and keys ("token: !!int <token>", a key
		// that is the token), so the message is redacted.
		return nil, fmt.Errorf("not a valid %s: %s", Kind, Redact(err.Error(), data))
	}
	j, err := c.Join()
	if err != nil {
		return nil, errors.New(Redact(err.Error(), data))
	}
	return j, nil
}

// secretLike is what a token secret looks like, or holds one: 16 or more
// of its characters in a row.
var secretLike = regexp.MustCompile(`[a-z0-9]{16,}`)

// tokenLike is a token, or something close to one (a typo in the secret).
var tokenLike = regexp.MustCompile(`[a-z0-9]{6}\.([a-z0-9]{10,})`)

// Redact removes from msg, an error about data (a join.yaml), anything that
// may be the token or its secret: every token-like string of data and its
// secret part, and every run of 16 or more characters of the secret's
// alphabet. No word of the decoders' or our own messages is such a run.
func Redact(msg string, data []byte) string {
	for _, m := range tokenLike.FindAllSubmatch(data, -1) {
		msg = strings.ReplaceAll(msg, string(m[0]), "<redacted>")
		msg = strings.ReplaceAll(msg, string(m[1]), "<redacted>")
	}
	return secretLike.ReplaceAllString(msg, "<redacted>")
}

// Marshal encodes c as YAML.
func (c *Config) Marshal() ([]byte, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return yaml.Marshal(c)
}

// Validate checks every field (the renderer, before it writes the file).
func (c *Config) Validate() error {
	_, err := c.Join()
	return err
}

// Join checks every field, once, and returns the typed value.
func (c *Config) Join() (*Join, error) {
	if c.APIVersion != APIVersion || c.Kind != Kind {
		return nil, fmt.Errorf("apiVersion/kind: want %s/%s, have %q/%q", APIVersion, Kind, c.APIVersion, c.Kind)
	}
	if len(c.Endpoints) == 0 {
		return nil, errors.New("endpoints: at least one API server address is needed")
	}
	for i, e := range c.Endpoints {
		n, err := endpoint.Parse(e)
		if err != nil {
			return nil, fmt.Errorf("endpoints[%d]: %v", i, err)
		}
		if n != e {
			return nil, fmt.Errorf("endpoints[%d]: %q is not in host:port form (want %q)", i, e, n)
		}
	}
	if len(c.CACertHashes) == 0 {
		return nil, errors.New("caCertHashes: at least one CA pin is needed")
	}
	pins, err := pin.NewSet(c.CACertHashes...)
	if err != nil {
		return nil, fmt.Errorf("caCertHashes: %v", err)
	}
	j := &Join{Endpoints: c.Endpoints, Pins: pins, TokenFile: c.TokenFile, Deadline: DefaultTimeout, Server: c.Server, Paths: c.Paths}
	switch {
	case c.TokenFile != "" && c.Token != "":
		return nil, errors.New("token and tokenFile: give one of them")
	case c.TokenFile != "":
		if !path.IsAbs(c.TokenFile) || path.Clean(c.TokenFile) != c.TokenFile {
			return nil, fmt.Errorf("tokenFile: %q is not a clean absolute path", c.TokenFile)
		}
	default:
		if j.Token, err = token.Parse(c.Token); err != nil {
			return nil, fmt.Errorf("token: %v", err)
		}
	}
	switch c.Server {
	case "":
		j.Server = ServerClusterInfo
	case ServerClusterInfo, ServerDiscovered:
	default:
		n, err := endpoint.Parse(c.Server)
		if err != nil || "https://"+n != c.Server {
			return nil, fmt.Errorf("server: %q is not %s, %s or an address https://host:port", c.Server, ServerClusterInfo, ServerDiscovered)
		}
	}
	if c.ProxyCA != "" {
		certs, err := pemcerts.ParsePEM([]byte(c.ProxyCA))
		if err != nil {
			return nil, fmt.Errorf("proxyCA: %v", err)
		}
		j.ProxyRoots = x509.NewCertPool()
		for _, c := range certs {
			j.ProxyRoots.AddCert(c)
		}
	}
	if c.Timeout != "" {
		d, err := time.ParseDuration(c.Timeout)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("timeout: %q is not a positive duration such as 10m", c.Timeout)
		}
		j.Deadline = d
	}
	for _, p := range []struct{ name, v string }{
		{"paths.bootstrapKubeconfig", c.Paths.BootstrapKubeconfig},
		{"paths.caCert", c.Paths.CACert},
		{"paths.kubeletKubeconfig", c.Paths.KubeletKubeconfig},
	} {
		if !path.IsAbs(p.v) || path.Clean(p.v) != p.v {
			return nil, fmt.Errorf("%s: %q is not a clean absolute path", p.name, p.v)
		}
	}
	return j, nil
}

// KubeletServer is the server the bootstrap kubeconfig names, given the
// endpoint that answered discovery and the server cluster-info names.
func (j *Join) KubeletServer(discovered, clusterInfo string) string {
	switch j.Server {
	case ServerClusterInfo:
		return clusterInfo
	case ServerDiscovered:
		return "https://" + discovered
	}
	return j.Server
}
