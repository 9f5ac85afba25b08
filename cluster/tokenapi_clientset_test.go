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

// The typed clientset is linked by tests only (see API).

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
