package cluster

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubebake/kubebake/test/testcluster"
)

// runWith runs kubebake with exactly the environment variables given (and
// PATH), so a test decides what KUBECONFIG and HOME are.
func (e *env) runWith(vars []string, args ...string) (string, string, int) {
	e.t.Helper()
	cmd := exec.Command(kubebakeBin(e.t), args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, vars...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	code := 0
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			e.t.Fatal(err)
		}
		code = ee.ExitCode()
	}
	if strings.Contains(stdout.String()+stderr.String(), e.tok.Secret()) {
		e.t.Errorf("kubebake %s printed the token secret", args[0])
	}
	return stdout.String(), stderr.String(), code
}

// Issue 11, item 15: apply refuses a --ca that does not sign the API
// server's serving certificate (publishing it in cluster-info would break
// every join), accepts a rotation bundle holding the right CA, and
// --force overrides.
func TestApplyRefusesForeignCA(t *testing.T) {
	e := newEnv(t)
	root, err := testcluster.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(root, "testdata/ca.crt") // a CA, not this cluster's
	base := []string{"apply", "--kubeconfig", e.c.AdminKubeconfig, "--token-file", e.tokenFile, "--api-server", e.c.Endpoint}

	stdout, stderr, code := e.run(append(base, "--ca", other)...)
	if code != 2 || stdout != "" || !strings.Contains(stderr, "kubebake apply: --ca: ") ||
		!strings.Contains(stderr, "which no --ca certificate signs") || !strings.Contains(stderr, "--force") {
		t.Fatalf("apply with a foreign CA: exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	var secret map[string]any
	if e.c.Get(t, "/api/v1/namespaces/kube-system/secrets/bootstrap-token-"+e.tok.ID(), &secret) {
		t.Errorf("the refused apply created the token Secret")
	}

	// A rotation bundle that holds the cluster's CA passes.
	if _, stderr, code := e.run(append(base, "--ca", e.c.CACertFile, "--ca", other, "--dry-run")...); code != 0 {
		t.Errorf("apply with a bundle holding the cluster CA: exit %d: %s", code, stderr)
	}
	// --force publishes it anyway.
	if _, stderr, code := e.run(append(base, "--ca", other, "--force")...); code != 0 {
		t.Errorf("apply --force: exit %d: %s", code, stderr)
	}
}

// Issue 11, item 16: the cluster commands' errors speak the user's
// language: no KUBERNETES_MASTER, no Go types, --timeout checked, and
// apply --format json carries the error.
func TestClusterCommandErrors(t *testing.T) {
	e := newEnv(t)
	home := t.TempDir() // no .kube/config
	inputs := []string{"--token-file", e.tokenFile, "--ca", e.c.CACertFile, "--api-server", e.c.Endpoint}
	for _, cmd := range []string{"apply", "check"} {
		for _, c := range []struct {
			name string
			vars []string
			args []string
			want string
		}{
			{"no kubeconfig", []string{"HOME=" + home}, nil, "--kubeconfig: no kubeconfig found"},
			{"$KUBECONFIG missing", []string{"HOME=" + home, "KUBECONFIG=" + filepath.Join(home, "nope.conf")}, nil, "$KUBECONFIG: " + filepath.Join(home, "nope.conf") + ": no such file or directory"},
			{"not a kubeconfig", []string{"HOME=" + home}, []string{"--kubeconfig", e.tokenFile}, "is not a kubeconfig"},
			{"timeout 0", []string{"HOME=" + home}, []string{"--kubeconfig", e.c.AdminKubeconfig, "--timeout", "0"}, "--timeout: 0s is not a positive duration"},
			{"timeout -1s", []string{"HOME=" + home}, []string{"--kubeconfig", e.c.AdminKubeconfig, "--timeout", "-1s"}, "--timeout: -1s is not a positive duration"},
		} {
			args := append(append([]string{cmd}, inputs...), c.args...)
			_, stderr, code := e.runWith(c.vars, args...)
			if code != 2 || !strings.Contains(stderr, c.want) || strings.Contains(stderr, "KUBERNETES_MASTER") || strings.Contains(stderr, "Go ") {
				t.Errorf("%s, %s: exit %d, stderr %q; want exit 2 and %q", cmd, c.name, code, stderr, c.want)
			}
		}
	}

	// A failed apply --format json says so in its JSON, not only on stderr.
	bad := filepath.Join(t.TempDir(), "bad.conf")
	kc := "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: " + e.c.Server() + "\n    certificate-authority: " + e.c.CACertFile +
		"\nusers:\n- name: u\n  user:\n    token: not-a-valid-token\ncontexts:\n- name: c\n  context: {cluster: c, user: u}\ncurrent-context: c\n"
	if err := os.WriteFile(bad, []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := e.run(append([]string{"apply", "--kubeconfig", bad, "--format", "json"}, inputs...)...)
	var report struct {
		Changes []any  `json:"changes"`
		Error   string `json:"error"`
	}
	if err := json.Unmarshal([]byte(stdout), &report); err != nil {
		t.Fatalf("apply --format json: %v\n%s", err, stdout)
	}
	if code != 1 || report.Error == "" || !strings.Contains(stderr, report.Error) {
		t.Errorf("apply --format json with a rejected user: exit %d, error %q, stderr %q", code, report.Error, stderr)
	}
	t.Logf("apply --format json with a rejected user: %s", report.Error)
}
