package cluster

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// PrunerName names the objects of the in-cluster pruner.
const PrunerName = "kubebake-token-pruner"

// PrunerObjects are what running kubebake token prune --watch in the
// cluster needs: a ServiceAccount, the least RBAC it uses (list and watch
// CertificateSigningRequests; list and delete Secrets in kube-system), and
// a Deployment of one replica running image, which must have kubebake on
// its PATH. RBAC cannot narrow "list Secrets" to bootstrap tokens: the
// pruner can read every Secret of kube-system (the README says so).
func PrunerObjects(image string) []runtime.Object {
	labels := map[string]string{"app.kubernetes.io/name": PrunerName, LabelManagedBy: ManagedBy}
	meta := func(ns string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: PrunerName, Namespace: ns, Labels: labels}
	}
	rbacName := "kubebake:token-pruner"
	rbacMeta := func(ns string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: rbacName, Namespace: ns, Labels: labels}
	}
	subject := []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: PrunerName, Namespace: TokenNamespace}}
	one := int32(1)
	no, yes := false, true
	uid := int64(65532)
	return []runtime.Object{
		&corev1.ServiceAccount{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"}, ObjectMeta: meta(TokenNamespace)},
		&rbacv1.ClusterRole{
			TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "ClusterRole"},
			ObjectMeta: rbacMeta(""),
			Rules: []rbacv1.PolicyRule{{APIGroups: []string{"certificates.k8s.io"}, Resources: []string{"certificatesigningrequests"},
				Verbs: []string{"list", "watch"}}},
		},
		&rbacv1.ClusterRoleBinding{
			TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "ClusterRoleBinding"},
			ObjectMeta: rbacMeta(""),
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: rbacName},
			Subjects:   subject,
		},
		&rbacv1.Role{
			TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "Role"},
			ObjectMeta: rbacMeta(TokenNamespace),
			Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets"},
				Verbs: []string{"list", "delete"}}},
		},
		&rbacv1.RoleBinding{
			TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "RoleBinding"},
			ObjectMeta: rbacMeta(TokenNamespace),
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: rbacName},
			Subjects:   subject,
		},
		&appsv1.Deployment{
			TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
			ObjectMeta: meta(TokenNamespace),
			Spec: appsv1.DeploymentSpec{
				Replicas: &one,
				// Never two pruners at once.
				Strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType},
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": PrunerName}},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec: corev1.PodSpec{
						ServiceAccountName: PrunerName,
						SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: &yes, RunAsUser: &uid,
							SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
						Containers: []corev1.Container{{
							Name:    "pruner",
							Image:   image,
							Command: []string{"kubebake", "token", "prune", "--watch"},
							SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: &no, ReadOnlyRootFilesystem: &yes,
								Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
							Resources: corev1.ResourceRequirements{
								Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("32Mi")},
								Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("128Mi")},
							},
						}},
					},
				},
			},
		},
	}
}
