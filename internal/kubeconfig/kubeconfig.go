// Package kubeconfig is kubebake's one kubeconfig: the types of the part of
// client-go's clientcmd v1 Config that kubebake reads and writes, and their
// writer. It carries no client-go, so that the agent can use it; the field
// names and encoding are clientcmd's, and sigs.k8s.io/yaml writes a Config
// byte for byte as clientcmd.Write writes the same config (JSON field names,
// keys sorted). The agent (bootstrap kubeconfig), the renderer (the
// token-file kubeconfig of a node without the agent), the cluster commands
// (cluster-info) and the test harnesses all write through it.
package kubeconfig

import "sigs.k8s.io/yaml"

// Config is a kubeconfig file.
type Config struct {
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
	// CAFile is certificate-authority: a file holding the PEM.
	CAFile string `json:"certificate-authority,omitempty"`
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

// AuthInfo is a user's credential: a bearer token (or a file holding it),
// or a client certificate and key (files).
type AuthInfo struct {
	Token string `json:"token,omitempty"`
	// TokenFile names a file holding the token instead (client-go reads
	// it): the renderer's kubeconfig for a node without the agent.
	TokenFile         string `json:"tokenFile,omitempty"`
	ClientCertificate string `json:"client-certificate,omitempty"`
	ClientKey         string `json:"client-key,omitempty"`
}

// Parse reads a kubeconfig.
func Parse(data []byte) (*Config, error) {
	var c Config
	if err := yaml.Unmarshal(data, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// Marshal writes c as clientcmd.Write writes the same config.
func (c Config) Marshal() ([]byte, error) {
	if c.APIVersion == "" {
		c.APIVersion = "v1"
	}
	if c.Kind == "" {
		c.Kind = "Config"
	}
	return yaml.Marshal(c)
}

// Single is a kubeconfig of one cluster, one user and one context, current:
// what a client (the kubelet, a test's admin) uses.
func Single(clusterName string, cl Cluster, userName string, user AuthInfo) Config {
	ctx := userName + "@" + clusterName
	return Config{
		Clusters:       []NamedCluster{{Name: clusterName, Cluster: cl}},
		Contexts:       []NamedContext{{Name: ctx, Context: Context{Cluster: clusterName, AuthInfo: userName}}},
		CurrentContext: ctx,
		Users:          []NamedAuthInfo{{Name: userName, AuthInfo: user}},
	}
}

// Names in the bootstrap kubeconfig, as kubebake render has always named them.
const (
	BootstrapClusterName = "kubernetes"
	BootstrapUserName    = "kubelet-bootstrap"
	BootstrapContextName = BootstrapUserName + "@" + BootstrapClusterName
)

// Bootstrap is the kubeconfig the kubelet TLS-bootstraps with: one cluster
// (server, the CA bundle in PEM), one user with the bootstrap token (user.Token,
// which makes the result a secret: write it 0600) or the file holding it
// (user.TokenFile), one context, current.
func Bootstrap(server string, caPEM []byte, user AuthInfo) ([]byte, error) {
	return Single(BootstrapClusterName, Cluster{Server: server, CAData: caPEM}, BootstrapUserName, user).Marshal()
}

// ClusterInfo is the kubeconfig of kube-public/cluster-info: one cluster,
// unnamed as kubeadm writes it, with the CA bundle and the server, and no
// credentials.
func ClusterInfo(server string, caPEM []byte) ([]byte, error) {
	return Config{Clusters: []NamedCluster{{Cluster: Cluster{Server: server, CAData: caPEM}}}}.Marshal()
}
