package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubebake/kubebake/internal/joinconfig"
	"github.com/kubebake/kubebake/internal/token"
	"github.com/kubebake/kubebake/test/consumertest"
	"github.com/kubebake/kubebake/test/testcluster"
)

// render runs `kubebake render` for the cluster endpoint with the CA file
// and token given, and returns the output file's path.
func render(t testing.TB, kubebake, ep, caFile string, tok token.Token, format string, extra ...string) string {
	t.Helper()
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(tok.Value()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "node."+format)
	args := append([]string{"render", "--ca", caFile, "--token-file", tokenFile, "--api-server", ep,
		"--format", format, "--join-binary", "embedded", "-o", out}, extra...)
	cmd := exec.Command(kubebake, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("kubebake %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	if strings.Contains(stderr.String(), tok.Secret()) {
		t.Errorf("kubebake render printed the token secret:\n%s", stderr.String())
	}
	if fi, err := os.Stat(out); err == nil && format != "plan" {
		t.Logf("kubebake render --format %s %s: %d bytes", format, strings.Join(extra, " "), fi.Size())
	}
	return out
}

// renderPlan runs `kubebake render --format plan` with the same inputs.
func renderPlan(t testing.TB, kubebake, ep, caFile string, tok token.Token, extra ...string) *consumertest.Plan {
	t.Helper()
	plan, err := consumertest.ParsePlan(mustRead(t, render(t, kubebake, ep, caFile, tok, "plan", extra...)))
	if err != nil {
		t.Fatal(err)
	}
	return plan
}

// ignitionNode renders Ignition for the inputs and applies it with the real
// applier to a root that looks like the image (its vendor units, stubs for
// the units the image ships that the plan only enables or extends), as
// consumertest does. It returns the root.
func ignitionNode(t testing.TB, kubebake, ep, caFile string, tok token.Token, extra ...string) string {
	t.Helper()
	return ignitionImageNode(t, kubebake, ep, caFile, tok, nil, extra...)
}

// ignitionImageNode is ignitionNode with bake adding what the image ships
// (such as a baked kubebake-join) to the root before Ignition runs.
func ignitionImageNode(t testing.TB, kubebake, ep, caFile string, tok token.Token, bake func(root string), extra ...string) string {
	t.Helper()
	cfg := render(t, kubebake, ep, caFile, tok, "ignition", extra...)
	plan := renderPlan(t, kubebake, ep, caFile, tok, extra...)
	root := t.TempDir()
	consumertest.ImageRoot(t, root, plan.ImageUnits()...)
	if bake != nil {
		bake(root)
	}
	consumertest.ApplyIgnition(t, cfg, root)
	return root
}

// node is a node's root as an applier left it, run as systemd would boot it:
// kubebake-join.service, then (only if it succeeded, since kubelet.service
// Requires= it) kubelet.service.
type node struct {
	root     string
	hostname string
	tok      token.Token
	// labels are the rendered --node-labels its Node must carry.
	labels map[string]string
}

// joinResult is one run of kubebake-join.
type joinResult struct {
	code          int
	stderr        string
	start, finish time.Time
}

func (r joinResult) took() time.Duration { return r.finish.Sub(r.start) }

// join runs kubebake-join.service's ExecStart as the node's root has it,
// from that root (--root), with extra flags (a short --timeout).
func (n *node) join(t *testing.T, extra ...string) joinResult {
	t.Helper()
	u, err := loadUnit(n.root, "kubebake-join.service")
	if err != nil {
		t.Fatal(err)
	}
	argv, err := u.execStart()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(n.root, argv[0])
	if fi, err := os.Stat(bin); err != nil || fi.Mode()&0o111 == 0 {
		t.Fatalf("kubebake-join.service runs %s, but the applied root has no executable there: %v", argv[0], err)
	}
	args := append(append(append([]string{}, argv[1:]...), "--root", n.root), extra...)
	cmd := exec.Command(bin, args...)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	r := joinResult{start: time.Now()}
	err = cmd.Run()
	r.finish = time.Now()
	r.code, r.stderr = testcluster.ExitCode(err), stderr.String()
	if r.code < 0 {
		t.Fatalf("kubebake-join did not run: %v", err)
	}
	t.Logf("kubebake-join exited %d after %v:\n%s", r.code, r.took().Round(time.Millisecond), r.stderr)
	if strings.Contains(r.stderr, n.tok.Secret()) {
		t.Errorf("kubebake-join printed the token secret")
	}
	return r
}

// kubeletRequiresJoin checks what keeps the kubelet down until
// kubebake-join succeeded: kubelet.service starts only when its bootstrap
// kubeconfig (which only the join installs) or its own kubeconfig exists,
// and kubebake-join.service starts it after a successful run. The kubelet is
// not ordered after the join: the join runs after multi-user.target so that
// it holds no boot, and the kubelet is part of that target.
func (n *node) kubeletRequiresJoin(t *testing.T) {
	t.Helper()
	paths := joinconfig.DefaultPaths()
	u, err := loadUnit(n.root, "kubelet.service")
	if err != nil {
		t.Fatal(err)
	}
	conds := u.values("Unit", "ConditionPathExists")
	want := []string{"|" + paths.KubeletKubeconfig, "|" + paths.BootstrapKubeconfig}
	if strings.Join(conds, " ") != strings.Join(want, " ") {
		t.Errorf("kubelet.service must start only when %s or %s exists (ConditionPathExists=|...), so that it never runs before kubebake-join installed its bootstrap kubeconfig; it has ConditionPathExists=%q", paths.KubeletKubeconfig, paths.BootstrapKubeconfig, conds)
	}
	j, err := loadUnit(n.root, "kubebake-join.service")
	if err != nil {
		t.Fatal(err)
	}
	if post := strings.Join(j.values("Service", "ExecStartPost"), "\n"); !strings.Contains(post, "start kubelet.service") {
		t.Errorf("kubebake-join.service must start kubelet.service once it succeeded; ExecStartPost=%q", post)
	}
}

// kubelet is a running kubelet and the fake CRI it talks to.
type kubelet struct {
	proc    *testcluster.Process
	changed []string
}

// startKubelet starts the fake CRI where the rendered kubelet flags point
// and the real kubelet with kubelet.service's ExecStart in a sandbox whose
// /etc and /var are the node's root. The only changes are the sandbox's:
// the rendered KubeletConfiguration gets testcluster.KubeletSandboxConfig,
// and the cached kubelet is bound where ExecStart runs it.
func (n *node) startKubelet(t *testing.T, fakecri string) *kubelet {
	t.Helper()
	u, err := loadUnit(n.root, "kubelet.service")
	if err != nil {
		t.Fatal(err)
	}
	argv, err := u.execStart()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("kubelet.service runs: %s", strings.Join(argv, " "))

	configPath, ok := flagValue(argv, "config")
	if !ok {
		t.Fatalf("kubelet.service passes no --config: %v", argv)
	}
	rendered, err := os.ReadFile(filepath.Join(n.root, configPath))
	if err != nil {
		t.Fatalf("the kubelet config the unit names: %v", err)
	}
	cfg, changed, err := testcluster.KubeletSandboxConfig(rendered, testcluster.FreePort(t), testcluster.FreePort(t))
	if err != nil {
		t.Fatalf("%s: %v", configPath, err)
	}
	if err := os.WriteFile(filepath.Join(n.root, configPath+".rendered"), rendered, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(n.root, configPath), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("kubelet config changed for the sandbox: %s", strings.Join(changed, "; "))

	// The fake CRI serves the endpoint the flags name, under a directory the
	// sandbox binds over /run.
	endpoint, ok := flagValue(argv, "container-runtime-endpoint")
	if !ok {
		t.Fatalf("kubelet.service passes no --container-runtime-endpoint: %v", argv)
	}
	sock, ok := strings.CutPrefix(endpoint, "unix:///run/")
	if !ok {
		t.Fatalf("--container-runtime-endpoint=%s: this test serves the fake CRI only under unix:///run/", endpoint)
	}
	runDir, err := os.MkdirTemp("", "kb-run-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(runDir) })
	sockPath := filepath.Join(runDir, sock)
	if err := os.MkdirAll(filepath.Dir(sockPath), 0o755); err != nil {
		t.Fatal(err)
	}
	logDir := t.TempDir()
	cri := testcluster.StartProcess(t, "fakecri", filepath.Join(logDir, "fakecri.log"), exec.Command(fakecri, "-endpoint", "unix://"+sockPath))
	cri.WaitLog(t, "fakecri: serving", 30*time.Second)

	sb := testcluster.NewSandbox(t, n.hostname).WithRoot(n.root)
	sb.RunDir = runDir
	sb.Binds[argv[0]] = testcluster.Bin(t, "kubelet")
	proc := testcluster.StartProcess(t, "kubelet", filepath.Join(logDir, "kubelet.log"), sb.Command(t, argv...))
	return &kubelet{proc: proc, changed: changed}
}

// waitFile waits until root/path exists (a link need not resolve on the
// host), failing if stop closes first.
func waitFile(t *testing.T, root, path string, timeout time.Duration, stop <-chan struct{}) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		if _, err := os.Lstat(filepath.Join(root, path)); err == nil {
			return time.Since(start)
		}
		select {
		case <-stop:
			t.Fatalf("the kubelet exited before %s appeared", path)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Since(start) > timeout {
			t.Fatalf("%s did not appear within %v", path, timeout)
		}
	}
}

// readInRoot reads path in the node's root, following symbolic links as the
// node would (an absolute target is inside the root).
func readInRoot(t *testing.T, root, path string) []byte {
	t.Helper()
	for i := 0; i < 8; i++ {
		target, err := os.Readlink(filepath.Join(root, path))
		if err != nil {
			break
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(path), target)
		}
		path = target
	}
	return mustRead(t, filepath.Join(root, path))
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func fileMode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

func describe(events []testcluster.AuditEvent) string {
	var b strings.Builder
	for _, e := range events {
		fmt.Fprintf(&b, "\n  %s %s %s -> %d (%s)", e.RequestReceivedTimestamp, e.Verb, e.RequestURI, e.ResponseStatus.Code, e.UserAgent)
	}
	return b.String()
}
