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

// TestCloudInitSecondBoot: at a second boot of the same instance, real
// cloud-init runs bootcmd again, and kubebake's start must not be asked
// for again (it would restart the runtime under a joined kubelet). Its
// marker is named kubebake_start: cloud-init's migrator module
// canonicalises the names in the semaphore directory, and renamed the
// kubebake-start of before to that, so that the boot tier's second boots
// ran the start again (the probe's count of its runs caught it; in this
// chroot the rename came too late to show).
func TestCloudInitSecondBoot(t *testing.T) {
	ct.Tools(t)
	ready(t)
	in := inputs{runtime: "containerd", joinBinary: "baked"}
	plan := renderPlan(t, in)
	a, first := applyUserData(t, render(t, in, "cloud-init"), plan)
	checkStarts(t, first, plan, true)
	again := ct.BootCloudInit(t, a.root)
	if len(again.Transient) > 0 || len(again.Systemctl) > 0 {
		t.Errorf("the second boot asked systemd-run for %+v and systemctl for %q; want nothing", again.Transient, again.Systemctl)
	}
}
