// Package cluster is the cluster side of kubebake: the Kubernetes objects a
// cluster needs before nodes baked by kubebake render can join it (the
// bootstrap token Secret, the TLS-bootstrap RBAC, the kube-public/cluster-info
// ConfigMap and anonymous read of it), applying them with server-side apply,
// and the preflight checks that they are in place.
package cluster

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/kubebake/kubebake/internal/kubeconfig"
	"github.com/kubebake/kubebake/internal/token"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	bootstrapapi "k8s.io/cluster-bootstrap/token/api"
	"sigs.k8s.io/yaml"
)

// Names of the objects, and of the roles the bindings grant.
const (
	TokenNamespace       = metav1.NamespaceSystem // kube-system
	ClusterInfoNamespace = metav1.NamespacePublic // kube-public

	ClusterInfoRoleName = "kubebake:bootstrap-signer-clusterinfo"

	// The default ClusterRoles of TLS bootstrapping (created by every
	// kube-apiserver at start).
	RoleNodeBootstrapper = "system:node-bootstrapper"
	RoleNodeClient       = "system:certificates.k8s.io:certificatesigningrequests:nodeclient"
	RoleSelfNodeClient   = "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient"

	// NodesGroup is the group of every kubelet once it has its own certificate.
	NodesGroup = "system:nodes"
	// AnonymousUser is who a request without credentials runs as.
	AnonymousUser = "system:anonymous"
)

// Binding describes one of the ClusterRoleBindings TLS bootstrapping needs.
type Binding struct {
	Name string // our ClusterRoleBinding's name
	Role string // the ClusterRole it grants
	// ToNodes: granted to system:nodes; otherwise to the token's groups.
	ToNodes bool
	Purpose string
}

// Bindings are the three bindings of TLS bootstrapping, in output order.
var Bindings = []Binding{
	{Name: "kubebake:kubelet-bootstrap", Role: RoleNodeBootstrapper,
		Purpose: "lets the token create the node's certificate signing request"},
	{Name: "kubebake:node-autoapprove-bootstrap", Role: RoleNodeClient,
		Purpose: "auto-approves the first client certificate of a node joining with the token"},
	{Name: "kubebake:node-autoapprove-certificate-rotation", Role: RoleSelfNodeClient, ToNodes: true,
		Purpose: "auto-approves the renewal of a node's own client certificate"},
}

// Spec is what the objects are made from.
type Spec struct {
	Token token.Token
	CA    *CABundle
	// Endpoints are "host:port" API server addresses; cluster-info names the
	// first.
	Endpoints []string
	// Expires is when the token stops working; the zero time means never.
	Expires time.Time
	// Groups are the token's auth-extra-groups (DefaultGroup when empty).
	// The bootstrap bindings are granted to these groups, as kubeadm does,
	// not to every bootstrap token (system:bootstrappers).
	Groups      []string
	Description string
	// MaxJoins is how many distinct nodes may join with the token before
	// kubebake token prune deletes it (0: no limit).
	MaxJoins int
}

// Objects are the cluster objects of a Spec.
type Objects struct {
	TokenSecret            *corev1.Secret
	ClusterRoleBindings    []*rbacv1.ClusterRoleBinding
	ClusterInfo            *corev1.ConfigMap
	ClusterInfoRole        *rbacv1.Role
	ClusterInfoRoleBinding *rbacv1.RoleBinding
}

// TokenSecretName is the name of the Secret of token id.
func TokenSecretName(id string) string { return bootstrapapi.BootstrapTokenSecretPrefix + id }

