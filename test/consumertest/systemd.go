package consumertest

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// UnitDir is where kubebake's units and drop-ins live.
const UnitDir = "/etc/systemd/system"

// VendorUnitDir is where an image's own units live.
const VendorUnitDir = "/usr/lib/systemd/system"

// StubUnit writes a minimal unit named name into root's vendor unit
// directory (unless one is there), standing in for a unit the image ships
// (containerd.service, docker.service, docker.socket) so that enabling it
// and verifying drop-ins for it work. Its command is stubbed too.
func StubUnit(t testing.TB, root, name string) {
	t.Helper()
	var body string
	switch path.Ext(name) {
	case ".socket":
		base := strings.TrimSuffix(name, ".socket")
		body = fmt.Sprintf("[Unit]\nDescription=stand-in for the image's %s\n\n[Socket]\nListenStream=/run/%s.sock\n\n[Install]\nWantedBy=sockets.target\n", name, base)
	case ".service":
		bin := "/usr/bin/" + strings.TrimSuffix(name, ".service")
		body = fmt.Sprintf("[Unit]\nDescription=stand-in for the image's %s\n\n[Service]\nExecStart=%s\n\n[Install]\nWantedBy=multi-user.target\n", name, bin)
		StubExecutable(t, root, bin)
	default:
		t.Fatalf("StubUnit: no stub for %s (only .service and .socket)", name)
	}
	writeIfMissing(t, filepath.Join(root, VendorUnitDir, name), body, 0o644)
}

// StubExecutable makes an executable shell script at path in root unless
// something is there.
func StubExecutable(t testing.TB, root, file string) {
	t.Helper()
	writeIfMissing(t, filepath.Join(root, file), "#!/bin/sh\nexit 0\n", 0o755)
}

// execKeys are the unit settings that name a command systemd runs.
var execKeys = map[string]bool{
	"ExecStart": true, "ExecStartPre": true, "ExecStartPost": true, "ExecReload": true,
	"ExecStop": true, "ExecStopPost": true, "ExecCondition": true,
}

// Commands returns the absolute paths of the programs a unit file's Exec*
// lines run (systemd's prefixes "-@:+!" stripped). A bare name, which
// systemd looks up in its fixed search path, is where the image would have
// it: /usr/bin/NAME.
func Commands(unitText string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(unitText))
	for sc.Scan() {
		key, val, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if !ok || !execKeys[strings.TrimSpace(key)] {
			continue
		}
		f := strings.Fields(val)
		if len(f) == 0 {
			continue // "ExecStart=" resets the list
		}
		cmd := strings.TrimLeft(f[0], "-@:+!")
		if !strings.HasPrefix(cmd, "/") {
			cmd = "/usr/bin/" + cmd
		}
		out = append(out, cmd)
	}
	return out
}

// ImageRoot makes root look like an OS image to systemctl before Ignition
// runs: the host's vendor units (so targets such as multi-user.target
// exist), stubs for the given units the image ships, and the vendor
// "disable *" preset that Fedora CoreOS and Flatcar have.
func ImageRoot(t testing.TB, root string, imageUnits ...string) {
	t.Helper()
	copyHostUnits(t, root)
	for _, u := range imageUnits {
		StubUnit(t, root, u)
	}
	writeIfMissing(t, filepath.Join(root, DefaultDisablePreset), "disable *\n", 0o644)
}

func copyHostUnits(t testing.TB, root string) {
	t.Helper()
	dst := filepath.Join(root, VendorUnitDir)
	must(t, os.MkdirAll(dst, 0o755))
	if out, err := exec.Command("cp", "-a", VendorUnitDir+"/.", dst).CombinedOutput(); err != nil {
		t.Fatalf("copying the host's %s: %v: %s", VendorUnitDir, err, out)
	}
	// Debian masks its sysvinit scripts' units with links to /dev/null;
	// systemctl reports each one, and the images we target have none.
	masked, err := filepath.Glob(filepath.Join(dst, "*"))
	must(t, err)
	for _, m := range masked {
		if target, err := os.Readlink(m); err == nil && target == "/dev/null" {
			must(t, os.Remove(m))
		}
	}
}

