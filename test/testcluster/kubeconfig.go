package testcluster

import "sigs.k8s.io/yaml"

// Kubeconfig is the subset of client-go's clientcmd v1 Config the harness
// writes and reads.
type Kubeconfig struct {
	APIVersion     string         `json:"apiVersion"`
	Kind           string         `json:"kind"`
	Clusters       []NamedCluster `json:"clusters"`
	Users          []NamedUser    `json:"users,omitempty"`
	Contexts       []NamedContext `json:"contexts,omitempty"`
	CurrentContext string         `json:"current-context,omitempty"`
}

// NamedCluster is one clusters[] entry.
type NamedCluster struct {
	Name    string      `json:"name"`
	Cluster ClusterInfo `json:"cluster"`
}

// ClusterInfo is a cluster's server and CA.
type ClusterInfo struct {
	Server                   string `json:"server"`
	CertificateAuthorityData []byte `json:"certificate-authority-data,omitempty"`
	CertificateAuthority     string `json:"certificate-authority,omitempty"`
}

// NamedUser is one users[] entry.
type NamedUser struct {
	Name string   `json:"name"`
	User AuthInfo `json:"user"`
}

// AuthInfo is a user's credentials.
type AuthInfo struct {
	ClientCertificate string `json:"client-certificate,omitempty"`
	ClientKey         string `json:"client-key,omitempty"`
	Token             string `json:"token,omitempty"`
}

// NamedContext is one contexts[] entry.
type NamedContext struct {
	Name    string  `json:"name"`
	Context Context `json:"context"`
}

// Context binds a cluster to a user.
type Context struct {
	Cluster string `json:"cluster"`
	User    string `json:"user"`
}

// ParseKubeconfig decodes a kubeconfig file's bytes.
func ParseKubeconfig(data []byte) (*Kubeconfig, error) {
	var k Kubeconfig
	if err := yaml.Unmarshal(data, &k); err != nil {
		return nil, err
	}
	return &k, nil
}

// clientKubeconfig is a kubeconfig for a client certificate.
func clientKubeconfig(server, caFile, certFile, keyFile string) ([]byte, error) {
	return yaml.Marshal(Kubeconfig{
		APIVersion:     "v1",
		Kind:           "Config",
		Clusters:       []NamedCluster{{Name: "kubebake-test", Cluster: ClusterInfo{Server: server, CertificateAuthority: caFile}}},
		Users:          []NamedUser{{Name: "user", User: AuthInfo{ClientCertificate: certFile, ClientKey: keyFile}}},
		Contexts:       []NamedContext{{Name: "default", Context: Context{Cluster: "kubebake-test", User: "user"}}},
		CurrentContext: "default",
	})
}