// Build makes the objects of s.
func Build(s Spec) (*Objects, error) {
	if s.Token.IsZero() {
		return nil, errors.New("no bootstrap token")
	}
	if s.CA == nil || len(s.CA.Certs) == 0 {
		return nil, errors.New("no CA certificate")
	}
	if len(s.Endpoints) == 0 {
		return nil, errors.New("no API server address")
	}
	groups := s.Groups
	if len(groups) == 0 {
		groups = []string{DefaultGroup}
	}
	if err := ValidateGroups(groups); err != nil {
		return nil, err
	}
	kubeconfig, err := ClusterInfoKubeconfig(s.CA.PEM, s.Endpoints[0])
	if err != nil {
		return nil, err
	}
	o := &Objects{
		TokenSecret: tokenSecret(s, groups),
		ClusterInfo: &corev1.ConfigMap{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
			ObjectMeta: metav1.ObjectMeta{Name: bootstrapapi.ConfigMapClusterInfo, Namespace: ClusterInfoNamespace},
			Data:       map[string]string{bootstrapapi.KubeConfigKey: string(kubeconfig)},
		},
		ClusterInfoRole: &rbacv1.Role{
			TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "Role"},
			ObjectMeta: metav1.ObjectMeta{Name: ClusterInfoRoleName, Namespace: ClusterInfoNamespace},
			Rules: []rbacv1.PolicyRule{{
				Verbs:         []string{"get"},
				APIGroups:     []string{""},
				Resources:     []string{"configmaps"},
				ResourceNames: []string{bootstrapapi.ConfigMapClusterInfo},
			}},
		},
		ClusterInfoRoleBinding: &rbacv1.RoleBinding{
			TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "RoleBinding"},
			ObjectMeta: metav1.ObjectMeta{Name: ClusterInfoRoleName, Namespace: ClusterInfoNamespace},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: ClusterInfoRoleName},
			Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: AnonymousUser}},
		},
	}
	for _, b := range Bindings {
		var subjects []rbacv1.Subject
		if b.ToNodes {
			subjects = []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: NodesGroup}}
		} else {
			for _, g := range groups {
				subjects = append(subjects, rbacv1.Subject{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: g})
			}
		}
		o.ClusterRoleBindings = append(o.ClusterRoleBindings, &rbacv1.ClusterRoleBinding{
			TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "ClusterRoleBinding"},
			ObjectMeta: metav1.ObjectMeta{Name: b.Name},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: b.Role},
			Subjects:   subjects,
		})
	}
	return o, nil
}

func tokenSecret(s Spec, groups []string) *corev1.Secret {
	data := map[string][]byte{
		bootstrapapi.BootstrapTokenIDKey:               []byte(s.Token.ID()),
		bootstrapapi.BootstrapTokenSecretKey:           []byte(s.Token.Secret()),
		bootstrapapi.BootstrapTokenUsageAuthentication: []byte("true"),
		bootstrapapi.BootstrapTokenUsageSigningKey:     []byte("true"),
		bootstrapapi.BootstrapTokenExtraGroupsKey:      []byte(strings.Join(groups, ",")),
	}
	if !s.Expires.IsZero() {
		data[bootstrapapi.BootstrapTokenExpirationKey] = []byte(s.Expires.UTC().Format(time.RFC3339))
	}
	if s.Description != "" {
		data[bootstrapapi.BootstrapTokenDescriptionKey] = []byte(s.Description)
	}
	meta := metav1.ObjectMeta{Name: TokenSecretName(s.Token.ID()), Namespace: TokenNamespace,
		Labels: map[string]string{LabelManagedBy: ManagedBy}}
	if s.MaxJoins > 0 {
		meta.Annotations = map[string]string{AnnotationMaxJoins: strconv.Itoa(s.MaxJoins)}
	}
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: meta,
		Type:       bootstrapapi.SecretTypeBootstrapToken,
		Data:       data,
	}
}

// ClusterInfoKubeconfig is the kubeconfig of kube-public/cluster-info: one
// cluster, unnamed as kubeadm writes it, with the CA bundle and the server
// https://<ep>, and no credentials.
func ClusterInfoKubeconfig(caPEM []byte, ep string) ([]byte, error) {
	return kubeconfig.ClusterInfo("https://"+ep, caPEM)
}

// List returns the objects in the order they are printed and applied: the
// token first, the ConfigMap before the Role that names it.
func (o *Objects) List() []runtime.Object {
	list := []runtime.Object{o.TokenSecret}
	for _, b := range o.ClusterRoleBindings {
		list = append(list, b)
	}
	return append(list, o.ClusterInfo, o.ClusterInfoRole, o.ClusterInfoRoleBinding)
}

// MarshalYAML prints objects as one multi-document YAML stream.
func MarshalYAML(objs []runtime.Object) ([]byte, error) {
	var buf bytes.Buffer
	for i, obj := range objs {
		y, err := yaml.Marshal(obj)
		if err != nil {
			return nil, fmt.Errorf("marshalling %s: %v", Describe(obj), err)
		}
		if i > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(y)
	}
	return buf.Bytes(), nil
}

// Describe names an object: "Kind namespace/name" or "Kind name".
func Describe(obj runtime.Object) string {
	m, err := metaOf(obj)
	if err != nil {
		return fmt.Sprintf("%T", obj)
	}
	kind := obj.GetObjectKind().GroupVersionKind().Kind
	if m.GetNamespace() == "" {
		return kind + " " + m.GetName()
	}
	return kind + " " + m.GetNamespace() + "/" + m.GetName()
}

func metaOf(obj runtime.Object) (metav1.Object, error) {
	m, ok := obj.(metav1.Object)
	if !ok {
		return nil, fmt.Errorf("%T has no object metadata", obj)
	}
	return m, nil
}
