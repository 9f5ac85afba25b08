package cluster

import (
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/kubebake/kubebake/internal/certs"
	"github.com/kubebake/kubebake/internal/endpoint"
	"github.com/kubebake/kubebake/internal/pin"
	"github.com/kubebake/kubebake/internal/token"
	bootstraputil "k8s.io/cluster-bootstrap/token/util"
)

// CABundle is the cluster CA as the operator gave it: one or more
// certificates (several during a CA rotation).
type CABundle struct {
	// PEM is the certificates re-encoded, in the order given, duplicates
	// dropped: what goes into cluster-info.
	PEM   []byte
	Certs []*x509.Certificate
}

// Pins returns the set of the bundle's CA pins.
func (b *CABundle) Pins() pin.Set {
	hashes := make([]string, len(b.Certs))
	for i, c := range b.Certs {
		hashes[i] = pin.Hash(c)
	}
	s, err := pin.NewSet(hashes...)
	if err != nil {
		panic("pin.Hash made a pin pin.NewSet refuses: " + err.Error())
	}
	return s
}

// ReadCABundle reads PEM certificate files (internal/certs: CERTIFICATE
// blocks only; a private key is refused, so that a mistyped --ca ca.key
// cannot end up in a world-readable ConfigMap). Every certificate must be a
// CA valid at now. Errors name the file.
func ReadCABundle(paths []string, now time.Time) (*CABundle, error) {
	if len(paths) == 0 {
		return nil, errors.New("no CA certificate given")
	}
	var b CABundle
	seen := map[string]bool{}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		all, err := certs.ParsePEM(data)
		if err != nil {
			return nil, fmt.Errorf("%s %v", p, err)
		}
		for _, c := range all {
			if err := checkCA(c, now); err != nil {
				return nil, fmt.Errorf("%s: certificate %q %v", p, c.Subject.String(), err)
			}
			if seen[string(c.Raw)] {
				continue
			}
			seen[string(c.Raw)] = true
			b.Certs = append(b.Certs, c)
		}
	}
	b.PEM = certs.EncodePEM(b.Certs)
	return &b, nil
}

func checkCA(c *x509.Certificate, now time.Time) error {
	switch {
	case !c.BasicConstraintsValid || !c.IsCA:
		return errors.New("is not a CA certificate (basicConstraints CA:FALSE): give the cluster CA, not a leaf certificate")
	case now.Before(c.NotBefore):
		return fmt.Errorf("is not valid before %s (check this machine's clock)", c.NotBefore.UTC().Format(time.RFC3339))
	case now.After(c.NotAfter):
		return fmt.Errorf("expired on %s", c.NotAfter.UTC().Format(time.RFC3339))
	}
	return nil
}

// TokenSource names where a token came from, for error messages: the flag or
// variable, never the value.
type TokenSource struct {
	File  string // --token-file
	Value string // --token
	Env   string // KUBEBAKE_TOKEN
}

// EnvToken is the environment variable that may hold the token.
const EnvToken = "KUBEBAKE_TOKEN"

// ReadToken returns the token from exactly one of --token-file, --token or
// $KUBEBAKE_TOKEN (as kubebake render: more than one is an error, so that a
// forgotten variable never silently wins or loses). Errors name the flag or
// variable and never quote the secret.
func ReadToken(src TokenSource) (token.Token, error) {
	var set []string
	for _, s := range []struct{ name, v string }{{"--token-file", src.File}, {"--token", src.Value}, {"$" + EnvToken, src.Env}} {
		if s.v != "" {
			set = append(set, s.name)
		}
	}
	switch {
	case len(set) == 0:
		return token.Token{}, fmt.Errorf("no bootstrap token: give --token-file FILE (kubebake token generate > FILE makes one), --token, or $%s", EnvToken)
	case len(set) > 1:
		return token.Token{}, fmt.Errorf("give the token once: %s are all set", strings.Join(set, " and "))
	case src.File != "":
		data, err := os.ReadFile(src.File)
		if err != nil {
			return token.Token{}, fmt.Errorf("--token-file: %v", err)
		}
		t, err := token.ParseFile(data)
		if err != nil {
			return token.Token{}, fmt.Errorf("--token-file %s: %v", src.File, err)
		}
		return t, nil
	case src.Value != "":
		t, err := token.Parse(src.Value)
		if err != nil {
			return token.Token{}, fmt.Errorf("--token: %v", err)
		}
		return t, nil
	}
	t, err := token.Parse(src.Env)
	if err != nil {
		return token.Token{}, fmt.Errorf("$%s: %v", EnvToken, err)
	}
	return t, nil
}

// ParseEndpoints canonicalizes API server addresses (host:port), dropping
// duplicates and keeping the order. Errors name the address.
func ParseEndpoints(addrs []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, a := range addrs {
		ep, err := endpoint.Parse(a)
		if err != nil {
			return nil, err
		}
		if !seen[ep] {
			seen[ep] = true
			out = append(out, ep)
		}
	}
	return out, nil
}

// DefaultGroup is the extra group kubeadm gives its node tokens; using the
// same one lets a kubeadm cluster's existing bindings serve our tokens too.
const DefaultGroup = "system:bootstrappers:kubeadm:default-node-token"

// ValidateGroups checks auth-extra-groups against the grammar the bootstrap
// token authenticator enforces (a token with a bad group authenticates no one).
func ValidateGroups(groups []string) error {
	seen := map[string]bool{}
	for _, g := range groups {
		if err := bootstraputil.ValidateBootstrapGroupName(g); err != nil {
			return err
		}
		if seen[g] {
			return fmt.Errorf("group %q given twice", g)
		}
		seen[g] = true
	}
	return nil
}
