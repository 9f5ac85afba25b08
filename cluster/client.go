package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/kubebake/kubebake/internal/endpoint"
	certv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
)

// API is everything cluster code asks of an API server. Every command that
// talks to a cluster goes through it; *Client is the real one.
//
// It is deliberately small, and it is the reason cluster code must not import
// k8s.io/client-go/kubernetes (the typed clientset) or anything that does:
// kubebake is one binary, Go runs the init of every package linked into it
// whichever command runs, and the typed clientset registers every API group
// in a scheme at start-up (with its openapi, discovery and
// structured-merge-diff dependencies, several milliseconds) that `kubebake
// render` would pay for nothing. cmd/kubebake's TestRenderPathLinks guards
// it. Objects are the k8s.io/api types, encoded with encoding/json.
//
// A kind it does not know yet is one line in kinds below.
type API interface {
	// Get reads namespace/name into obj (a pointer to a known kind, such as
	// *corev1.Secret). A missing object is an error for which
	// apierrors.IsNotFound is true.
	Get(ctx context.Context, namespace, name string, obj runtime.Object) error
	// List reads the objects of a kind into list (such as
	// *corev1.SecretList); namespace "" lists a cluster-scoped kind, or a
	// namespaced kind in every namespace.
	List(ctx context.Context, namespace string, list runtime.Object, opts ListOptions) error
	// Apply server-side applies obj (its namespace and name say where) as
	// field manager FieldManager, forcing conflicts, and decodes the
	// object the server answers into out (of obj's kind; nil: discarded).
	Apply(ctx context.Context, obj runtime.Object, dryRun bool, out runtime.Object) error
	// Delete deletes namespace/name of obj's kind (obj: a pointer to a known
	// kind, only its type is read).
	Delete(ctx context.Context, namespace, name string, obj runtime.Object, opts DeleteOptions) error
	// TokenAPI: the token commands' calls (tokens.go).
	TokenAPI
}

// ListOptions select what List returns.
type ListOptions struct {
	LabelSelector string
	FieldSelector string
}

// DeleteOptions make a Delete conditional.
type DeleteOptions struct {
	// ResourceVersion and UID, when set, must match the object's, or the
	// server answers 409 Conflict and deletes nothing.
	ResourceVersion string
	UID             string
	DryRun          bool
}

// A kind is where the API server keeps one kind of object.
type kind struct {
	groupVersion string // "v1", "rbac.authorization.k8s.io/v1"
	resource     string // plural, lower case
	namespaced   bool
}

// kinds maps each object and list type cluster code uses to its resource.
func kindOf(obj runtime.Object) (kind, error) {
	rbac := rbacv1.SchemeGroupVersion.String()
	switch obj.(type) {
	case *corev1.Secret, *corev1.SecretList:
		return kind{"v1", "secrets", true}, nil
	case *corev1.ConfigMap, *corev1.ConfigMapList:
		return kind{"v1", "configmaps", true}, nil
	case *corev1.Node, *corev1.NodeList:
		return kind{"v1", "nodes", false}, nil
	case *rbacv1.ClusterRoleBinding, *rbacv1.ClusterRoleBindingList:
		return kind{rbac, "clusterrolebindings", false}, nil
	case *rbacv1.Role, *rbacv1.RoleList:
		return kind{rbac, "roles", true}, nil
	case *rbacv1.RoleBinding, *rbacv1.RoleBindingList:
		return kind{rbac, "rolebindings", true}, nil
	case *certv1.CertificateSigningRequest, *certv1.CertificateSigningRequestList:
		return kind{certv1.SchemeGroupVersion.String(), "certificatesigningrequests", false}, nil
	}
	return kind{}, fmt.Errorf("kubebake's cluster client does not know %T (add it to cluster.kindOf)", obj)
}

func (k kind) path(namespace, name string) string {
	p := "/api/v1"
	if k.groupVersion != "v1" {
		p = "/apis/" + k.groupVersion
	}
	if k.namespaced && namespace != "" {
		p += "/namespaces/" + url.PathEscape(namespace)
	}
	p += "/" + k.resource
	if name != "" {
		p += "/" + url.PathEscape(name)
	}
	return p
}

func (k kind) groupResource() schema.GroupResource {
	g := ""
	if i := strings.Index(k.groupVersion, "/"); i >= 0 {
		g = k.groupVersion[:i]
	}
	return schema.GroupResource{Group: g, Resource: k.resource}
}

// Client is API over HTTP: client-go/rest's authenticated HTTP client (so
// every kubeconfig client-go takes works: certificates, bearer tokens, exec
// plugins, proxies), JSON bodies.
type Client struct {
	// Host is the API server's URL, as the kubeconfig names it.
	Host string
	hc   *http.Client
	// watchHC is hc without its timeout: a watch lasts.
	watchHC   *http.Client
	host      string
	userAgent string
}

