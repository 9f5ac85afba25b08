package consumers

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	ct "github.com/kubebake/kubebake/test/consumertest"
)

// TestHostname: --hostname reaches /etc/hostname through the real Ignition
// applier, and through real cloud-init, whose set_hostname would otherwise
// write the datasource's name (the NoCloud seed says kubebake-node).
func TestHostname(t *testing.T) {
	ready(t)
	const host = "worker-7.example.com"
	t.Run("ignition", func(t *testing.T) {
		in := inputs{variant: "fcos", runtime: "docker", joinBinary: "baked"}
		plan := renderPlan(t, in)
		cfg := filepath.Join(t.TempDir(), "config.ign")
		if err := os.WriteFile(cfg, render(t, in, "ignition", "--hostname", host), 0o600); err != nil {
			t.Fatal(err)
		}
		root := t.TempDir()
		ct.ImageRoot(t, root, plan.ImageUnits()...)
		ct.ApplyIgnition(t, cfg, root)
		checkHostname(t, root, host)
	})
	t.Run("cloud-init", func(t *testing.T) {
		in := inputs{runtime: "containerd", joinBinary: "baked"}
		userData := render(t, in, "cloud-init", "--hostname", host)
		ct.SchemaCheck(t, userData)
		a, _ := applyUserData(t, userData, renderPlan(t, in))
		checkHostname(t, a.root, host)
	})
}

func checkHostname(t *testing.T, root, want string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "etc/hostname"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(data)); got != want {
		t.Errorf("/etc/hostname is %q, want %q", got, want)
	}
}
