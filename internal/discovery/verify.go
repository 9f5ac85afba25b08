package discovery

import (
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	pemcerts "github.com/kubebake/kubebake/internal/certs"
	"github.com/kubebake/kubebake/internal/pin"
	"github.com/kubebake/kubebake/internal/token"
)

// Failure classifies why an answer for cluster-info was not accepted.
type Failure int

const (
	// Unparsable: the answer is not a cluster-info ConfigMap. Anyone on the
	// path can send that; retried.
	Unparsable Failure = iota + 1
	// Unsigned: cluster-info carries no signature for the token: the
	// cluster does not know the token (yet), it expired, or it lacks the
	// signing usage. Retried: the bootstrapsigner adds it seconds after
	// the token Secret appears.
	Unsigned
	// BadSignature: a signature for the token is there but garbled, or its
	// MAC does not verify with the token secret. Token ids are public:
	// anyone on the path can send that; retried.
	BadSignature
	// SignedUnusable: correctly signed with the token, but its kubeconfig
	// names no usable cluster or CA. Only a holder of the token can send
	// that.
	SignedUnusable
	// NotPinned: correctly signed with the token, but no CA in it matches a
	// pin: the cluster is not the one the node was rendered for, or its CA
	// was replaced. Only a holder of the token can send that.
	NotPinned
)

// Signed reports whether a failure came with a valid signature, that is
// from someone who holds the token.
func (f Failure) Signed() bool { return f == SignedUnusable || f == NotPinned }

// VerifyError is a refused cluster-info.
type VerifyError struct {
	Failure Failure
	Err     error
	// CAs are the signed bundle's certificates when Failure is NotPinned:
	// what the endpoint must prove it serves with before a refusal is final.
	CAs []*x509.Certificate
}

func (e *VerifyError) Error() string { return e.Err.Error() }
func (e *VerifyError) Unwrap() error { return e.Err }

func verifyErrorf(f Failure, format string, a ...any) *VerifyError {
	return &VerifyError{Failure: f, Err: fmt.Errorf(format, a...)}
}

// Verified is a cluster-info that passed: signed with the token, and at
// least one of its CAs pinned.
type Verified struct {
	// Kubeconfig is cluster-info's kubeconfig, exactly as signed.
	Kubeconfig string
	// Server is the server that kubeconfig names, as written there.
	Server string
	// CAs are the pinned CAs of the bundle, in its order: the only ones
	// trusted for the verified fetch and installed. Bundle is them in PEM.
	CAs    []*x509.Certificate
	Bundle []byte
	// Pins are the CAs' pins.
	Pins []string
	// Unpinned are the bundle's other CAs: reported, never trusted.
	Unpinned []*x509.Certificate
}

// Verify is the pure verification step of token discovery, shared by
// kubebake-join and kubebake check: it takes the API server's answer for
// cluster-info (the ConfigMap in JSON), the token and the pins, and returns
// the verified cluster, or a *VerifyError saying what failed. It does no
// I/O and reads no clock.
func Verify(body []byte, tok token.Token, pins pin.Set) (*Verified, error) {
	ci, err := parseClusterInfo(body)
	if err != nil {
		return nil, &VerifyError{Failure: Unparsable, Err: err}
	}
	return VerifyData(ci.Kubeconfig, ci.Signatures, tok, pins)
}

// VerifyData is Verify over cluster-info's data already taken apart: its
// kubeconfig and its signatures by token id.
func VerifyData(kubeconfig string, signatures map[string]string, tok token.Token, pins pin.Set) (*Verified, error) {
	id := tok.ID()
	sig, ok := signatures[id]
	if !ok {
		return nil, &VerifyError{Failure: Unsigned, Err: missingSignature(id, signatures)}
	}
	if err := VerifyJWS(sig, []byte(kubeconfig), id, tok.Secret()); err != nil {
		if errors.Is(err, errSignatureMismatch) {
			return nil, verifyErrorf(BadSignature, "cluster-info's signature for token %s (%s%s) does not verify with the token secret of join.yaml: the secret is wrong (a token with the same id was re-created?), or this is not the cluster that issued the token", id, jwsKeyPrefix, id)
		}
		return nil, verifyErrorf(BadSignature, "cluster-info's %s%s is not a valid signature for token %s: %v", jwsKeyPrefix, id, id, err)
	}
	cl, certs, err := ReadCluster([]byte(kubeconfig))
	if err != nil {
		return nil, verifyErrorf(SignedUnusable, "cluster-info is signed for token %s but unusable: %v", id, err)
	}
	v := &Verified{Kubeconfig: kubeconfig, Server: cl.Server}
	for _, c := range certs {
		if pins.Has(c) {
			v.CAs = append(v.CAs, c)
			v.Pins = append(v.Pins, pin.Hash(c))
		} else {
			v.Unpinned = append(v.Unpinned, c)
		}
	}
	if len(v.CAs) == 0 {
		e := verifyErrorf(NotPinned, "%s the pinned hashes %s: this is not the cluster this node was rendered for, or its CA was replaced; if so, render with the new CA's pin (kubebake hash ca.crt)",
			describeCAs(certs), strings.Join(pins.List(), ", "))
		e.CAs = certs
		return nil, e
	}
	v.Bundle = pemcerts.EncodePEM(v.CAs)
	return v, nil
}

// DescribeCert names a certificate in logs: its pin and subject, the
// subject quoted when it holds anything but printable ASCII (it came from
// the network: a CN with a newline must not forge a journal line).
func DescribeCert(c *x509.Certificate) string {
	return fmt.Sprintf("%s (%s)", pin.Hash(c), loggable(c.Subject.String()))
}

func describeCAs(certs []*x509.Certificate) string {
	var parts []string
	for _, c := range certs {
		parts = append(parts, DescribeCert(c))
	}
	if len(parts) == 1 {
		return "cluster CA " + parts[0] + " matches none of"
	}
	return "none of the cluster CAs " + strings.Join(parts, ", ") + " matches any of"
}

// missingSignature explains a cluster-info without our token's signature.
func missingSignature(id string, signatures map[string]string) error {
	msg := fmt.Sprintf("token %s is unknown to the cluster, expired, or lacks usage-bootstrap-signing (no %s%s in cluster-info)", id, jwsKeyPrefix, id)
	ids := signedIDs(signatures)
	switch {
	case len(ids) == 0:
		msg += "; cluster-info is signed for no token at all: is the bootstrapsigner controller running (kube-controller-manager --controllers=*,bootstrapsigner,tokencleaner)?"
	case len(ids) <= 5:
		for i := range ids {
			ids[i] = loggable(ids[i]) // anyone's: the answer is not verified
		}
		msg += "; it is signed for tokens " + strings.Join(ids, ", ")
	default:
		msg += fmt.Sprintf("; it is signed for %d other tokens", len(ids))
	}
	return errors.New(msg)
}