// Endpoint is the API server's address as "host:port" (what check tries
// when neither --api-server nor cluster-info names one), or "".
func (c *Client) Endpoint() string {
	if u, err := url.Parse(c.Host); err == nil {
		if ep, err := endpoint.Parse("https://" + u.Host); err == nil {
			return ep
		}
	}
	return ""
}

// NewClient makes a Client from a rest.Config (clientcmd's ClientConfig).
// cfg.Timeout bounds each request.
func NewClient(cfg *rest.Config) (*Client, error) {
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, err
	}
	u, _, err := rest.DefaultServerUrlFor(cfg)
	if err != nil {
		return nil, err
	}
	host := strings.TrimSuffix(u.String(), "/")
	watchHC := *hc
	watchHC.Timeout = 0
	return &Client{Host: cfg.Host, hc: hc, watchHC: &watchHC, host: host, userAgent: cfg.UserAgent}, nil
}

var _ API = (*Client)(nil)

// TokenAPI is the token commands' calls (list, delete, prune) over the
// same client.
func (c *Client) TokenAPI() TokenAPI { return c }

func (c *Client) Get(ctx context.Context, namespace, name string, obj runtime.Object) error {
	k, err := kindOf(obj)
	if err != nil {
		return err
	}
	return c.do(ctx, http.MethodGet, k, name, k.path(namespace, name), nil, "", obj)
}

func (c *Client) List(ctx context.Context, namespace string, list runtime.Object, opts ListOptions) error {
	k, err := kindOf(list)
	if err != nil {
		return err
	}
	q := url.Values{}
	if opts.LabelSelector != "" {
		q.Set("labelSelector", opts.LabelSelector)
	}
	if opts.FieldSelector != "" {
		q.Set("fieldSelector", opts.FieldSelector)
	}
	p := k.path(namespace, "")
	if len(q) > 0 {
		p += "?" + q.Encode()
	}
	return c.do(ctx, http.MethodGet, k, "", p, nil, "", list)
}

func (c *Client) Apply(ctx context.Context, obj runtime.Object, dryRun bool, out runtime.Object) error {
	k, err := kindOf(obj)
	if err != nil {
		return err
	}
	m, err := metaOf(obj)
	if err != nil {
		return err
	}
	body, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	q := url.Values{"fieldManager": {FieldManager}, "force": {"true"}}
	if dryRun {
		q.Set("dryRun", metav1.DryRunAll)
	}
	return c.do(ctx, http.MethodPatch, k, m.GetName(), k.path(m.GetNamespace(), m.GetName())+"?"+q.Encode(), body, "application/apply-patch+yaml", out)
}

func (c *Client) Delete(ctx context.Context, namespace, name string, obj runtime.Object, opts DeleteOptions) error {
	k, err := kindOf(obj)
	if err != nil {
		return err
	}
	do := metav1.DeleteOptions{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "DeleteOptions"}}
	if opts.ResourceVersion != "" || opts.UID != "" {
		do.Preconditions = &metav1.Preconditions{}
		if opts.ResourceVersion != "" {
			do.Preconditions.ResourceVersion = &opts.ResourceVersion
		}
		if opts.UID != "" {
			uid := types.UID(opts.UID)
			do.Preconditions.UID = &uid
		}
	}
	if opts.DryRun {
		do.DryRun = []string{metav1.DryRunAll}
	}
	body, err := json.Marshal(do)
	if err != nil {
		return err
	}
	return c.do(ctx, http.MethodDelete, k, name, k.path(namespace, name), body, "application/json", nil)
}

// maxBody bounds what is read of an answer: a list of every Secret of a
// large cluster fits.
const maxBody = 64 << 20

func (c *Client) request(ctx context.Context, hc *http.Client, method, path string, body []byte, contentType string) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.host+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.userAgent != "" {
		req.Header.Set("User-Agent", c.userAgent)
	}
	return hc.Do(req)
}

func (c *Client) do(ctx context.Context, method string, k kind, name, path string, body []byte, contentType string, out runtime.Object) error {
	resp, err := c.request(ctx, c.hc, method, path, body, contentType)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return fmt.Errorf("%s %s: reading the answer: %v", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return statusError(resp.StatusCode, method, k, name, data)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: the answer is not a %s: %v", method, path, k.resource, err)
	}
	return nil
}

// statusError is the error client-go's typed clientset would return, so
// that apierrors.IsNotFound, IsConflict, IsForbidden... keep working.
func statusError(code int, method string, k kind, name string, body []byte) error {
	var st metav1.Status
	if json.Unmarshal(body, &st) == nil && st.Kind == "Status" && st.Status == metav1.StatusFailure {
		if st.Code == 0 {
			st.Code = int32(code)
		}
		return &apierrors.StatusError{ErrStatus: st}
	}
	verb := map[string]string{http.MethodGet: "get", http.MethodPatch: "patch", http.MethodDelete: "delete"}[method]
	return apierrors.NewGenericServerResponse(code, verb, k.groupResource(), name, string(body), 0, false)
}
