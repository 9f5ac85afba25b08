// Package boot is the boot tier: kubebake's rendered configs booted for real,
// systemd as PID 1, in qemu machines of the Debian image of
// scripts/setup-boot.sh (see test/boottest), against the real control
// plane of test/testcluster.
//
// The whole test binary runs in a network namespace of its own (TestMain
// re-executes it under `unshare --net` with only lo up): the control plane
// listens on its 127.0.0.1, qemu's user networking maps the guest's 10.0.2.2
// there, and no packet leaves the namespace, which dies with the test.
//
// Scenarios (README, "The boot tier"): a cloud-init node with containerd and
// the embedded agent whose API server starts only once the join is waiting,
// then rebooted; an Ignition (fcos) node with docker + cri-dockerd and a
// baked agent; an Ignition node pinned to another CA.
package boot

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

const netnsEnv = "KUBEBAKE_BOOT_NETNS"

func TestMain(m *testing.M) {
	if os.Getenv(netnsEnv) == "" && os.Geteuid() == 0 {
		cmd := exec.Command("unshare", append([]string{"--net", "--", os.Args[0]}, os.Args[1:]...)...)
		cmd.Env = append(os.Environ(), netnsEnv+"=1")
		cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			if ee, ok := err.(*exec.ExitError); ok {
				os.Exit(ee.ExitCode())
			}
			fmt.Fprintf(os.Stderr, "boot: running the tests in a new network namespace: %v\n", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if os.Getenv(netnsEnv) == "1" {
		if out, err := exec.Command("ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "boot: ip link set lo up: %v\n%s", err, out)
			os.Exit(1)
		}
		// The guest's 10.0.2.2 on this side too: the Ignition applier, which
		// runs here before a first boot, fetches a config's remote files
		// (boottest.FileServer) from the URL the guest would use.
		if out, err := exec.Command("ip", "addr", "add", "10.0.2.2/32", "dev", "lo").CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "boot: ip addr add 10.0.2.2/32 dev lo: %v\n%s", err, out)
			os.Exit(1)
		}
	}
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}
