package cluster

import (
	"context"

	certv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
)

// TokenAPI is every call the token commands (list, delete, prune, prune
// --watch) make to the API server: one small seam, so that what backs it
// (cluster.Client; never client-go's typed clientset, see API) can change
// in one place, and tests can stand in for the cluster.
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
