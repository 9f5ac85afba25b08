package cluster

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	certv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
)

func csrPEM(t *testing.T, cn string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn, Organization: []string{"system:nodes"}}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

var csrN int

func csr(t *testing.T, user, node, signer string, cond certv1.RequestConditionType, at time.Time) *certv1.CertificateSigningRequest {
	csrN++
	c := &certv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Name: "csr-" + strings.Repeat("x", csrN)},
		Spec:       certv1.CertificateSigningRequestSpec{SignerName: signer, Username: user, Request: csrPEM(t, "system:node:"+node)},
	}
	if cond != "" {
		c.Status.Conditions = []certv1.CertificateSigningRequestCondition{{Type: cond, Status: corev1.ConditionTrue, LastUpdateTime: metav1.NewTime(at)}}
	}
	return c
}

func tokenSecretOf(id string, kubebake bool, maxJoins string) *corev1.Secret {
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: TokenSecretName(id), Namespace: TokenNamespace, UID: types.UID("uid-" + id)},
		Type:       corev1.SecretTypeBootstrapToken,
		Data: map[string][]byte{"token-id": []byte(id), "token-secret": []byte("0123456789abcdef"),
			"usage-bootstrap-authentication": []byte("true"), "auth-extra-groups": []byte(DefaultGroup)},
	}
	if kubebake {
		s.Labels = map[string]string{LabelManagedBy: ManagedBy}
	}
	if maxJoins != "" {
		s.Annotations = map[string]string{AnnotationMaxJoins: maxJoins}
	}
	return s
}

func TestCountJoins(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	kubelet := KubeletClientSigner
	csrs := []certv1.CertificateSigningRequest{
		*csr(t, "system:bootstrap:aaaaaa", "n1", kubelet, certv1.CertificateApproved, t0),
		*csr(t, "system:bootstrap:aaaaaa", "n1", kubelet, certv1.CertificateApproved, t0.Add(time.Minute)), // same node again
		*csr(t, "system:bootstrap:aaaaaa", "n2", kubelet, certv1.CertificateApproved, t0.Add(2*time.Minute)),
		*csr(t, "system:bootstrap:aaaaaa", "n3", kubelet, "", t0),                                     // pending
		*csr(t, "system:bootstrap:aaaaaa", "n4", kubelet, certv1.CertificateDenied, t0),               // denied
		*csr(t, "system:bootstrap:aaaaaa", "n5", "example.com/other", certv1.CertificateApproved, t0), // other signer
		*csr(t, "system:node:n1", "n1", kubelet, certv1.CertificateApproved, t0),                      // renewal
		*csr(t, "system:bootstrap:bbbbbb", "m1", kubelet, certv1.CertificateApproved, t0),
	}
	j := CountJoins(csrs)
	if len(j) != 2 || strings.Join(j["aaaaaa"].Nodes, ",") != "n1,n2" || !j["aaaaaa"].Last.Equal(t0.Add(2*time.Minute)) || strings.Join(j["bbbbbb"].Nodes, ",") != "m1" {
		t.Fatalf("CountJoins: %+v %+v", j["aaaaaa"], j["bbbbbb"])
	}
}

func TestPrune(t *testing.T) {
	now := time.Now()
	objs := []runtime.Object{
		tokenSecretOf("aaaaaa", true, "2"),  // 2 joins: deleted
		tokenSecretOf("bbbbbb", true, "3"),  // 2 joins: kept
		tokenSecretOf("cccccc", false, "1"), // not kubebake's: kept
		tokenSecretOf("dddddd", true, ""),   // no limit: kept
		tokenSecretOf("eeeeee", true, "x"),  // bad annotation: kept
	}
	for _, id := range []string{"aaaaaa", "bbbbbb", "cccccc", "dddddd", "eeeeee"} {
		for _, n := range []string{"n1", "n2"} {
			objs = append(objs, csr(t, "system:bootstrap:"+id, id+n, KubeletClientSigner, certv1.CertificateApproved, now))
		}
	}
	cs := fake.NewClientset(objs...)
	api := ClientsetTokenAPI(cs)
	verdicts := func(ds []Decision) string {
		var s []string
		for _, d := range ds {
			s = append(s, d.ID+"="+string(d.Verdict))
		}
		return strings.Join(s, " ")
	}
	ds, err := Prune(context.Background(), api, PruneOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := verdicts(ds); got != "aaaaaa=would delete bbbbbb=kept cccccc=kept dddddd=kept eeeeee=kept" {
		t.Fatalf("prune --dry-run: %s\n%v", got, ds)
	}
	if l, _ := api.TokenSecrets(context.Background()); len(l) != 5 {
		t.Fatalf("prune --dry-run deleted: %d Secrets left", len(l))
	}
	ds, err = Prune(context.Background(), api, PruneOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := verdicts(ds); got != "aaaaaa=deleted bbbbbb=kept cccccc=kept dddddd=kept eeeeee=kept" {
		t.Fatalf("prune: %s", got)
	}
	for _, d := range ds {
		t.Log(d)
	}
	if !strings.Contains(ds[2].Reason, "not made by kubebake") || !strings.Contains(ds[1].Reason, "2 joins of max-joins 3") {
		t.Errorf("reasons: %v", ds)
	}
	l, _ := api.TokenSecrets(context.Background())
	if len(l) != 4 {
		t.Fatalf("prune left %d Secrets, want 4", len(l))
	}
	// delete: a token kubebake did not make, by name; an unknown id
	// deletes nothing.
	if _, err := DeleteTokens(context.Background(), api, []string{"cccccc", "zzzzzz"}); err == nil || !strings.Contains(err.Error(), "zzzzzz") {
		t.Fatalf("delete of an unknown id: %v", err)
	}
	if l, _ := api.TokenSecrets(context.Background()); len(l) != 4 {
		t.Fatal("a failed delete deleted something")
	}
	if _, err := DeleteTokens(context.Background(), api, []string{"cccccc.0123456789abcdef"}); err == nil || strings.Contains(err.Error(), "0123456789abcdef") {
		t.Fatalf("delete of a whole token: %v (must refuse without echoing the secret)", err)
	}
	if d, err := DeleteTokens(context.Background(), api, []string{"cccccc"}); err != nil || len(d) != 1 {
		t.Fatalf("delete cccccc: %v %v", d, err)
	}
}
