package e2e

import (
	"bytes"
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

// goldenNode builds a node as a golden image is built and booted: the image
// part, rendered as a tar with another token than tok (its bytes do not
// depend on it), laid into the image root; then only the boot part for tok,
// applied by the real Ignition applier at "first boot".
func goldenNode(t *testing.T, kubebake, ep, caFile string, tok token.Token, extra ...string) string {
	t.Helper()
	other, err := token.Generate()
	if err != nil {
		t.Fatal(err)
	}
	image := render(t, kubebake, ep, caFile, other, "tar", append([]string{"--part", "image"}, extra...)...)
	plan := renderPlan(t, kubebake, ep, caFile, tok, extra...)
	root := t.TempDir()
	consumertest.ImageRoot(t, root, plan.ImageUnits()...)
	if out, err := exec.Command("tar", "--numeric-owner", "-xpf", image, "-C", root).CombinedOutput(); err != nil {
		t.Fatalf("tar -x: %v\n%s", err, out)
	}
	if exists(filepath.Join(root, joinconfig.DefaultTokenFile)) {
		t.Fatalf("the image part holds %s", joinconfig.DefaultTokenFile)
	}
	consumertest.ApplyIgnition(t, render(t, kubebake, ep, caFile, tok, "ignition", append([]string{"--part", "boot"}, extra...)...), root)
	return root
}

// noAgentBootstrap starts the kubelet of a --join-binary none node, which
// bootstraps from the rendered kubeconfig, whose token comes from
// /etc/kubebake/token (tokenFile), and waits for its own kubeconfig.
func noAgentBootstrap(t *testing.T, c *testcluster.Cluster, n *node, fakecri string) {
	t.Helper()
	k := n.startKubelet(t, fakecri)
	took := waitFile(t, n.root, joinconfig.DefaultKubeletKubeconfig, 60*time.Second, k.proc.Done())
	waitFile(t, n.root, "/var/lib/kubelet/pki/kubelet-client-current.pem", 30*time.Second, k.proc.Done())
	t.Logf("TLS bootstrap with the token file: %s written %v after the kubelet started", joinconfig.DefaultKubeletKubeconfig, took.Round(time.Millisecond))
	// Its client CSR was made with the token it read from the file.
	found := false
	for _, r := range c.CSRs(t) {
		found = found || (r.Spec.Username == "system:bootstrap:"+n.tok.ID() && r.Approved() && len(r.Status.Certificate) > 0)
	}
	if !found {
		t.Errorf("no approved, signed CSR by system:bootstrap:%s", n.tok.ID())
	}
	if kc := mustRead(t, filepath.Join(n.root, joinconfig.DefaultBootstrapKubeconfig)); bytes.Contains(kc, []byte(n.tok.Secret())) || !strings.Contains(string(kc), "tokenFile: "+joinconfig.DefaultTokenFile) {
		t.Errorf("the rendered bootstrap kubeconfig should name the token file and hold no token:\n%s", kc)
	}
}
