package cluster

import (
	"context"

	certv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
)

// TokenAPI is every call the token commands (list, delete, prune, prune
// --watch) make to the API server: one small seam, so that what backs it
// (client-go's typed clientset today) can change in one place, and tests
// can stand in for the cluster.
type TokenAPI interface {
	// TokenSecrets lists the bootstrap token Secrets of kube-system.
	TokenSecrets(ctx context.Context) ([]corev1.Secret, error)
	// DeleteSecret deletes kube-system/name if its UID is still uid (a
	// Secret re-created under the same name since it was read is kept).
	DeleteSecret(ctx context.Context, name string, uid types.UID) error
	// CSRs lists the CertificateSigningRequests and the list's
	// resourceVersion, where a watch starts.
	CSRs(ctx context.Context) ([]certv1.CertificateSigningRequest, string, error)
	// WatchCSRs watches CertificateSigningRequests from resourceVersion.
	WatchCSRs(ctx context.Context, resourceVersion string) (watch.Interface, error)
}

// ClientsetTokenAPI is TokenAPI over client-go's typed clientset.
func ClientsetTokenAPI(cs kubernetes.Interface) TokenAPI { return clientsetTokenAPI{cs} }

type clientsetTokenAPI struct{ cs kubernetes.Interface }

func (c clientsetTokenAPI) TokenSecrets(ctx context.Context) ([]corev1.Secret, error) {
	l, err := c.cs.CoreV1().Secrets(TokenNamespace).List(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("type", string(corev1.SecretTypeBootstrapToken)).String(),
	})
	if err != nil {
		return nil, err
	}
	return l.Items, nil
}

func (c clientsetTokenAPI) DeleteSecret(ctx context.Context, name string, uid types.UID) error {
	return c.cs.CoreV1().Secrets(TokenNamespace).Delete(ctx, name, metav1.DeleteOptions{
		Preconditions: &metav1.Preconditions{UID: &uid},
	})
}

func (c clientsetTokenAPI) CSRs(ctx context.Context) ([]certv1.CertificateSigningRequest, string, error) {
	l, err := c.cs.CertificatesV1().CertificateSigningRequests().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, "", err
	}
	return l.Items, l.ResourceVersion, nil
}

func (c clientsetTokenAPI) WatchCSRs(ctx context.Context, rv string) (watch.Interface, error) {
	return c.cs.CertificatesV1().CertificateSigningRequests().Watch(ctx, metav1.ListOptions{
		ResourceVersion: rv, AllowWatchBookmarks: true,
	})
}
