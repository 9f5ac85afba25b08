package cluster

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kubebake/kubebake/cluster"
	"github.com/kubebake/kubebake/internal/token"
	"github.com/kubebake/kubebake/test/testcluster"
)

var built struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// kubebakeBin builds cmd/kubebake once; the tests run it as users do.
func kubebakeBin(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		root, err := testcluster.RepoRoot()
		if err != nil {
			built.err = err
			return
		}
		built.dir, built.err = os.MkdirTemp("", "kubebake-cluster-test-")
		if built.err != nil {
			return
		}
		built.path = filepath.Join(built.dir, "kubebake")
		cmd := exec.Command("go", "build", "-o", built.path, "./cmd/kubebake")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			built.err = errors.New("go build ./cmd/kubebake: " + err.Error() + "\n" + string(out))
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.path
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// env is one test's cluster, token file and command runner.
type env struct {
	t         *testing.T
	c         *testcluster.Cluster
	tok       token.Token
	tokenFile string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	c := testcluster.Start(t) // skips (or fails under CI) without the binaries
	kubebakeBin(t)
	tok, err := token.Generate()
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(f, []byte(tok.Value()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return &env{t: t, c: c, tok: tok, tokenFile: f}
}

// inputs are the flags naming the token, CA and endpoint.
func (e *env) inputs() []string {
	return []string{"--token-file", e.tokenFile, "--ca", e.c.CACertFile, "--api-server", e.c.Endpoint}
}

// run runs kubebake and returns stdout, stderr and the exit status. No
// output may hold the token secret, except manifests' stdout.
func (e *env) run(args ...string) (string, string, int) {
	e.t.Helper()
	cmd := exec.Command(kubebakeBin(e.t), args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG=/nonexistent")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			e.t.Fatal(err)
		}
		code = ee.ExitCode()
	}
	if strings.Contains(stderr.String(), e.tok.Secret()) || (args[0] != "manifests" && strings.Contains(stdout.String(), e.tok.Secret())) {
		e.t.Errorf("kubebake %s printed the token secret", args[0])
	}
	return stdout.String(), stderr.String(), code
}

func (e *env) apply(extra ...string) []cluster.Change {
	e.t.Helper()
	args := append([]string{"apply", "--kubeconfig", e.c.AdminKubeconfig, "--format", "json"}, e.inputs()...)
	stdout, stderr, code := e.run(append(args, extra...)...)
	if code != 0 {
		e.t.Fatalf("kubebake apply: exit %d: %s", code, stderr)
	}
	var out struct {
		Changes []cluster.Change `json:"changes"`
	}
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		e.t.Fatalf("kubebake apply --format json: %v\n%s", err, stdout)
	}
	return out.Changes
}

// check runs kubebake check --format json and returns the report and exit status.
func (e *env) check(extra ...string) (*cluster.Report, int) {
	e.t.Helper()
	args := append([]string{"check", "--kubeconfig", e.c.AdminKubeconfig, "--format", "json"}, e.inputs()...)
	stdout, stderr, code := e.run(append(args, extra...)...)
	var r cluster.Report
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		e.t.Fatalf("kubebake check --format json: exit %d, %v\n%s\n%s", code, err, stdout, stderr)
	}
	return &r, code
}

func failed(r *cluster.Report) []string {
	var out []string
	for _, c := range r.Checks {
		if c.Status == cluster.Fail {
			out = append(out, c.ID)
		}
	}
	return out
}

func logReport(t *testing.T, r *cluster.Report) {
	t.Helper()
	for _, c := range r.Checks {
		t.Logf("%s %s %s: %s", c.Status, c.ID, c.Endpoint, c.Message)
	}
}

func (e *env) requireCheckPasses(extra ...string) *cluster.Report {
	e.t.Helper()
	r, code := e.check(extra...)
	if code != 0 || !r.OK {
		logReport(e.t, r)
		e.t.Fatalf("kubebake check: exit %d, failed %v", code, failed(r))
	}
	for _, c := range r.Checks {
		if c.Status != cluster.Pass {
			e.t.Errorf("check %s: %s", c.ID, c.Status)
		}
	}
	return r
}

func actions(changes []cluster.Change) map[string]cluster.Action {
	m := map[string]cluster.Action{}
	for _, c := range changes {
		m[c.Object] = c.Action
	}
	return m
}

const nObjects = 7 // Secret, 3 ClusterRoleBindings, ConfigMap, Role, RoleBinding

