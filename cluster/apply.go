package cluster

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	bootstrapapi "k8s.io/cluster-bootstrap/token/api"
)

// FieldManager is the server-side apply field manager of kubebake apply.
const FieldManager = "kubebake"

// Action is what applying did to one object.
type Action string

const (
	Created    Action = "created"
	Configured Action = "configured"
	Unchanged  Action = "unchanged"
	// LeftAlone: a token Secret kubebake did not make, left as it is (see
	// ApplyOptions.Adopt).
	LeftAlone Action = "left alone"
)

// Change is the outcome of applying one object.
type Change struct {
	Object string `json:"object"` // Describe(obj)
	Action Action `json:"action"`
	// Fields lists the fields a configured object changed, as dotted paths
	// ("data.expiration"). Never values: the token Secret is among them.
	Fields []string `json:"fields,omitempty"`
	// Reason says why an object was kept.
	Reason string `json:"reason,omitempty"`
}

func (c Change) String() string {
	s := c.Object + " " + string(c.Action)
	if len(c.Fields) > 0 {
		s += " (" + strings.Join(c.Fields, ", ") + ")"
	}
	if c.Reason != "" {
		s += " (" + c.Reason + ")"
	}
	return s
}

// ApplyOptions tune Apply.
type ApplyOptions struct {
	// DryRun asks the API server to validate and compute the changes without
	// persisting them.
	DryRun bool
	// Adopt takes over token Secrets kubebake did not make (kubeadm token
	// create's): they get the terms applied (expiry, groups, description).
	// Without it such a token is kept as it is and reported LeftAlone.
	Adopt bool
}

// ApplyChecked is kubebake apply: unless force, it first checks that ca
// signs the certificate the API server of c serves (VerifyServingCA:
// cluster-info is about to name ca, and another CA breaks every
// token-discovery join), then applies objs. The report holds what changed
// before any error; the error is VerifyServingCA's or Apply's.
func ApplyChecked(ctx context.Context, c *Client, ca *CABundle, objs []runtime.Object, opt ApplyOptions, force bool) (*ApplyReport, error) {
	report := &ApplyReport{Server: c.Host, DryRun: opt.DryRun, Changes: []Change{}}
	var err error
	if !force {
		err = VerifyServingCA(ctx, c.Host, ca, time.Now())
	}
	if err == nil {
		var changes []Change
		changes, err = Apply(ctx, c, objs, opt)
		report.Changes = append(report.Changes, changes...)
	}
	return report, err
}

// Apply creates or updates objs with server-side apply, in order, and
// reports what each needed. kubebake owns the fields it sets: it forces
// conflicts (a field first set by kubectl apply or by hand is taken over),
// and leaves fields others own, such as the jws-kubeconfig-* signatures the
// bootstrapsigner adds to cluster-info, alone. It stops at the first error,
// returning the changes made so far.
//
// Before anything changes, it refuses to give an existing token another
// secret: every node baked with the old one would be locked out. And it
// only adds subjects to an existing binding, never drops one: another
// fleet's tokens, applied from another nodes file, may rely on it.
func Apply(ctx context.Context, api API, objs []runtime.Object, opt ApplyOptions) ([]Change, error) {
	foreign := map[runtime.Object]bool{}
	for _, obj := range objs {
		f, err := checkSecretKept(ctx, api, obj)
		if err != nil {
			return nil, err
		}
		foreign[obj] = f && !opt.Adopt
	}
	var changes []Change
	for _, obj := range objs {
		if foreign[obj] {
			changes = append(changes, Change{Object: Describe(obj), Action: LeftAlone,
				Reason: "not made by kubebake: its expiry, groups and description stay as they are; --adopt takes it over"})
			continue
		}
		c, err := applyOne(ctx, api, obj, opt)
		if err != nil {
			return changes, fmt.Errorf("applying %s: %w", Describe(obj), err)
		}
		changes = append(changes, c)
	}
	return changes, nil
}

// newOf returns an empty object of obj's kind, to read the cluster's copy into.
func newOf(obj runtime.Object) (runtime.Object, error) {
	switch obj.(type) {
	case *corev1.Secret:
		return &corev1.Secret{}, nil
	case *corev1.ConfigMap:
		return &corev1.ConfigMap{}, nil
	case *rbacv1.ClusterRoleBinding:
		return &rbacv1.ClusterRoleBinding{}, nil
	case *rbacv1.Role:
		return &rbacv1.Role{}, nil
	case *rbacv1.RoleBinding:
		return &rbacv1.RoleBinding{}, nil
	}
	return nil, fmt.Errorf("kubebake does not apply %T", obj)
}

// SecretChangedError is a token whose Secret holds another secret.
type SecretChangedError struct{ ID string }

func (e *SecretChangedError) Error() string {
	return fmt.Sprintf("token %s exists in the cluster with another secret: applying would lock out every node that holds the old one; "+
		"make a new token (kubebake token generate), or delete the old Secret first to rotate it (kubectl -n %s delete secret %s)", e.ID, TokenNamespace, TokenSecretName(e.ID))
}