// VerifyRoot builds a root in which systemd-analyze can verify the units and
// drop-ins under tree's /etc/systemd/system: the host's own units (so targets
// like multi-user.target resolve), everything in tree, stubs for the given
// units the image ships, and an executable stub for every program a unit or
// drop-in runs that the tree does not hold.
func VerifyRoot(t testing.TB, tree string, imageUnits ...string) string {
	t.Helper()
	root := t.TempDir()
	copyHostUnits(t, root)
	if out, err := exec.Command("cp", "-a", tree+"/.", root).CombinedOutput(); err != nil {
		t.Fatalf("copying %s: %v: %s", tree, err, out)
	}
	for _, u := range imageUnits {
		StubUnit(t, root, u)
	}
	files, err := filepath.Glob(filepath.Join(root, UnitDir, "*"))
	must(t, err)
	dropins, err := filepath.Glob(filepath.Join(root, UnitDir, "*.d", "*.conf"))
	must(t, err)
	for _, f := range append(files, dropins...) {
		if st, err := os.Stat(f); err != nil || !st.Mode().IsRegular() {
			continue
		}
		data, err := os.ReadFile(f)
		must(t, err)
		for _, c := range Commands(string(data)) {
			StubExecutable(t, root, c)
		}
	}
	return root
}

// VerifyUnits runs `systemd-analyze verify --root=ROOT NAME` for each unit
// (which loads its drop-ins) and fails the test on any failure or any output
// at all: systemd-analyze exits 0 on warnings such as unknown keys.
func VerifyUnits(t testing.TB, root string, units ...string) {
	t.Helper()
	ts := Tools(t)
	for _, u := range units {
		r := run(time.Minute, []string{"SYSTEMD_LOG_COLOR=0", "SYSTEMD_PAGER="}, ts.SystemdAnalyze, "verify", "--root="+root, u)
		if r.err != nil || strings.TrimSpace(r.stdout+r.stderr) != "" {
			t.Errorf("systemd-analyze verify %s:\n%s%s", u, r, unitText(root, u))
		}
	}
}

// unitText shows a unit and its drop-ins, for failure messages.
func unitText(root, unit string) string {
	var b strings.Builder
	files := []string{filepath.Join(root, UnitDir, unit)}
	dropins, _ := filepath.Glob(filepath.Join(root, UnitDir, unit+".d", "*.conf"))
	sort.Strings(dropins)
	for _, f := range append(files, dropins...) {
		if data, err := os.ReadFile(f); err == nil {
			fmt.Fprintf(&b, "--- %s\n%s", strings.TrimPrefix(f, root), indent(string(data)))
		}
	}
	return b.String()
}

// UnitsIn returns the names of the units that have a file or drop-in
// directory directly under root's /etc/systemd/system, sorted.
func UnitsIn(root string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(root, UnitDir))
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, e := range entries {
		name := e.Name()
		switch {
		case e.Type().IsRegular():
			seen[name] = true
		case e.IsDir() && strings.HasSuffix(name, ".d"):
			seen[strings.TrimSuffix(name, ".d")] = true
		}
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out, nil
}

// IsEnabled runs `systemctl --root=ROOT is-enabled UNIT` and returns what it
// prints ("enabled", "disabled", "static", ...).
func IsEnabled(t testing.TB, root, unit string) string {
	t.Helper()
	ts := Tools(t)
	r := run(time.Minute, nil, ts.Systemctl, "--root="+root, "is-enabled", unit)
	state := strings.TrimSpace(r.stdout)
	if state == "" {
		t.Fatalf("systemctl is-enabled %s says nothing:\n%s", unit, r)
	}
	return state
}

// EnablementLinks returns the links systemctl made under root's
// /etc/systemd/system/*.wants, *.requires and *.upholds, as a tree.
func EnablementLinks(t testing.TB, root string) Tree {
	t.Helper()
	tree, err := Snapshot(root, UnitDir)
	must(t, err)
	return tree.Filter(func(p string, e Entry) bool {
		dir := path.Base(path.Dir(p))
		return e.Type == "symlink" && (strings.HasSuffix(dir, ".wants") || strings.HasSuffix(dir, ".requires") || strings.HasSuffix(dir, ".upholds"))
	})
}