// The manifests, piped to kubectl apply -f - unchanged, make a cluster that
// check passes.
func TestManifestsKubectlApply(t *testing.T) {
	e := newEnv(t)
	yaml, stderr, code := e.run(append([]string{"manifests", "--ttl", "2160h"}, e.inputs()...)...)
	if code != 0 {
		t.Fatalf("kubebake manifests: exit %d: %s", code, stderr)
	}
	out, err := e.c.KubectlStdin([]byte(yaml), "apply", "-f", "-")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out, " created\n"); n != nObjects {
		t.Errorf("kubectl apply created %d objects, want %d:\n%s", n, nObjects, out)
	}
	took := e.c.WaitJWS(t, e.tok.ID(), true, 60*time.Second)
	t.Logf("bootstrapsigner signed cluster-info %v after kubectl apply", took)
	e.requireCheckPasses()

	// kubebake apply over kubectl's objects (same expiry) changes no
	// content: it only takes the fields over, which is no change (issue
	// 11: managedFields are not reported). Then it is idempotent.
	exp := expirationOf(t, e)
	changes := e.apply("--expires", exp)
	if len(changes) != nObjects {
		t.Fatalf("apply after kubectl apply: %v", changes)
	}
	for _, c := range changes {
		t.Logf("kubebake apply after kubectl apply: %s", c)
		if c.Action != cluster.Unchanged {
			t.Errorf("apply after kubectl apply: %s; want unchanged (only the field manager changed)", c)
		}
	}
	for _, c := range e.apply("--expires", exp) {
		if c.Action != cluster.Unchanged {
			t.Errorf("apply again: %s", c)
		}
	}
	e.requireCheckPasses()
}

