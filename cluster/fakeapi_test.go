package cluster

import (
	"context"
	"encoding/json"
	"fmt"

	certv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
)

// fakeAPI is API over client-go's fake clientset, which tracks managed
// fields and applies as an API server does; only tests link it.
type fakeAPI struct{ cs kubernetes.Interface }

func (f fakeAPI) TokenSecrets(ctx context.Context) ([]corev1.Secret, error) {
	return clientsetTokenAPI{f.cs}.TokenSecrets(ctx)
}
func (f fakeAPI) DeleteSecret(ctx context.Context, name string, uid types.UID) error {
	return clientsetTokenAPI{f.cs}.DeleteSecret(ctx, name, uid)
}
func (f fakeAPI) CSRs(ctx context.Context) ([]certv1.CertificateSigningRequest, string, error) {
	return clientsetTokenAPI{f.cs}.CSRs(ctx)
}
func (f fakeAPI) WatchCSRs(ctx context.Context, rv string) (watch.Interface, error) {
	return clientsetTokenAPI{f.cs}.WatchCSRs(ctx, rv)
}

// into copies src into dst (both of one kind) through JSON.
func into(dst runtime.Object, src any, err error) error {
	if err != nil {
		return err
	}
	if dst == nil {
		return nil
	}
	data, err := json.Marshal(src)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, dst)
}

func (f fakeAPI) Get(ctx context.Context, ns, name string, obj runtime.Object) error {
	g := metav1.GetOptions{}
	switch obj.(type) {
	case *corev1.Secret:
		o, err := f.cs.CoreV1().Secrets(ns).Get(ctx, name, g)
		return into(obj, o, err)
	case *corev1.ConfigMap:
		o, err := f.cs.CoreV1().ConfigMaps(ns).Get(ctx, name, g)
		return into(obj, o, err)
	case *rbacv1.ClusterRoleBinding:
		o, err := f.cs.RbacV1().ClusterRoleBindings().Get(ctx, name, g)
		return into(obj, o, err)
	case *rbacv1.Role:
		o, err := f.cs.RbacV1().Roles(ns).Get(ctx, name, g)
		return into(obj, o, err)
	case *rbacv1.RoleBinding:
		o, err := f.cs.RbacV1().RoleBindings(ns).Get(ctx, name, g)
		return into(obj, o, err)
	}
	return fmt.Errorf("fakeAPI: Get %T", obj)
}

func (f fakeAPI) List(ctx context.Context, ns string, list runtime.Object, opts ListOptions) error {
	lo := metav1.ListOptions{LabelSelector: opts.LabelSelector, FieldSelector: opts.FieldSelector}
	switch list.(type) {
	case *corev1.SecretList:
		o, err := f.cs.CoreV1().Secrets(ns).List(ctx, lo)
		return into(list, o, err)
	case *rbacv1.ClusterRoleBindingList:
		o, err := f.cs.RbacV1().ClusterRoleBindings().List(ctx, lo)
		return into(list, o, err)
	}
	return fmt.Errorf("fakeAPI: List %T", list)
}

func (f fakeAPI) Apply(ctx context.Context, obj runtime.Object, dryRun bool, out runtime.Object) error {
	m, err := metaOf(obj)
	if err != nil {
		return err
	}
	body, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	force := true
	po := metav1.PatchOptions{FieldManager: FieldManager, Force: &force}
	if dryRun {
		po.DryRun = []string{metav1.DryRunAll}
	}
	ns, name, pt := m.GetNamespace(), m.GetName(), types.ApplyPatchType
	switch obj.(type) {
	case *corev1.Secret:
		o, err := f.cs.CoreV1().Secrets(ns).Patch(ctx, name, pt, body, po)
		return into(out, o, err)
	case *corev1.ConfigMap:
		o, err := f.cs.CoreV1().ConfigMaps(ns).Patch(ctx, name, pt, body, po)
		return into(out, o, err)
	case *rbacv1.ClusterRoleBinding:
		o, err := f.cs.RbacV1().ClusterRoleBindings().Patch(ctx, name, pt, body, po)
		return into(out, o, err)
	case *rbacv1.Role:
		o, err := f.cs.RbacV1().Roles(ns).Patch(ctx, name, pt, body, po)
		return into(out, o, err)
	case *rbacv1.RoleBinding:
		o, err := f.cs.RbacV1().RoleBindings(ns).Patch(ctx, name, pt, body, po)
		return into(out, o, err)
	}
	return fmt.Errorf("fakeAPI: Apply %T", obj)
}

func (f fakeAPI) Delete(ctx context.Context, ns, name string, obj runtime.Object, opts DeleteOptions) error {
	switch obj.(type) {
	case *corev1.Secret:
		return f.cs.CoreV1().Secrets(ns).Delete(ctx, name, metav1.DeleteOptions{})
	}
	return fmt.Errorf("fakeAPI: Delete %T", obj)
}
