package testcluster

import "github.com/kubebake/kubebake/internal/kubeconfig"

// ParseKubeconfig decodes a kubeconfig file's bytes (kubebake's one
// kubeconfig schema, internal/kubeconfig).
func ParseKubeconfig(data []byte) (*kubeconfig.Config, error) { return kubeconfig.Parse(data) }

// clientKubeconfig is a kubeconfig for a client certificate.
func clientKubeconfig(server, caFile, certFile, keyFile string) ([]byte, error) {
	return kubeconfig.Single("kubebake-test", kubeconfig.Cluster{Server: server, CAFile: caFile},
		"user", kubeconfig.AuthInfo{ClientCertificate: certFile, ClientKey: keyFile}).Marshal()
}
