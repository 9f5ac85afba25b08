package consumers

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	ct "github.com/kubebake/kubebake/test/consumertest"
)

// TestCloudInitGzip proves --gzip: real cloud-init reads the gzipped
// user-data kubebake writes and leaves the same tree as from the plain one.
func TestCloudInitGzip(t *testing.T) {
	ct.Tools(t)
	ready(t)
	in := inputs{runtime: "containerd", joinBinary: "baked"}
	plan := renderPlan(t, in)
	out := filepath.Join(t.TempDir(), "user-data.gz")
	args := []string{"render", "--ca", caFile, "--token-file", tokenFile, "--api-server", apiServer,
		"--format", "cloud-init", "--runtime", in.runtime, "--join-binary", in.joinBinary, "--gzip", "-o", out}
	cmd := exec.Command(kubebakeBin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("kubebake %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	gz, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(gz) < 2 || gz[0] != 0x1f || gz[1] != 0x8b {
		t.Fatalf("--gzip wrote no gzip data")
	}
	plain := render(t, in, "cloud-init")
	t.Logf("cloud-init user-data: %d bytes, %d gzipped", len(plain), len(gz))

	a, run := applyUserData(t, gz, plan)
	checkTree(t, "cloud-init (gzipped user-data)", a, plan)
	checkStarts(t, run, plan)
}
