package boottest

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kubebake/kubebake/test/testcluster"
)

// Machine is one boot of a qemu machine.
type Machine struct {
	Name    string
	Console string // serial console (ttyS0): the kernel and the journal
	Probe   string // the probe's serial port (ttyS1)
	Started time.Time
	proc    *testcluster.Process
	monitor string
	seen    int // probe lines before this one were matched by an earlier Wait
}

// Boot starts qemu on disk (and the seed volume, if any) with the image's
// kernel: systemd is PID 1 and the journal goes to the console. The guest
// reaches the host side at 10.0.2.2, which qemu's user networking maps to
// 127.0.0.1 of the network namespace the test runs in.
func (img *Image) Boot(t testing.TB, name, disk, seed string) *Machine {
	t.Helper()
	dir := shortTempDir(t)
	m := &Machine{
		Name:    name,
		Console: filepath.Join(dir, "console.log"),
		Probe:   filepath.Join(dir, "probe.log"),
		monitor: filepath.Join(dir, "mon.sock"),
	}
	args := []string{"-nodefaults", "-display", "none", "-no-reboot",
		"-machine", "q35", "-smp", "2", "-m", "2048", "-rtc", "base=utc",
		"-kernel", img.Kernel, "-initrd", img.Initrd,
		"-append", "root=/dev/vda rw console=ttyS0 edd=off systemd.journald.forward_to_console=1 systemd.show_status=false",
		"-drive", "file=" + disk + ",format=raw,if=virtio,cache=unsafe,discard=unmap",
		"-netdev", "user,id=n0", "-device", "virtio-net-pci,netdev=n0",
		"-device", "virtio-rng-pci",
		"-serial", "file:" + m.Console, "-serial", "file:" + m.Probe,
		"-monitor", "unix:" + m.monitor + ",server=on,wait=off",
	}
	if img.Accel == "kvm" {
		args = append(args, "-accel", "kvm", "-cpu", "host,-arch-capabilities")
	} else {
		args = append(args, "-accel", "tcg,thread=multi,tb-size=1024", "-cpu", "max")
	}
	if seed != "" {
		args = append(args, "-drive", "file="+seed+",format=raw,if=virtio,readonly=on")
	}
	m.Started = time.Now()
	m.proc = testcluster.StartProcess(t, "qemu "+name, filepath.Join(dir, "qemu.log"), exec.Command("qemu-system-x86_64", args...))
	t.Logf("%s: qemu pid %d (%s), console %s", name, m.proc.PID(), img.Accel, m.Console)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("---- %s: end of the console ----\n%s", name, tailFile(m.Console, 80))
			if s := m.Last(); s != nil {
				t.Logf("---- %s: last probe line ----\n%s", name, s)
			}
		}
	})
	return m
}

// Last is the latest probe line, or nil.
func (m *Machine) Last() State {
	states, _ := readProbe(m.Probe)
	if len(states) == 0 {
		return nil
	}
	return states[len(states)-1]
}

// Journal is what the probe printed of kubebake-join's journal.
func (m *Machine) Journal() []string {
	_, j := readProbe(m.Probe)
	return j
}

// States are every probe line so far.
func (m *Machine) States() []State {
	s, _ := readProbe(m.Probe)
	return s
}

// Wait polls the probe until cond holds for a line and returns that line;
// it fails the test if qemu exits or timeout passes first. Lines older than
// the one an earlier Wait returned are not looked at.
func (m *Machine) Wait(t testing.TB, what string, timeout time.Duration, cond func(State) bool) State {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		states, _ := readProbe(m.Probe)
		for i := m.seen; i < len(states); i++ {
			if s := states[i]; cond(s) {
				m.seen = i
				t.Logf("%s: %s after %v: %s", m.Name, what, time.Since(m.Started).Round(time.Second), s)
				return s
			}
		}
		if len(states) > m.seen {
			m.seen = len(states) - 1
		}
		if exited, err := m.proc.Exited(); exited {
			t.Fatalf("%s: qemu exited (%v) before %s", m.Name, err, what)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not %s within %v (qemu started %v ago)", m.Name, what, timeout, time.Since(m.Started).Round(time.Second))
		}
		time.Sleep(2 * time.Second)
	}
}

// PowerOff presses the machine's power button (ACPI), which systemd-logind
// turns into a clean poweroff, and waits for qemu to exit.
func (m *Machine) PowerOff(t testing.TB, timeout time.Duration) {
	t.Helper()
	conn, err := net.DialTimeout("unix", m.monitor, 10*time.Second)
	if err != nil {
		t.Fatalf("%s: qemu monitor: %v", m.Name, err)
	}
	// Wait for the monitor's prompt before and after the command: a
	// connection closed before qemu read the command loses it.
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	if err := readUntil(conn, "(qemu)"); err != nil {
		t.Fatalf("%s: qemu monitor: %v", m.Name, err)
	}
	if _, err := conn.Write([]byte("system_powerdown\n")); err != nil {
		t.Fatalf("%s: qemu monitor: %v", m.Name, err)
	}
	if err := readUntil(conn, "(qemu)"); err != nil {
		t.Fatalf("%s: qemu monitor: %v", m.Name, err)
	}
	conn.Close()
	start := time.Now()
	if err := m.proc.Wait(t, timeout); err != nil {
		t.Fatalf("%s: qemu exited with %v", m.Name, err)
	}
	t.Logf("%s: powered off in %v", m.Name, time.Since(start).Round(time.Second))
}

// ConsoleHas reports whether the console shows s.
func (m *Machine) ConsoleHas(s string) bool {
	data, _ := os.ReadFile(m.Console)
	return strings.Contains(string(data), s)
}

// Uptime converts a time on the host to the guest's uptime, roughly: qemu's
// start is taken as the guest's time 0 (the guest's clock starts a little
// later, so figures derived this way err on the long side).
func (m *Machine) Uptime(at time.Time) float64 { return at.Sub(m.Started).Seconds() }

func tailFile(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Seconds formats a figure.
func Seconds(s float64) string { return strconv.FormatFloat(s, 'f', 1, 64) + "s" }

// readUntil reads from r until what it read contains s.
func readUntil(r io.Reader, s string) error {
	var got []byte
	buf := make([]byte, 4096)
	for !strings.Contains(string(got), s) {
		n, err := r.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			return fmt.Errorf("waiting for %q: %v (read %q)", s, err, got)
		}
	}
	return nil
}
