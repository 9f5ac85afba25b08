package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// systemctlLog is where the stand-in systemctl records its calls.
const systemctlLog = "/var/log/kubebake-e2e-systemctl.log"

// recordSystemctl replaces the Debian root's systemctl with one that records
// its arguments and succeeds: in a chroot no systemd runs, so cloud-init's
// runcmd cannot start units; the test starts them, in the recorded order.
func recordSystemctl(t *testing.T, root string) {
	t.Helper()
	shim := "#!/bin/sh\n# kubebake e2e: records what cloud-init asks of systemd.\necho \"$*\" >> " + systemctlLog + "\n"
	for _, p := range []string{"usr/bin/systemctl", "bin/systemctl"} {
		path := filepath.Join(root, p)
		if fi, err := os.Lstat(path); err == nil && fi.Mode().IsRegular() {
			if err := os.WriteFile(path, []byte(shim), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// systemctlStarts returns the units cloud-init (re)started, in order.
func systemctlStarts(t *testing.T, root string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, systemctlLog))
	if err != nil {
		t.Fatalf("cloud-init never called systemctl: %v", err)
	}
	var units []string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && (f[0] == "start" || f[0] == "restart") {
			units = append(units, f[1:]...)
		}
	}
	return units
}
