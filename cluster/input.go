package cluster

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

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

// ReadCABundle reads PEM certificate files. Each file must hold at least one
// CERTIFICATE block and nothing else; a private key is refused, so that a
// mistyped --ca ca.key cannot end up in a world-readable ConfigMap. Errors
// name the file.
func ReadCABundle(paths []string) (*CABundle, error) {
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
		certs, err := ParseCertificatesPEM(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", p, err)
		}
		for _, c := range certs {
			if seen[string(c.Raw)] {
				continue
			}
			seen[string(c.Raw)] = true
			b.Certs = append(b.Certs, c)
			b.PEM = append(b.PEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
		}
	}
	return &b, nil
}

// ParseCertificatesPEM parses a PEM bundle that holds only certificates.
func ParseCertificatesPEM(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := data
	for n := 1; ; n++ {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		switch block.Type {
		case "CERTIFICATE":
		case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY":
			return nil, fmt.Errorf("PEM block %d is a %s: give the CA certificate (ca.crt), never its key", n, block.Type)
		default:
			return nil, fmt.Errorf("PEM block %d is a %q, not a CERTIFICATE", n, block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %v", n, err)
		}
		certs = append(certs, c)
	}
	if len(bytes.TrimSpace(rest)) > 0 && len(certs) > 0 {
		return nil, errors.New("holds text after its last certificate that is not PEM")
	}
	if len(certs) == 0 {
		return nil, errors.New("holds no PEM CERTIFICATE block")
	}
	return certs, nil
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
// $KUBEBAKE_TOKEN (the flags win over the variable; both flags at once is an
// error). Errors name the flag or variable and never quote the secret.
func ReadToken(src TokenSource) (token.Token, error) {
	switch {
	case src.File != "" && src.Value != "":
		return token.Token{}, errors.New("--token-file and --token both given: give one")
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
	case src.Env != "":
		t, err := token.Parse(src.Env)
		if err != nil {
			return token.Token{}, fmt.Errorf("$%s: %v", EnvToken, err)
		}
		return t, nil
	}
	return token.Token{}, fmt.Errorf("no bootstrap token: give --token-file FILE (kubebake token generate > token makes one), --token, or $%s", EnvToken)
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
