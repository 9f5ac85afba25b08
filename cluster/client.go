package cluster

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Client is every call the cluster commands make to the API server, in one
// small type: reads of a Secret, a ConfigMap and the ClusterRoleBindings,
// and a get and a server-side apply per kind of object kubebake applies.
// This file is the only one in cluster/ that knows client-go's typed
// clientset, so that another implementation (plain REST, for a lean start
// of the render path) can replace it here alone.
type Client struct {
	// Host is the API server's URL, as the kubeconfig names it.
	Host string
	cs   kubernetes.Interface
}

// NewClient makes a Client from a kubeconfig's rest.Config.
func NewClient(cfg *rest.Config) (*Client, error) {
	// A fleet is a few requests a token: client-go's default of 5 a second
	// made 30 tokens take 10 s.
	cfg.QPS, cfg.Burst = 50, 100
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &Client{Host: cfg.Host, cs: cs}, nil
}

// ClientFor makes a Client of a clientset (a test's fake one).
func ClientFor(cs kubernetes.Interface, host string) *Client { return &Client{Host: host, cs: cs} }

// TokenAPI is the token commands' calls (list, delete, prune) over the
// same clientset.
func (c *Client) TokenAPI() TokenAPI { return ClientsetTokenAPI(c.cs) }

// Secret gets Secret ns/name.
func (c *Client) Secret(ctx context.Context, ns, name string) (*corev1.Secret, error) {
	return c.cs.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
}

func (c *Client) configMap(ctx context.Context, ns, name string) (*corev1.ConfigMap, error) {
	return c.cs.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
}

func (c *Client) clusterRoleBindings(ctx context.Context) ([]rbacv1.ClusterRoleBinding, error) {
	l, err := c.cs.RbacV1().ClusterRoleBindings().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	return l.Items, nil
}

// resource is the calls for one kind of object.
type resource struct {
	get   func(ctx context.Context, name string) (runtime.Object, error)
	patch func(ctx context.Context, name string, data []byte, opts metav1.PatchOptions) (runtime.Object, error)
}

// getPatcher is the two calls of a typed client of one kind.
type getPatcher[T runtime.Object] interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (T, error)
	Patch(ctx context.Context, name string, pt types.PatchType, data []byte, opts metav1.PatchOptions, sub ...string) (T, error)
}

func resourceOf[T runtime.Object](c getPatcher[T]) resource {
	return resource{
		get: func(ctx context.Context, n string) (runtime.Object, error) { return c.Get(ctx, n, metav1.GetOptions{}) },
		patch: func(ctx context.Context, n string, d []byte, po metav1.PatchOptions) (runtime.Object, error) {
			return c.Patch(ctx, n, types.ApplyPatchType, d, po)
		},
	}
}

func (c *Client) resource(obj runtime.Object) (resource, error) {
	switch o := obj.(type) {
	case *corev1.Secret:
		return resourceOf(c.cs.CoreV1().Secrets(o.Namespace)), nil
	case *corev1.ConfigMap:
		return resourceOf(c.cs.CoreV1().ConfigMaps(o.Namespace)), nil
	case *rbacv1.ClusterRoleBinding:
		return resourceOf(c.cs.RbacV1().ClusterRoleBindings()), nil
	case *rbacv1.Role:
		return resourceOf(c.cs.RbacV1().Roles(o.Namespace)), nil
	case *rbacv1.RoleBinding:
		return resourceOf(c.cs.RbacV1().RoleBindings(o.Namespace)), nil
	}
	return resource{}, fmt.Errorf("kubebake does not apply %T", obj)
}
