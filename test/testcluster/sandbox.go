package testcluster

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// A Sandbox runs a command (a kubelet, kubeadm) that believes it owns the
// machine without letting it change the host: a private mount and UTS
// namespace (unshare -m -u) with
//   - overlays over /etc /var /usr /opt /root: the host's files show
//     through, writes land in an upper directory (the node's root for
//     /etc and /var, so the command sees the rendered files at their real
//     paths and what it writes ends up in the node's root);
//   - a fresh tmpfs on /run (no path to the host's systemd or D-Bus), or
//     a test's directory;
//   - /proc/sys read-only, with the values a kubelet with
//     protectKernelDefaults checks bound over the few it reads;
//   - every cgroup mount read-only;
//   - its own hostname, so several nodes can register from one machine.
type Sandbox struct {
	Dir      string
	Hostname string
	// Upper maps a directory in the sandbox to the directory its writes go
	// to (and whose files shadow the host's). Directories not set get a
	// scratch upper directory under Dir.
	Upper map[string]string
	// RunDir, if set, is bound over /run instead of a fresh tmpfs, so that
	// sockets a test serves there (a fake CRI) are where the command's
	// flags say.
	RunDir string
	// Binds maps a file path in the sandbox to a host file bound over it,
	// read-only, e.g. the cached kubelet at the path the unit runs it from.
	Binds map[string]string
	// ExecMarker, if set, is a line the set-up writes to stderr just before
	// it execs the command: a benchmark times the command from it, without
	// the sandbox's own set-up.
	ExecMarker string
}

// overlaid are the directories a Sandbox overlays.
var overlaid = []string{"/etc", "/var", "/opt", "/root", "/usr"}

// KernelDefaults are the sysctls the kubelet checks with
// protectKernelDefaults: true, with the values it wants.
var KernelDefaults = map[string]string{
	"vm/overcommit_memory":      "1",
	"vm/panic_on_oom":           "0",
	"kernel/panic":              "10",
	"kernel/panic_on_oops":      "1",
	"kernel/keys/root_maxkeys":  "1000000",
	"kernel/keys/root_maxbytes": "25000000",
}

// RequireSandbox fails the test under CI=true, and skips it otherwise, when
// this machine cannot run a Sandbox: not root, no unshare or mount, no
// overlayfs.
func RequireSandbox(t testing.TB) {
	t.Helper()
	fail := func(why string) {
		t.Helper()
		if InCI() {
			t.Fatalf("the kubelet sandbox cannot run here: %s; CI=true, so this fails instead of skipping (run the tests as root on Linux with util-linux)", why)
		}
		t.Skipf("the kubelet sandbox cannot run here: %s (needs root, unshare, mount and overlayfs)", why)
	}
	if os.Geteuid() != 0 {
		fail("not root")
	}
	for _, tool := range []string{"unshare", "mount", "hostname"} {
		if _, err := exec.LookPath(tool); err != nil {
			fail(tool + " not found")
		}
	}
	fs, err := os.ReadFile("/proc/filesystems")
	if err != nil || !strings.Contains(string(fs), "\toverlay\n") {
		fail("overlayfs not available (/proc/filesystems)")
	}
}

// NewSandbox makes a sandbox with scratch space in a new temp dir.
func NewSandbox(t testing.TB, hostname string) *Sandbox {
	t.Helper()
	RequireSandbox(t)
	return &Sandbox{Dir: t.TempDir(), Hostname: hostname, Upper: map[string]string{}, Binds: map[string]string{}}
}

// WithRoot makes the node root's /etc and /var the upper directories of the
// sandbox's /etc and /var.
func (s *Sandbox) WithRoot(root string) *Sandbox {
	s.Upper["/etc"] = filepath.Join(root, "etc")
	s.Upper["/var"] = filepath.Join(root, "var")
	return s
}

// Command returns the command that runs argv in the sandbox. Start it with
// StartProcess (or run it): its PID is argv's own, since unshare and the
// set-up shell exec into it.
func (s *Sandbox) Command(t testing.TB, argv ...string) *exec.Cmd {
	t.Helper()
	script := s.script(t)
	writeFile(t, filepath.Join(s.Dir, "sandbox.sh"), []byte(script), 0o755)
	args := append([]string{"--mount", "--uts", "--propagation", "private", "--", "/bin/sh", "-c", script, "sandbox"}, argv...)
	return exec.Command("unshare", args...)
}

func (s *Sandbox) script(t testing.TB) string {
	t.Helper()
	var b strings.Builder
	line := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	line("set -eu")
	if s.Hostname != "" {
		line("hostname %s", shellQuote(s.Hostname))
	}
	// /proc/sys read-only, with the kubelet's kernel defaults bound over it.
	line("mount --bind /proc/sys /proc/sys")
	line("mount -o remount,bind,ro /proc/sys")
	keys := make([]string, 0, len(KernelDefaults))
	for k := range KernelDefaults {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	sysctlDir := filepath.Join(s.Dir, "sysctl")
	if err := os.MkdirAll(sysctlDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		f := filepath.Join(sysctlDir, strings.ReplaceAll(k, "/", "."))
		writeFile(t, f, []byte(KernelDefaults[k]+"\n"), 0o444)
		target := "/proc/sys/" + k
		line("mount --bind %s %s", shellQuote(f), target)
		line("mount -o remount,bind,ro %s", target)
	}
	line(`awk '$2 ~ "^/sys/fs/cgroup" { print $2 }' /proc/self/mounts | while read -r m; do mount -o remount,bind,ro "$m"; done`)
	if s.RunDir != "" {
		line("mount --bind %s /run", shellQuote(s.RunDir))
	} else {
		line("mount -t tmpfs -o mode=0755 tmpfs /run")
	}
	// The overlays come last, /usr very last: from then on the set-up's own
	// tools may come from the node's root.
	for _, dir := range overlaid {
		upper := s.Upper[dir]
		if upper == "" {
			upper = filepath.Join(s.Dir, "upper", strings.TrimPrefix(dir, "/"))
		}
		work := filepath.Join(s.Dir, "work", strings.TrimPrefix(dir, "/"))
		for _, p := range []string{upper, work} {
			if strings.ContainsAny(p, ",:") {
				t.Fatalf("sandbox: overlay path %q must not contain ',' or ':'", p)
			}
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		line("mount -t overlay overlay -o %s %s", shellQuote("lowerdir="+dir+",upperdir="+upper+",workdir="+work), dir)
	}
	targets := make([]string, 0, len(s.Binds))
	for target := range s.Binds {
		targets = append(targets, target)
	}
	sort.Strings(targets)
	for _, target := range targets {
		line("mkdir -p %s", shellQuote(filepath.Dir(target)))
		line("[ -e %[1]s ] || : > %[1]s", shellQuote(target))
		line("mount --bind %s %s", shellQuote(s.Binds[target]), shellQuote(target))
		line("mount -o remount,bind,ro %s", shellQuote(target))
	}
	if s.ExecMarker != "" {
		line("echo %s >&2", shellQuote(s.ExecMarker))
	}
	line(`exec "$@"`)
	return b.String()
}

// shellQuote quotes s for sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
