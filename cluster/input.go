package cluster

import (
	"crypto/x509"
	"fmt"
	"strings"
	"time"

	"github.com/kubebake/kubebake/internal/certs"
	"github.com/kubebake/kubebake/internal/inputs"
	"github.com/kubebake/kubebake/internal/pin"
	bootstrapapi "k8s.io/cluster-bootstrap/token/api"
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

// ReadCABundle reads --ca files as render does (internal/inputs: CA
// certificates only, valid at now; a private key is refused, so that a
// mistyped --ca ca.key cannot end up in a world-readable ConfigMap). Errors
// are *inputs.Error naming --ca; the warnings name CAs about to expire.
func ReadCABundle(paths []string, now time.Time) (*CABundle, []string, error) {
	all, warns, err := inputs.CAs(paths, inputs.ReadBounded, now)
	if err != nil {
		return nil, nil, err
	}
	return &CABundle{Certs: all, PEM: certs.EncodePEM(all)}, warns, nil
}

// DefaultGroup is the extra group kubeadm gives its node tokens; using the
// same one lets a kubeadm cluster's existing bindings serve our tokens too.
const DefaultGroup = "system:bootstrappers:kubeadm:default-node-token"

// ValidateGroups checks auth-extra-groups against the grammar the bootstrap
// token authenticator enforces (a token with a bad group authenticates no one).
func ValidateGroups(groups []string) error {
	seen := map[string]bool{}
	for _, g := range groups {
		if !validBootstrapGroup(g) {
			return fmt.Errorf("bootstrap group %q is invalid (must match %s)", g, bootstrapapi.BootstrapGroupPattern)
		}
		if seen[g] {
			return fmt.Errorf("group %q given twice", g)
		}
		seen[g] = true
	}
	return nil
}

// validBootstrapGroup is bootstrapapi.BootstrapGroupPattern
// (\Asystem:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]\z) by hand:
// cluster-bootstrap's token/util compiles that regexp, and two more, at
// package init, about a millisecond that every kubebake command, render
// too, would pay. TestValidBootstrapGroup compares the two.
func validBootstrapGroup(g string) bool {
	const prefix = "system:bootstrappers:"
	rest, ok := strings.CutPrefix(g, prefix)
	if !ok || len(rest) < 1 || len(rest) > 256 {
		return false
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && (i == len(rest)-1 || c != ':' && c != '-') {
			return false
		}
	}
	return true
}
