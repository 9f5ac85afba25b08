package discovery

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"time"
)

// peerVerified checks the TLS session an answer came over as a TLS client
// trusting only roots would have checked it during the handshake, and
// returns nil only if it passes. The handshake ran with InsecureSkipVerify
// (the pins cannot be checked before the answer is: only the signed answer
// says which of its CAs are pinned), but crypto/tls skips only the
// verification of the chain there: the server still proved, with a
// signature over the handshake (TLS 1.3's CertificateVerify, TLS 1.2's
// ServerKeyExchange), that it holds the private key of the leaf
// certificate it presented, and the answer was read over that session's
// keys. What is left is the chain, done here exactly as crypto/tls's
// client does it: x509 Verify with roots as the only roots, the
// intermediates the server sent, serverName (the endpoint dialled: a DNS
// name or an IP address), server authentication as the key usage, and
// the current time. A resumed session (the fetcher has no session cache,
// so there is none) or a missing one is refused: its certificates would
// not have been proved in this connection. Errors are *fetchError with
// verify set, worded as the pinned fetch's were (chainFirst included).
func peerVerified(cs *tls.ConnectionState, roots []*x509.Certificate, ep string) error {
	switch {
	case cs == nil || !cs.HandshakeComplete || len(cs.PeerCertificates) == 0:
		return &fetchError{msg: "the answer came over no TLS session with a server certificate", verify: errNoSession}
	case cs.DidResume:
		return &fetchError{msg: "the answer came over a resumed TLS session, in which the server proved no key", verify: errNoSession}
	}
	pool := x509.NewCertPool()
	for _, c := range roots {
		pool.AddCert(c)
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{
		Roots:         pool,
		Intermediates: inter,
		DNSName:       ServerName(ep),
		CurrentTime:   time.Now(),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if err == nil {
		return nil
	}
	var ve *tls.CertificateVerificationError
	if !errors.As(chainFirst(&tls.CertificateVerificationError{UnverifiedCertificates: cs.PeerCertificates, Err: err}, pool), &ve) {
		return &fetchError{msg: describeVerifyError(ep, err), verify: err} // not reached
	}
	return &fetchError{msg: describeVerifyError(ep, ve.Err), verify: ve.Err}
}

// errNoSession is a session whose certificates prove nothing.
var errNoSession = errors.New("no fully handshaken TLS session")
