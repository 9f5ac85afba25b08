package testcluster

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kubebake/kubebake/internal/token"
	"github.com/kubebake/kubebake/test/discoverytest"
)

// The cluster-side objects of token discovery and TLS bootstrap, as kubeadm
// creates them. Tests prepare a cluster with these until kubebake's own
// cluster-side output exists, and to compare with it.

// DefaultNodeTokenGroup is kubeadm's extra group for node bootstrap tokens.
const DefaultNodeTokenGroup = "system:bootstrappers:kubeadm:default-node-token"

type objectMeta struct {
	Name      string            `json:"name"`
	Namespace string            `json:"namespace,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
}

type secret struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   objectMeta        `json:"metadata"`
	Type       string            `json:"type"`
	StringData map[string]string `json:"stringData"`
}

// ConfigMap is a core/v1 ConfigMap.
type ConfigMap struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   objectMeta        `json:"metadata"`
	Data       map[string]string `json:"data"`
}

type policyRule struct {
	APIGroups     []string `json:"apiGroups"`
	Resources     []string `json:"resources"`
	ResourceNames []string `json:"resourceNames,omitempty"`
	Verbs         []string `json:"verbs"`
}

type role struct {
	APIVersion string       `json:"apiVersion"`
	Kind       string       `json:"kind"`
	Metadata   objectMeta   `json:"metadata"`
	Rules      []policyRule `json:"rules"`
}

type roleRef struct {
	APIGroup string `json:"apiGroup"`
	Kind     string `json:"kind"`
	Name     string `json:"name"`
}

type subject struct {
	APIGroup string `json:"apiGroup"`
	Kind     string `json:"kind"`
	Name     string `json:"name"`
}

type binding struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Metadata   objectMeta `json:"metadata"`
	RoleRef    roleRef    `json:"roleRef"`
	Subjects   []subject  `json:"subjects"`
}

const rbacV1 = "rbac.authorization.k8s.io/v1"

// PrepareBootstrap creates what kubeadm init creates for token discovery and
// TLS bootstrap: the kube-public/cluster-info ConfigMap (a kubeconfig with
// this server and CA) readable by anonymous users, and the bindings that let
// DefaultNodeTokenGroup create CSRs that are auto-approved, and nodes renew.
func (c *Cluster) PrepareBootstrap(t testing.TB) {
	t.Helper()
	// As kubeadm writes it (preferences: {}), not as kubebake does.
	kc := discoverytest.Kubeconfig(t, c.Server(), c.CACertPEM)
	c.Create(t, "/api/v1/namespaces/kube-public/configmaps", ConfigMap{
		APIVersion: "v1", Kind: "ConfigMap",
		Metadata: objectMeta{Name: "cluster-info", Namespace: "kube-public"},
		Data:     map[string]string{"kubeconfig": string(kc)},
	})
	c.Create(t, "/apis/rbac.authorization.k8s.io/v1/namespaces/kube-public/roles", role{
		APIVersion: rbacV1, Kind: "Role",
		Metadata: objectMeta{Name: "kubeadm:bootstrap-signer-clusterinfo", Namespace: "kube-public"},
		Rules:    []policyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{"cluster-info"}, Verbs: []string{"get"}}},
	})
	c.Create(t, "/apis/rbac.authorization.k8s.io/v1/namespaces/kube-public/rolebindings", binding{
		APIVersion: rbacV1, Kind: "RoleBinding",
		Metadata: objectMeta{Name: "kubeadm:bootstrap-signer-clusterinfo", Namespace: "kube-public"},
		RoleRef:  roleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "kubeadm:bootstrap-signer-clusterinfo"},
		Subjects: []subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "User", Name: "system:anonymous"}},
	})
	for _, b := range []struct{ name, role, kind, subject string }{
		{"kubeadm:kubelet-bootstrap", "system:node-bootstrapper", "Group", DefaultNodeTokenGroup},
		{"kubeadm:node-autoapprove-bootstrap", "system:certificates.k8s.io:certificatesigningrequests:nodeclient", "Group", DefaultNodeTokenGroup},
		{"kubeadm:node-autoapprove-certificate-rotation", "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient", "Group", "system:nodes"},
	} {
		c.Create(t, "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", binding{
			APIVersion: rbacV1, Kind: "ClusterRoleBinding",
			Metadata: objectMeta{Name: b.name},
			RoleRef:  roleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: b.role},
			Subjects: []subject{{APIGroup: "rbac.authorization.k8s.io", Kind: b.kind, Name: b.subject}},
		})
	}
}

// CreateToken creates tok's bootstrap token Secret with both usages, the
// DefaultNodeTokenGroup extra group and the given lifetime (0: no expiry).
func (c *Cluster) CreateToken(t testing.TB, tok token.Token, ttl time.Duration) {
	t.Helper()
	data := map[string]string{
		"token-id":                       tok.ID(),
		"token-secret":                   tok.Secret(),
		"usage-bootstrap-authentication": "true",
		"usage-bootstrap-signing":        "true",
		"auth-extra-groups":              DefaultNodeTokenGroup,
		"description":                    "kubebake e2e test token",
	}
	if ttl > 0 {
		data["expiration"] = time.Now().Add(ttl).UTC().Format(time.RFC3339)
	}
	c.Create(t, "/api/v1/namespaces/kube-system/secrets", secret{
		APIVersion: "v1", Kind: "Secret",
		Metadata:   objectMeta{Name: "bootstrap-token-" + tok.ID(), Namespace: "kube-system"},
		Type:       "bootstrap.kubernetes.io/token",
		StringData: data,
	})
}

// DeleteToken deletes the token's Secret.
func (c *Cluster) DeleteToken(t testing.TB, id string) {
	t.Helper()
	c.Delete(t, "/api/v1/namespaces/kube-system/secrets/bootstrap-token-"+url.PathEscape(id))
}

// ClusterInfo returns the kube-public/cluster-info ConfigMap.
func (c *Cluster) ClusterInfo(t testing.TB) ConfigMap {
	t.Helper()
	var cm ConfigMap
	if !c.Get(t, "/api/v1/namespaces/kube-public/configmaps/cluster-info", &cm) {
		t.Fatal("kube-public/cluster-info does not exist")
	}
	return cm
}

// WaitJWS waits until the bootstrapsigner controller has signed cluster-info
// for the token id (the jws-kubeconfig-<id> key), or, with present false,
// until that key is gone (after the token was deleted). It returns how long
// that took.
func (c *Cluster) WaitJWS(t testing.TB, id string, present bool, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	key := "jws-kubeconfig-" + id
	for {
		var cm ConfigMap
		if c.Get(t, "/api/v1/namespaces/kube-public/configmaps/cluster-info", &cm) {
			if _, ok := cm.Data[key]; ok == present {
				return time.Since(start)
			}
		}
		if time.Since(start) > timeout {
			keys := make([]string, 0, len(cm.Data))
			for k := range cm.Data {
				keys = append(keys, k)
			}
			t.Fatalf("cluster-info: %s present=%v not reached within %v (keys: %s); is kube-controller-manager's bootstrapsigner running?", key, present, timeout, strings.Join(keys, ", "))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
