package discovery

import (
	"crypto/x509"
	"errors"
	"fmt"

	"encoding/pem"
	"github.com/kubebake/kubebake/internal/kubeconfig"
)

// ReadCluster is the one reader of cluster-info's kubeconfig (the agent's
// and kubebake check's): it returns the cluster the kubeconfig uses — the
// current context's, or else its only one: cluster-info holds one cluster
// and no contexts — with its CA certificates parsed. Several certificates
// are normal during a CA rotation.
func ReadCluster(data []byte) (*kubeconfig.Cluster, []*x509.Certificate, error) {
	kc, err := kubeconfig.Parse(data)
	if err != nil {
		return nil, nil, fmt.Errorf("the kubeconfig does not parse: %v", err)
	}
	var cl *kubeconfig.Cluster
	switch {
	case kc.CurrentContext != "":
		for _, c := range kc.Contexts {
			if c.Name != kc.CurrentContext {
				continue
			}
			for j := range kc.Clusters {
				if kc.Clusters[j].Name == c.Context.Cluster {
					cl = &kc.Clusters[j].Cluster
					break
				}
			}
			break
		}
		if cl == nil {
			return nil, nil, fmt.Errorf("the kubeconfig's current context %q names no cluster it defines", kc.CurrentContext)
		}
	case len(kc.Clusters) == 1:
		cl = &kc.Clusters[0].Cluster
	default:
		return nil, nil, fmt.Errorf("the kubeconfig has %d clusters and no current context naming one", len(kc.Clusters))
	}
	if cl.Server == "" {
		return nil, nil, errors.New("the kubeconfig's cluster has no server")
	}
	if len(cl.CAData) == 0 {
		return nil, nil, errors.New("the kubeconfig's cluster has no certificate-authority-data")
	}
	certs := parseBundle(cl.CAData)
	if len(certs) == 0 {
		return nil, nil, errors.New("the kubeconfig's certificate-authority-data holds no certificate")
	}
	return cl, certs, nil
}

// parseBundle reads a CA bundle from the network as kubeadm join does
// (client-go's certutil.ParseCertsPEM): every CERTIFICATE block without
// headers, in order; other blocks and text around them are skipped, and
// there is no count limit (MaxBodySize bounds the answer). A block that
// does not parse is skipped too: only a pinned CA is ever trusted, so
// what is skipped could never have passed, and the pinned one among the
// rest still does.
func parseBundle(data []byte) []*x509.Certificate {
	var certs []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return certs
		}
		if b.Type != "CERTIFICATE" || len(b.Headers) != 0 {
			continue
		}
		if c, err := x509.ParseCertificate(b.Bytes); err == nil {
			certs = append(certs, c)
		}
	}
}