func expirationOf(t *testing.T, e *env) string {
	t.Helper()
	out := e.c.Kubectl(t, "-n", "kube-system", "get", "secret", "bootstrap-token-"+e.tok.ID(), "-o", "jsonpath={.data.expiration}")
	b, err := base64.StdEncoding.DecodeString(out)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestApplyThenCheck(t *testing.T) {
	e := newEnv(t)
	expires := time.Now().Add(90 * 24 * time.Hour).UTC().Format(time.RFC3339)

	// Nothing there: check fails and says how to fix it.
	r, code := e.check()
	if code != 1 || r.OK {
		t.Fatalf("check on an empty cluster: exit %d, ok %v", code, r.OK)
	}

	// A dry run reports what it would create and creates nothing.
	changes := e.apply("--expires", expires, "--dry-run")
	if len(changes) != nObjects {
		t.Fatalf("dry run: %v", changes)
	}
	for _, c := range changes {
		if c.Action != cluster.Created {
			t.Errorf("dry run: %s", c)
		}
	}
	if _, err := e.c.KubectlStdin(nil, "-n", "kube-system", "get", "secret", "bootstrap-token-"+e.tok.ID()); err == nil {
		t.Fatal("the dry run created the token Secret")
	}

	changes = e.apply("--expires", expires)
	if len(changes) != nObjects {
		t.Fatalf("apply: %v", changes)
	}
	for _, c := range changes {
		if c.Action != cluster.Created {
			t.Errorf("first apply: %s", c)
		}
	}
	took := e.c.WaitJWS(t, e.tok.ID(), true, 60*time.Second)
	t.Logf("bootstrapsigner signed cluster-info %v after kubebake apply", took)

	start := time.Now()
	e.requireCheckPasses()
	t.Logf("kubebake check passed in %v", time.Since(start))

	// The anonymous GET really was anonymous.
	if len(e.c.AuditEventsBy(t, "system:anonymous")) == 0 {
		t.Error("the audit log shows no request by system:anonymous")
	}

	// Again: unchanged, every object, and the text output says so.
	stdout, stderr, code := e.run(append([]string{"apply", "--kubeconfig", e.c.AdminKubeconfig, "--expires", expires}, e.inputs()...)...)
	if code != 0 {
		t.Fatalf("second apply: exit %d: %s", code, stderr)
	}
	if n := strings.Count(stdout, " unchanged\n"); n != nObjects {
		t.Errorf("second apply: %d unchanged, want %d:\n%s", n, nObjects, stdout)
	}

	// Delete one binding: check names it and exits 1; apply recreates it.
	b := cluster.Bindings[1]
	e.c.Kubectl(t, "delete", "clusterrolebinding", b.Name)
	r, code = e.check()
	if code != 1 || r.OK {
		t.Fatalf("check without %s: exit %d", b.Name, code)
	}
	if f := failed(r); len(f) != 1 || f[0] != cluster.BindingCheckID(b) {
		t.Fatalf("check without %s failed %v, want [%s]", b.Name, f, cluster.BindingCheckID(b))
	}
	text, _, code := e.run(append([]string{"check", "--kubeconfig", e.c.AdminKubeconfig}, e.inputs()...)...)
	t.Logf("kubebake check without %s:\n%s", b.Name, text)
	if code != 1 || !strings.Contains(text, "✗ "+cluster.BindingCheckID(b)+": no ClusterRoleBinding grants ClusterRole "+b.Role) ||
		!strings.Contains(text, "kubectl create clusterrolebinding "+b.Name) {
		t.Errorf("check text output (exit %d) does not name the missing binding and its fix:\n%s", code, text)
	}
	got := actions(e.apply("--expires", expires))
	if got["ClusterRoleBinding "+b.Name] != cluster.Created {
		t.Errorf("apply after the delete: %v", got)
	}
	e.requireCheckPasses()

	// Without the RoleBinding for system:anonymous, the API server answers
	// the anonymous GET with 403: check says so and skips discovery.
	e.c.Kubectl(t, "-n", "kube-public", "delete", "rolebinding", cluster.ClusterInfoRoleName)
	r, code = e.check()
	if f := failed(r); code != 1 || len(f) != 1 || f[0] != cluster.CheckAnonymousGet {
		logReport(t, r)
		t.Fatalf("check without the anonymous RoleBinding: exit %d, failed %v", code, f)
	}
	for _, c := range r.Checks {
		if c.ID == cluster.CheckAnonymousGet && !strings.Contains(c.Message, "403") {
			t.Errorf("anonymous-get: %s", c.Message)
		}
	}
	e.apply("--expires", expires)
	e.requireCheckPasses()

	// A token expiring sooner than --min-ttl: apply configures the Secret,
	// check names the expiry; a smaller --min-ttl passes.
	soon := time.Now().Add(3 * time.Hour).UTC().Format(time.RFC3339)
	changes = e.apply("--expires", soon)
	got = actions(changes)
	if got["Secret kube-system/bootstrap-token-"+e.tok.ID()] != cluster.Configured {
		t.Errorf("apply with a new expiry: %v", changes)
	}
	r, code = e.check("--min-ttl", "720h")
	if f := failed(r); code != 1 || len(f) != 1 || f[0] != cluster.CheckTokenExpiry {
		logReport(t, r)
		t.Fatalf("check of a token expiring in 3h with --min-ttl 720h: exit %d, failed %v", code, f)
	}
	e.requireCheckPasses("--min-ttl", "2h")
}

// A cluster prepared the kubeadm way (kubeadm's binding names, its Role
// for cluster-info, its token Secret): check accepts it as is.
func TestCheckKubeadmStyleCluster(t *testing.T) {
	e := newEnv(t)
	e.c.PrepareBootstrap(t)
	e.c.CreateToken(t, e.tok, 30*24*time.Hour)
	e.c.WaitJWS(t, e.tok.ID(), true, 60*time.Second)
	r := e.requireCheckPasses()
	var bound []string
	for _, c := range r.Checks {
		if strings.HasPrefix(c.ID, "binding-") {
			bound = append(bound, c.Message)
		}
	}
	if !strings.Contains(strings.Join(bound, "\n"), "kubeadm:kubelet-bootstrap") {
		t.Errorf("binding checks do not name kubeadm's bindings: %v", bound)
	}

	// apply --dry-run says what apply would take over (kubeadm's
	// cluster-info kubeconfig is written differently) and changes nothing.
	before := e.c.ClusterInfo(t).Data["kubeconfig"]
	var cmChange *cluster.Change
	for _, c := range e.apply("--dry-run") {
		if c.Object == "ConfigMap kube-public/cluster-info" {
			cmChange = &c
		}
	}
	if cmChange == nil || cmChange.Action != cluster.Configured || len(cmChange.Fields) != 1 || cmChange.Fields[0] != "data.kubeconfig" {
		t.Errorf("apply --dry-run on kubeadm's cluster-info: %v, want configured (data.kubeconfig)", cmChange)
	}
	if after := e.c.ClusterInfo(t).Data["kubeconfig"]; after != before {
		t.Error("apply --dry-run changed cluster-info")
	}

	// Issue 18: apply leaves kubeadm's token as it is (its 30 days, not
	// apply's --ttl), and says so; --adopt takes it over.
	secretName := "Secret kube-system/" + cluster.TokenSecretName(e.tok.ID())
	expiry := expirationOf(t, e)
	if got := actions(e.apply("--ttl", "2160h"))[secretName]; got != cluster.LeftAlone || expirationOf(t, e) != expiry {
		t.Errorf("apply on kubeadm's token: %s, expiration %s -> %s", got, expiry, expirationOf(t, e))
	}
	if got := actions(e.apply("--ttl", "2160h", "--adopt"))[secretName]; got != cluster.Configured || expirationOf(t, e) == expiry {
		t.Errorf("apply --adopt on kubeadm's token: %s, expiration %s", got, expirationOf(t, e))
	}

	// Deleting the token: check says the cluster does not know it.
	e.c.DeleteToken(t, e.tok.ID())
	r, code := e.check()
	if code != 1 || len(failed(r)) == 0 || failed(r)[0] != cluster.CheckTokenSecret {
		t.Fatalf("check after deleting the token: exit %d, failed %v", code, failed(r))
	}
}
