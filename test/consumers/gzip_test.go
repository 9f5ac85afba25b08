package consumers

import (
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
	// Through render, with the inputs every other consumer test renders
	// (the node's labels included), so that its tree is the plan's.
	gz := render(t, in, "cloud-init", "--gzip")
	if len(gz) < 2 || gz[0] != 0x1f || gz[1] != 0x8b {
		t.Fatalf("--gzip wrote no gzip data")
	}
	plain := render(t, in, "cloud-init")
	t.Logf("cloud-init user-data: %d bytes, %d gzipped", len(plain), len(gz))

	a, run := applyUserData(t, gz, plan)
	checkTree(t, "cloud-init (gzipped user-data)", a, plan)
	checkStarts(t, run, plan, true)
}
