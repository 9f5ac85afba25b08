package kubeletconfig

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	kubeletv1beta1 "k8s.io/kubelet/config/v1beta1"
)

// TestSameAsKubelet holds the copy to k8s.io/kubelet's types: the same
// fields in the same order, with the same tags and kinds, all the way
// down, and the same JSON methods. After a k8s.io/kubelet bump that fails:
// go generate ./internal/kubeletconfig.
func TestSameAsKubelet(t *testing.T) {
	same(t, "KubeletConfiguration", reflect.TypeOf(KubeletConfiguration{}), reflect.TypeOf(kubeletv1beta1.KubeletConfiguration{}), map[[2]reflect.Type]bool{})
	if string(KubeletAuthorizationModeWebhook) != string(kubeletv1beta1.KubeletAuthorizationModeWebhook) {
		t.Errorf("KubeletAuthorizationModeWebhook = %q", KubeletAuthorizationModeWebhook)
	}
}

var (
	marshaler   = reflect.TypeOf((*json.Marshaler)(nil)).Elem()
	unmarshaler = reflect.TypeOf((*json.Unmarshaler)(nil)).Elem()
)

func same(t *testing.T, path string, a, b reflect.Type, seen map[[2]reflect.Type]bool) {
	if seen[[2]reflect.Type{a, b}] {
		return
	}
	seen[[2]reflect.Type{a, b}] = true
	if a.Kind() != b.Kind() || a.Name() != b.Name() {
		t.Errorf("%s: %s (%s), kubelet's %s (%s)", path, a, a.Kind(), b, b.Kind())
		return
	}
	if a.Implements(marshaler) != b.Implements(marshaler) || reflect.PointerTo(a).Implements(unmarshaler) != reflect.PointerTo(b).Implements(unmarshaler) {
		t.Errorf("%s: %s and kubelet's %s differ in their JSON methods", path, a, b)
	}
	if a.PkgPath() != b.PkgPath() && !strings.HasPrefix(b.PkgPath(), "k8s.io/kubelet/") && !strings.HasPrefix(b.PkgPath(), "k8s.io/component-base/") {
		t.Errorf("%s: %s, kubelet's %s: only kubelet and component-base types are copied", path, a, b)
	}
	switch a.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Array:
		same(t, path+"[]", a.Elem(), b.Elem(), seen)
	case reflect.Map:
		same(t, path+"{key}", a.Key(), b.Key(), seen)
		same(t, path+"{}", a.Elem(), b.Elem(), seen)
	case reflect.Struct:
		if a.NumField() != b.NumField() {
			t.Errorf("%s: %d fields, kubelet's %d", path, a.NumField(), b.NumField())
			return
		}
		for i := 0; i < a.NumField(); i++ {
			fa, fb := a.Field(i), b.Field(i)
			if fa.Name != fb.Name || fa.Tag != fb.Tag || fa.Anonymous != fb.Anonymous {
				t.Errorf("%s: field %d is %s %q, kubelet's %s %q", path, i, fa.Name, fa.Tag, fb.Name, fb.Tag)
				continue
			}
			same(t, path+"."+fa.Name, fa.Type, fb.Type, seen)
		}
	}
}

// A config that sets every kind of field decodes and encodes alike.
func TestJSONAsKubelet(t *testing.T) {
	in := `{"apiVersion":"kubelet.config.k8s.io/v1beta1","kind":"KubeletConfiguration","maxPods":42,
"logging":{"format":"json","flushFrequency":"5s","verbosity":3,"vmodule":[{"filePattern":"a*","verbosity":2}],"options":{"json":{"infoBufferSize":"1Mi"}}},
"tracing":{"endpoint":"x:4317","samplingRatePerMillion":5},"registerWithTaints":[{"key":"a","value":"b","effect":"NoSchedule"}],
"featureGates":{"A":true},"systemReserved":{"cpu":"100m"},"evictionHard":{"memory.available":"100Mi"},
"reservedMemory":[{"numaNode":0,"limits":{"memory":"1Gi"}}],"shutdownGracePeriodByPodPriority":[{"priority":1,"shutdownGracePeriodSeconds":2}],
"authentication":{"anonymous":{"enabled":false},"webhook":{"enabled":true,"cacheTTL":"2m"},"x509":{"clientCAFile":"/ca"}},
"authorization":{"mode":"Webhook"},"syncFrequency":"1m","crashLoopBackOff":{"maxContainerRestartPeriod":"30s"}}`
	for _, flush := range []string{`"5s"`, `5000000000`} {
		doc := strings.Replace(in, `"5s"`, flush, 1)
		var a KubeletConfiguration
		var b kubeletv1beta1.KubeletConfiguration
		for _, dst := range []any{&a, &b} {
			dec := json.NewDecoder(strings.NewReader(doc))
			dec.DisallowUnknownFields()
			if err := dec.Decode(dst); err != nil {
				t.Fatalf("%T: %v", dst, err)
			}
		}
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		if string(ja) != string(jb) {
			t.Errorf("encoded differently:\n%s\nkubelet's:\n%s", ja, jb)
		}
	}
	// Unknown fields and wrong types are refused alike.
	for _, bad := range []string{`{"maxPodz":1}`, `{"maxPods":"1"}`, `{"maxPods":1e10}`, `{"logging":{"flushFrequency":true}}`} {
		var a KubeletConfiguration
		var b kubeletv1beta1.KubeletConfiguration
		da, db := json.NewDecoder(strings.NewReader(bad)), json.NewDecoder(strings.NewReader(bad))
		da.DisallowUnknownFields()
		db.DisallowUnknownFields()
		ea, eb := da.Decode(&a), db.Decode(&b)
		if (ea == nil) != (eb == nil) || ea != nil && strings.ReplaceAll(ea.Error(), "kubeletconfig.", "v1beta1.") != eb.Error() {
			t.Errorf("%s: %v, kubelet's %v", bad, ea, eb)
		}
	}
}
