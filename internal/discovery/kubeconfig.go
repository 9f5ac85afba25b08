package discovery

import (
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	pemcerts "github.com/kubebake/kubebake/internal/certs"
	"strings"

	"sigs.k8s.io/yaml"
)

// kubeconfig is the part of a kubeconfig (clientcmd's v1 Config) that
// discovery reads. The agent carries no client-go.
type kubeconfig struct {
	Clusters []struct {
		Name    string `json:"name"`
		Cluster struct {
			Server string `json:"server"`
			CAData []byte `json:"certificate-authority-data"`
		} `json:"cluster"`
	} `json:"clusters"`
	Contexts []struct {
		Name    string `json:"name"`
		Context struct {
			Cluster string `json:"cluster"`
			User    string `json:"user"`
		} `json:"context"`
	} `json:"contexts"`
	CurrentContext string `json:"current-context"`
}

// maxCACerts bounds the certificates taken from a bundle. A CA rotation
// needs two or three.
const maxCACerts = 16

// ParseKubeconfigCA returns the CA certificates of the cluster a kubeconfig
// uses (the current context's, or else the first cluster: cluster-info holds
// one cluster and no contexts) and that cluster's certificate-authority-data
// re-encoded as PEM. Several certificates are normal during a CA rotation.
func ParseKubeconfigCA(data []byte) ([]*x509.Certificate, []byte, error) {
	var kc kubeconfig
	if err := yaml.Unmarshal(data, &kc); err != nil {
		return nil, nil, fmt.Errorf("the kubeconfig does not parse: %v", err)
	}
	if len(kc.Clusters) == 0 {
		return nil, nil, errors.New("the kubeconfig names no cluster")
	}
	i := 0
	if kc.CurrentContext != "" {
		i = -1
		for _, c := range kc.Contexts {
			if c.Name == kc.CurrentContext {
				for j, cl := range kc.Clusters {
					if cl.Name == c.Context.Cluster {
						i = j
						break
					}
				}
				break
			}
		}
		if i < 0 {
			return nil, nil, fmt.Errorf("the kubeconfig's current context %q names no cluster it defines", kc.CurrentContext)
		}
	}
	ca := kc.Clusters[i].Cluster.CAData
	if len(ca) == 0 {
		return nil, nil, errors.New("the kubeconfig's cluster has no certificate-authority-data")
	}
	certs, bundle, err := parseCABundle(ca)
	if err != nil {
		return nil, nil, fmt.Errorf("the kubeconfig's certificate-authority-data: %v", err)
	}
	return certs, bundle, nil
}

// parseCABundle parses PEM certificates (internal/certs) and returns them,
// re-encoded, as a clean bundle, capped at maxCACerts.
func parseCABundle(data []byte) ([]*x509.Certificate, []byte, error) {
	all, err := pemcerts.ParsePEM(data)
	if err != nil {
		return nil, nil, err
	}
	if len(all) > maxCACerts {
		return nil, nil, fmt.Errorf("holds more than %d certificates", maxCACerts)
	}
	return all, pemcerts.EncodePEM(all), nil
}

// BootstrapKubeconfig is the rendered bootstrap kubeconfig the agent starts
// from. It is kept as generic YAML so that RewriteBootstrap changes the
// cluster's server and CA and preserves everything else, fields this
// package does not know included.
type BootstrapKubeconfig struct {
	doc     map[string]any
	cluster map[string]any // the current context's cluster entry
}

// ParseBootstrapKubeconfig parses a bootstrap kubeconfig and checks that its
// current context names a cluster and a user whose bearer token is wantToken.
// Errors never quote the file's contents: it holds the token.
func ParseBootstrapKubeconfig(data []byte, wantToken string) (*BootstrapKubeconfig, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("not valid YAML: %s", redact(err.Error(), wantToken))
	}
	if doc == nil {
		return nil, errors.New("is empty")
	}
	current, _ := doc["current-context"].(string)
	if current == "" {
		return nil, errors.New("sets no current-context")
	}
	ctx := named(doc, "contexts", "context", current)
	if ctx == nil {
		return nil, fmt.Errorf("has no context %q (its current-context)", current)
	}
	clusterName, _ := ctx["cluster"].(string)
	userName, _ := ctx["user"].(string)
	cluster := named(doc, "clusters", "cluster", clusterName)
	if cluster == nil {
		return nil, fmt.Errorf("has no cluster %q (named by context %q)", clusterName, current)
	}
	user := named(doc, "users", "user", userName)
	if user == nil {
		return nil, fmt.Errorf("has no user %q (named by context %q)", userName, current)
	}
	tok, _ := user["token"].(string)
	if tok == "" {
		return nil, fmt.Errorf("user %q has no token: the kubelet would have nothing to bootstrap with", userName)
	}
	if subtle.ConstantTimeCompare([]byte(tok), []byte(wantToken)) != 1 {
		return nil, fmt.Errorf("user %q's token is not the token of join.yaml: the kubelet would bootstrap with a token discovery did not verify; render the node again", userName)
	}
	return &BootstrapKubeconfig{doc: doc, cluster: cluster}, nil
}

// named returns the map under key inner of the element of the list doc[list]
// whose name is name, or nil.
func named(doc map[string]any, list, inner, name string) map[string]any {
	items, _ := doc[list].([]any)
	for _, it := range items {
		m, _ := it.(map[string]any)
		if n, _ := m["name"].(string); n == name && m != nil {
			v, _ := m[inner].(map[string]any)
			if v == nil {
				v = map[string]any{}
				m[inner] = v
			}
			return v
		}
	}
	return nil
}

// Rewrite returns the kubeconfig with its cluster's server set to
// https://<endpoint> and its certificate-authority-data set to caBundle;
// everything else is kept as it was.
func (b *BootstrapKubeconfig) Rewrite(endpoint string, caBundle []byte) ([]byte, error) {
	b.cluster["server"] = "https://" + endpoint
	b.cluster["certificate-authority-data"] = base64.StdEncoding.EncodeToString(caBundle)
	delete(b.cluster, "certificate-authority") // a file path would override the data
	delete(b.cluster, "insecure-skip-tls-verify")
	// Marshal through encoding/json first so the YAML is a faithful copy of
	// the JSON document sigs.k8s.io/yaml parsed.
	j, err := json.Marshal(b.doc)
	if err != nil {
		return nil, err
	}
	return yaml.JSONToYAML(j)
}

// redact removes secret from s.
func redact(s, secret string) string {
	if secret == "" {
		return s
	}
	s = strings.ReplaceAll(s, secret, "<redacted>")
	if _, sec, ok := strings.Cut(secret, "."); ok && sec != "" {
		s = strings.ReplaceAll(s, sec, "<redacted>")
	}
	return s
}
