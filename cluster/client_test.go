package cluster

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	certv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	bootstraputil "k8s.io/cluster-bootstrap/token/util"
)

// validBootstrapGroup replaces cluster-bootstrap's regexp (compiled at
// init): it must agree with it.
func TestValidBootstrapGroup(t *testing.T) {
	cases := []string{
		"", "system:bootstrappers:", "system:bootstrappers:a", "system:bootstrappers:kubeadm:default-node-token",
		"system:bootstrappers:a-", "system:bootstrappers:a:", "system:bootstrappers:-a", "system:bootstrappers::a",
		"system:bootstrappers:A", "system:bootstrappers:a_b", "system:bootstrappers:a.b", "system:bootstrapper:a",
		"xsystem:bootstrappers:a", "system:bootstrappers:a\n", "system:bootstrappers:é",
		"system:bootstrappers:" + strings.Repeat("a", 255), "system:bootstrappers:" + strings.Repeat("a", 256),
		"system:bootstrappers:" + strings.Repeat("a", 257), "system:bootstrappers:" + strings.Repeat("-", 255) + "a",
		"system:bootstrappers:" + strings.Repeat("-", 256) + "a",
	}
	for _, g := range cases {
		want := bootstraputil.ValidateBootstrapGroupName(g) == nil
		if got := validBootstrapGroup(g); got != want {
			t.Errorf("validBootstrapGroup(%q) = %v, cluster-bootstrap says %v", g, got, want)
		}
	}
}

// Client speaks the API server's REST: paths, verbs, server-side apply's
// query and content type, and Status errors that apierrors recognises.
func TestClient(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got = append(got, r.Method+" "+r.URL.RequestURI()+" "+r.Header.Get("Content-Type")+" "+r.Header.Get("User-Agent"))
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/missing"):
			w.WriteHeader(404)
			io.WriteString(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"secrets \"missing\" not found","reason":"NotFound","code":404}`)
		case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/clusterrolebindings"):
			io.WriteString(w, `{"kind":"ClusterRoleBindingList","items":[{"metadata":{"name":"a"}}]}`)
		case r.Method == http.MethodGet:
			io.WriteString(w, `{"kind":"Secret","metadata":{"name":"s","namespace":"kube-system"},"data":{"k":"dg=="}}`)
		case r.Method == http.MethodPatch:
			w.Write(body)
		case r.Method == http.MethodDelete:
			if !strings.Contains(string(body), `"resourceVersion":"7"`) {
				t.Errorf("delete without its precondition: %s", body)
			}
			w.WriteHeader(409)
			io.WriteString(w, `not json`)
		}
	}))
	defer srv.Close()
	c, err := NewClient(&rest.Config{Host: srv.URL, UserAgent: "kubebake/test"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	sec := &corev1.Secret{}
	if err := c.Get(ctx, "kube-system", "s", sec); err != nil || string(sec.Data["k"]) != "v" {
		t.Fatalf("Get: %v %+v", err, sec)
	}
	if err := c.Get(ctx, "kube-system", "missing", &corev1.Secret{}); !apierrors.IsNotFound(err) {
		t.Fatalf("Get of a missing Secret: want NotFound, got %v", err)
	}
	crbs := &rbacv1.ClusterRoleBindingList{}
	if err := c.List(ctx, "", crbs, ListOptions{LabelSelector: "a=b"}); err != nil || len(crbs.Items) != 1 {
		t.Fatalf("List: %v %+v", err, crbs)
	}
	cm := &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: "cluster-info", Namespace: "kube-public"}, Data: map[string]string{"x": "y"}}
	out := &corev1.ConfigMap{}
	if err := c.Apply(ctx, cm, true, out); err != nil || out.Data["x"] != "y" {
		t.Fatalf("Apply: %v %+v", err, out)
	}
	err = c.Delete(ctx, "kube-system", "s", &corev1.Secret{}, DeleteOptions{ResourceVersion: "7"})
	if !apierrors.IsConflict(err) {
		t.Fatalf("Delete answered 409: want a Conflict error, got %v", err)
	}
	want := []string{
		"GET /api/v1/namespaces/kube-system/secrets/s  kubebake/test",
		"GET /api/v1/namespaces/kube-system/secrets/missing  kubebake/test",
		"GET /apis/rbac.authorization.k8s.io/v1/clusterrolebindings?labelSelector=a%3Db  kubebake/test",
		"PATCH /api/v1/namespaces/kube-public/configmaps/cluster-info?dryRun=All&fieldManager=kubebake&force=true application/apply-patch+yaml kubebake/test",
		"DELETE /api/v1/namespaces/kube-system/secrets/s application/json kubebake/test",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// WatchCSRs decodes the API server's stream of watch events.
func TestClientWatch(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/apis/certificates.k8s.io/v1/certificatesigningrequests" || r.URL.Query().Get("watch") != "true" || r.URL.Query().Get("resourceVersion") != "5" {
			t.Errorf("unexpected request %s", r.URL.RequestURI())
		}
		io.WriteString(w, `{"type":"ADDED","object":{"kind":"CertificateSigningRequest","metadata":{"name":"csr-1"}}}`+"\n")
		io.WriteString(w, `{"type":"ERROR","object":{"kind":"Status","status":"Failure","code":410,"reason":"Expired"}}`+"\n")
	}))
	defer srv.Close()
	c, err := NewClient(&rest.Config{Host: srv.URL, Timeout: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	// A watch is not bound by the request timeout.
	w, err := c.WatchCSRs(context.Background(), "5")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	var got []string
	for ev := range w.ResultChan() {
		switch o := ev.Object.(type) {
		case *certv1.CertificateSigningRequest:
			got = append(got, string(ev.Type)+" "+o.Name)
		case *metav1.Status:
			got = append(got, fmt.Sprintf("%s %d", ev.Type, o.Code))
		}
	}
	if strings.Join(got, ",") != "ADDED csr-1,ERROR 410" {
		t.Fatalf("events: %v", got)
	}
}