// checkSecretKept refuses a token Secret that would replace the secret of
// an existing token of the same id, and says whether an existing one was
// made by someone else than kubebake.
func checkSecretKept(ctx context.Context, api API, obj runtime.Object) (foreign bool, err error) {
	sec, ok := obj.(*corev1.Secret)
	if !ok || sec.Type != corev1.SecretTypeBootstrapToken {
		return false, nil
	}
	old := &corev1.Secret{}
	err = api.Get(ctx, sec.Namespace, sec.Name, old)
	switch {
	case apierrors.IsNotFound(err):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("reading %s: %w", Describe(obj), err)
	}
	want := sec.Data[bootstrapapi.BootstrapTokenSecretKey]
	if want == nil {
		want = []byte(sec.StringData[bootstrapapi.BootstrapTokenSecretKey])
	}
	if have, ok := old.Data[bootstrapapi.BootstrapTokenSecretKey]; ok && subtle.ConstantTimeCompare(have, want) != 1 {
		return false, &SecretChangedError{ID: strings.TrimPrefix(sec.Name, bootstrapapi.BootstrapTokenSecretPrefix)}
	}
	return !madeByKubebake(old), nil
}

// madeByKubebake says whether kubebake made Secret s: its label, or (made
// before the label) a field kubebake apply owns.
func madeByKubebake(s *corev1.Secret) bool {
	if s.Labels[LabelManagedBy] == ManagedBy {
		return true
	}
	return slices.ContainsFunc(s.ManagedFields, func(f metav1.ManagedFieldsEntry) bool { return f.Manager == FieldManager })
}

// keepSubjects adds to crb the subjects the existing binding before has
// and crb lacks, after its own.
func keepSubjects(crb *rbacv1.ClusterRoleBinding, before runtime.Object) *rbacv1.ClusterRoleBinding {
	old, ok := before.(*rbacv1.ClusterRoleBinding)
	if !ok {
		return crb
	}
	out := crb.DeepCopy()
	for _, sub := range old.Subjects {
		if !slices.ContainsFunc(out.Subjects, func(s rbacv1.Subject) bool {
			return s.Kind == sub.Kind && s.Name == sub.Name && s.Namespace == sub.Namespace
		}) {
			out.Subjects = append(out.Subjects, sub)
		}
	}
	return out
}

func applyOne(ctx context.Context, api API, obj runtime.Object, opt ApplyOptions) (Change, error) {
	m, err := metaOf(obj)
	if err != nil {
		return Change{}, err
	}
	b, err := newOf(obj)
	if err != nil {
		return Change{}, err
	}
	change := Change{Object: Describe(obj)}

	var before runtime.Object
	switch err := api.Get(ctx, m.GetNamespace(), m.GetName(), b); {
	case apierrors.IsNotFound(err):
		change.Action = Created
	case err != nil:
		return Change{}, err
	default:
		before = b
	}
	if crb, ok := obj.(*rbacv1.ClusterRoleBinding); ok && before != nil {
		obj = keepSubjects(crb, before)
	}

	body, err := json.Marshal(obj)
	if err != nil {
		return Change{}, err
	}
	after, _ := newOf(obj)
	if err := api.Apply(ctx, obj, opt.DryRun, after); err != nil {
		return Change{}, err
	}
	if before == nil {
		return change, nil
	}
	// The API server persists nothing, and keeps the resourceVersion, when
	// an apply changes nothing; a dry run always keeps it, so compare the
	// fields we set as well.
	fields, err := changedFields(body, before, after)
	if err != nil {
		return Change{}, err
	}
	// Same content under a new owner (kubebake took over fields kubectl
	// apply or an edit had set) is no change to the cluster's behaviour:
	// report it unchanged, whatever the resourceVersion says.
	if len(fields) == 0 {
		change.Action = Unchanged
		return change, nil
	}
	change.Action = Configured
	change.Fields = fields
	return change, nil
}

// changedFields lists the paths of intent (the applied object's JSON) at
// which before and after differ. Maps are walked key by key; lists and
// scalars compare whole. metadata is skipped except labels and annotations.
func changedFields(intent []byte, before, after runtime.Object) ([]string, error) {
	var want, b, a map[string]any
	if err := json.Unmarshal(intent, &want); err != nil {
		return nil, err
	}
	for _, x := range []struct {
		obj runtime.Object
		dst *map[string]any
	}{{before, &b}, {after, &a}} {
		data, err := json.Marshal(x.obj)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(data, x.dst); err != nil {
			return nil, err
		}
	}
	delete(want, "apiVersion")
	delete(want, "kind")
	if md, ok := want["metadata"].(map[string]any); ok {
		keep := map[string]any{}
		for _, k := range []string{"labels", "annotations"} {
			if v, ok := md[k]; ok {
				keep[k] = v
			}
		}
		want["metadata"] = keep
	}
	var out []string
	diffPaths("", want, b, a, &out)
	sort.Strings(out)
	return out, nil
}

func diffPaths(prefix string, want, before, after any, out *[]string) {
	wm, ok := want.(map[string]any)
	if !ok {
		if !reflect.DeepEqual(before, after) {
			*out = append(*out, prefix)
		}
		return
	}
	bm, _ := before.(map[string]any)
	am, _ := after.(map[string]any)
	for k, w := range wm {
		p := k
		if prefix != "" {
			p = prefix + "." + k
		}
		diffPaths(p, w, bm[k], am[k], out)
	}
}
