package discovery

import (
	"crypto/x509"
	"errors"
	"fmt"

	pemcerts "github.com/kubebake/kubebake/internal/certs"
	"github.com/kubebake/kubebake/internal/kubeconfig"
)

// maxCACerts bounds the certificates taken from a bundle. A CA rotation
// needs two or three.
const maxCACerts = 16

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
	certs, err := pemcerts.ParsePEM(cl.CAData)
	if err != nil {
		return nil, nil, fmt.Errorf("the kubeconfig's certificate-authority-data: %v", err)
	}
	if len(certs) > maxCACerts {
		return nil, nil, fmt.Errorf("the kubeconfig's certificate-authority-data holds more than %d certificates", maxCACerts)
	}
	return cl, certs, nil
}
