package cluster

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func actions(changes []Change) []Action {
	var out []Action
	for _, c := range changes {
		out = append(out, c.Action)
	}
	return out
}

func repeat(a Action, n int) []Action {
	out := make([]Action, n)
	for i := range out {
		out[i] = a
	}
	return out
}

// The fake clientset of client-go tracks managed fields and applies
// server-side apply patches like the API server. The real API server is in
// test/cluster.
func TestApplyIdempotent(t *testing.T) {
	ctx := context.Background()
	cs := fake.NewClientset()
	spec := Spec{Token: mustToken(t), CA: mustCA(t, "ca.crt"), Endpoints: []string{"lb.example.com:6443"},
		Expires: time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC)}
	objs, err := Build(spec)
	if err != nil {
		t.Fatal(err)
	}
	n := len(objs.List())

	changes, err := Apply(ctx, fakeAPI{cs}, objs.List(), ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := actions(changes); !reflect.DeepEqual(got, repeat(Created, n)) {
		t.Fatalf("first apply: %v", changes)
	}
	crb, err := cs.RbacV1().ClusterRoleBindings().Get(ctx, Bindings[0].Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if crb.RoleRef.Name != RoleNodeBootstrapper || len(crb.ManagedFields) == 0 || crb.ManagedFields[0].Manager != FieldManager {
		t.Errorf("binding %s: roleRef %v, managed fields %v", crb.Name, crb.RoleRef, crb.ManagedFields)
	}

	changes, err = Apply(ctx, fakeAPI{cs}, objs.List(), ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := actions(changes); !reflect.DeepEqual(got, repeat(Unchanged, n)) {
		t.Fatalf("second apply: %v", changes)
	}

	// A new expiry configures the Secret only, naming the field, not its value.
	spec.Expires = spec.Expires.Add(24 * time.Hour)
	objs, _ = Build(spec)
	changes, err = Apply(ctx, fakeAPI{cs}, objs.List(), ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := append([]Action{Configured}, repeat(Unchanged, n-1)...)
	if got := actions(changes); !reflect.DeepEqual(got, want) {
		t.Fatalf("apply with a new expiry: %v", changes)
	}
	if !reflect.DeepEqual(changes[0].Fields, []string{"data.expiration"}) {
		t.Errorf("changed fields %v, want [data.expiration]", changes[0].Fields)
	}
	if s := changes[0].String(); strings.Contains(s, "2027") || !strings.Contains(s, "data.expiration") {
		t.Errorf("change %q shows a value or hides the field", s)
	}
}

// A binding edited by hand (a subject removed) is configured back.
func TestApplyRepairs(t *testing.T) {
	ctx := context.Background()
	cs := fake.NewClientset()
	objs, err := Build(Spec{Token: mustToken(t), CA: mustCA(t, "ca.crt"), Endpoints: []string{"lb.example.com:6443"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Apply(ctx, fakeAPI{cs}, objs.List(), ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	crb, _ := cs.RbacV1().ClusterRoleBindings().Get(ctx, Bindings[1].Name, metav1.GetOptions{})
	crb.Subjects = []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: "system:bootstrappers:other"}}
	if _, err := cs.RbacV1().ClusterRoleBindings().Update(ctx, crb, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	changes, err := Apply(ctx, fakeAPI{cs}, objs.List(), ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range changes {
		want := Unchanged
		if c.Object == "ClusterRoleBinding "+Bindings[1].Name {
			want = Configured
			if !reflect.DeepEqual(c.Fields, []string{"subjects"}) {
				t.Errorf("%s: fields %v, want [subjects]", c.Object, c.Fields)
			}
		}
		if c.Action != want {
			t.Errorf("%s: %s, want %s", c.Object, c.Action, want)
		}
	}
}

// Issue 18: apply leaves a token it did not make (kubeadm token create's)
// as it is, and says so; ApplyOptions.Adopt takes it over.
func TestApplyKeepsForeignToken(t *testing.T) {
	ctx := context.Background()
	cs := fake.NewClientset()
	tok := mustToken(t)
	kubeadmExpiry := time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)
	foreign := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: TokenSecretName(tok.ID()), Namespace: TokenNamespace},
		Type:       corev1.SecretTypeBootstrapToken,
		Data: map[string][]byte{"token-id": []byte(tok.ID()), "token-secret": []byte(tok.Secret()), "expiration": []byte(kubeadmExpiry),
			"usage-bootstrap-authentication": []byte("true"), "usage-bootstrap-signing": []byte("true"), "auth-extra-groups": []byte(DefaultGroup)},
	}
	if _, err := cs.CoreV1().Secrets(TokenNamespace).Create(ctx, foreign, metav1.CreateOptions{FieldManager: "kubeadm"}); err != nil {
		t.Fatal(err)
	}
	spec := Spec{Token: tok, CA: mustCA(t, "ca.crt"), Endpoints: []string{"lb.example.com:6443"},
		Expires: time.Now().Add(720 * time.Hour), Groups: []string{"system:bootstrappers:other"}}
	objs, err := Build(spec)
	if err != nil {
		t.Fatal(err)
	}
	changes, err := Apply(ctx, fakeAPI{cs}, objs.List(), ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sec, _ := cs.CoreV1().Secrets(TokenNamespace).Get(ctx, foreign.Name, metav1.GetOptions{})
	if string(sec.Data["expiration"]) != kubeadmExpiry || string(sec.Data["auth-extra-groups"]) != DefaultGroup {
		t.Errorf("apply changed a token kubebake did not make: expiration %s, groups %s", sec.Data["expiration"], sec.Data["auth-extra-groups"])
	}
	if changes[0].Action != LeftAlone || !strings.Contains(changes[0].String(), "not made by kubebake") {
		t.Errorf("the foreign token's change: %v", changes[0])
	}
	// Adopted on request.
	changes, err = Apply(ctx, fakeAPI{cs}, objs.List(), ApplyOptions{Adopt: true})
	if err != nil {
		t.Fatal(err)
	}
	sec, _ = cs.CoreV1().Secrets(TokenNamespace).Get(ctx, foreign.Name, metav1.GetOptions{})
	if changes[0].Action != Configured || string(sec.Data["auth-extra-groups"]) != "system:bootstrappers:other" {
		t.Errorf("adopting: %v, groups %s", changes[0], sec.Data["auth-extra-groups"])
	}
	// Now it is kubebake's: applied again without Adopt, it is not kept.
	if changes, err = Apply(ctx, fakeAPI{cs}, objs.List(), ApplyOptions{}); err != nil || changes[0].Action == LeftAlone {
		t.Errorf("after adoption: %v %v", changes, err)
	}
}
