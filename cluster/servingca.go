package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"
)

// ErrServingCA says the API server's serving certificate does not verify
// against the CA bundle kubebake was given.
var ErrServingCA = errors.New("the API server's certificate does not verify against --ca")

// VerifyServingCA connects to server (https://host[:port]) and checks that
// the certificate it serves chains to one of the bundle's CAs. apply calls
// it before publishing the bundle in cluster-info: a CA that does not sign
// the API server's certificate there breaks every token-discovery join,
// kubeadm's included. Names are not checked (the kubeconfig may reach the
// server by another name than nodes do); check does that per --api-server.
// A connection failure is returned as is; a mismatch wraps ErrServingCA.
func VerifyServingCA(ctx context.Context, server string, ca *CABundle, now time.Time) error {
	u, err := url.Parse(server)
	if err != nil || u.Host == "" {
		return fmt.Errorf("the kubeconfig's server %q is not a URL", server)
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "443")
	}
	conf := &tls.Config{InsecureSkipVerify: true} // verified below, against --ca only
	if net.ParseIP(u.Hostname()) == nil {
		conf.ServerName = u.Hostname()
	}
	d := tls.Dialer{Config: conf, NetDialer: &net.Dialer{}}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("cannot connect to %s: %w", addr, err)
	}
	defer conn.Close()
	chain := conn.(*tls.Conn).ConnectionState().PeerCertificates
	if len(chain) == 0 {
		return fmt.Errorf("%s: %w: it presents no certificate", addr, ErrServingCA)
	}
	roots := x509.NewCertPool()
	for _, c := range ca.Certs {
		roots.AddCert(c)
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	_, err = chain[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	var unknown x509.UnknownAuthorityError
	switch {
	case errors.As(err, &unknown):
		return fmt.Errorf("%s: %w: its certificate is issued by %q, which no --ca certificate signs", addr, ErrServingCA, chain[0].Issuer.String())
	case err != nil:
		return fmt.Errorf("%s: %w: %v", addr, ErrServingCA, err)
	}
	return nil
}
