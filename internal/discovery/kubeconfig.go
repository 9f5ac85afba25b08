package discovery

import (
	"crypto/x509"
	"errors"
	"fmt"

	pemcerts "github.com/kubebake/kubebake/internal/certs"
	"sigs.k8s.io/yaml"
)

// Kubeconfig is the part of a kubeconfig (client-go's clientcmd v1 Config)
// that kubebake reads and writes. The agent carries no client-go; its
// field names and encoding are clientcmd's, and sigs.k8s.io/yaml writes it
// as clientcmd.Write does (JSON field names, keys sorted).
type Kubeconfig struct {
	APIVersion     string          `json:"apiVersion"`
	Kind           string          `json:"kind"`
	Clusters       []NamedCluster  `json:"clusters"`
	Contexts       []NamedContext  `json:"contexts"`
	CurrentContext string          `json:"current-context"`
	Users          []NamedAuthInfo `json:"users"`
}

// NamedCluster is a kubeconfig's cluster entry.
type NamedCluster struct {
	Name    string  `json:"name"`
	Cluster Cluster `json:"cluster"`
}

// Cluster is where a cluster is and which CAs it is verified with.
type Cluster struct {
	Server string `json:"server"`
	// CAData is certificate-authority-data: PEM, base64 in the file.
	CAData []byte `json:"certificate-authority-data,omitempty"`
}

// NamedContext is a kubeconfig's context entry.
type NamedContext struct {
	Name    string  `json:"name"`
	Context Context `json:"context"`
}

// Context ties a cluster to a user.
type Context struct {
	Cluster  string `json:"cluster"`
	AuthInfo string `json:"user"`
}

// NamedAuthInfo is a kubeconfig's user entry.
type NamedAuthInfo struct {
	Name     string   `json:"name"`
	AuthInfo AuthInfo `json:"user"`
}

// AuthInfo is a user's credential: here only a bearer token.
type AuthInfo struct {
	Token string `json:"token,omitempty"`
	// TokenFile names a file holding the token instead (client-go reads
	// it): the renderer's kubeconfig for a node without the agent.
	TokenFile string `json:"tokenFile,omitempty"`
}

// maxCACerts bounds the certificates taken from a bundle. A CA rotation
// needs two or three.
const maxCACerts = 16

// ReadCluster is the one reader of cluster-info's kubeconfig (the agent's
// and kubebake check's): it returns the cluster the kubeconfig uses — the
// current context's, or else its only one: cluster-info holds one cluster
// and no contexts — with its CA certificates parsed. Several certificates
// are normal during a CA rotation.
func ReadCluster(data []byte) (*Cluster, []*x509.Certificate, error) {
	var kc Kubeconfig
	if err := yaml.Unmarshal(data, &kc); err != nil {
		return nil, nil, fmt.Errorf("the kubeconfig does not parse: %v", err)
	}
	var cl *Cluster
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

// Names in the bootstrap kubeconfig, as kubebake render has always named them.
const (
	BootstrapClusterName = "kubernetes"
	BootstrapUserName    = "kubelet-bootstrap"
	BootstrapContextName = BootstrapUserName + "@" + BootstrapClusterName
)

// BootstrapKubeconfig is the kubeconfig the kubelet TLS-bootstraps with:
// one cluster (server, the CA bundle in PEM), one user with the bootstrap
// token, one context, current. The bytes are what clientcmd.Write writes
// for the same config. The result holds the token: write it 0600.
func BootstrapKubeconfig(server string, caPEM []byte, token string) ([]byte, error) {
	return bootstrapKubeconfig(server, caPEM, AuthInfo{Token: token})
}

// BootstrapKubeconfigTokenFile is BootstrapKubeconfig with the token left
// in tokenFile, which client-go reads: the renderer's kubeconfig for a node
// without the agent, so that it holds no secret.
func BootstrapKubeconfigTokenFile(server string, caPEM []byte, tokenFile string) ([]byte, error) {
	return bootstrapKubeconfig(server, caPEM, AuthInfo{TokenFile: tokenFile})
}

func bootstrapKubeconfig(server string, caPEM []byte, user AuthInfo) ([]byte, error) {
	kc := Kubeconfig{
		APIVersion:     "v1",
		Kind:           "Config",
		Clusters:       []NamedCluster{{Name: BootstrapClusterName, Cluster: Cluster{Server: server, CAData: caPEM}}},
		Contexts:       []NamedContext{{Name: BootstrapContextName, Context: Context{Cluster: BootstrapClusterName, AuthInfo: BootstrapUserName}}},
		CurrentContext: BootstrapContextName,
		Users:          []NamedAuthInfo{{Name: BootstrapUserName, AuthInfo: user}},
	}
	return yaml.Marshal(kc)
}
