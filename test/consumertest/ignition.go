package consumertest

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// IgnitionResultFile is what the applier writes into the root besides the
// config's own files.
const IgnitionResultFile = "/etc/.ignition-result.json"

// IgnitionPresetFile is where the applier records the units to enable.
const IgnitionPresetFile = "/etc/systemd/system-preset/20-ignition.preset"

// DefaultDisablePreset is the vendor preset Fedora CoreOS and Flatcar ship
// ("disable *"): without it `systemctl preset-all` would enable every unit
// that has an [Install] section, not only those the config enables.
const DefaultDisablePreset = "/usr/lib/systemd/system-preset/99-default-disable.preset"

// ValidateIgnition runs ignition-validate on the config and fails the test on
// any report, warnings included.
func ValidateIgnition(t testing.TB, configPath string) {
	t.Helper()
	ts := Tools(t)
	r := run(time.Minute, nil, ts.IgnitionValidate, configPath)
	if r.err != nil || strings.TrimSpace(r.stdout+r.stderr) != "" {
		t.Fatalf("ignition-validate reports problems in %s:\n%s", configPath, r)
	}
}

// ApplyIgnition applies the config to root with the real applier as a
// machine's initramfs would, in the two stages of the file platform
// (fetch-offline, then files), after validating it; then runs
// `systemctl --root=ROOT preset-all`, which turns the applier's preset into
// the wants/ links systemd boots with (prepare root with ImageRoot first). Any stage failing, and any log line
// above INFO/DEBUG, fails the test.
func ApplyIgnition(t testing.TB, configPath, root string) {
	t.Helper()
	ts := Tools(t)
	ValidateIgnition(t, configPath)
	// The applier merges system configs from these host directories into
	// the config under test; a host with any of them would test something
	// else than the config.
	for _, d := range []string{"/run/ignition", "/etc/ignition", "/usr/lib/ignition"} {
		if _, err := os.Stat(d); err == nil {
			t.Fatalf("%s exists on this host: the Ignition applier would merge its configs into %s; run the tests on a host without it", d, configPath)
		}
	}
	state := t.TempDir()
	cache := filepath.Join(state, "config.json")
	stateFile := filepath.Join(state, "state")
	env := []string{"IGNITION_CONFIG_FILE=" + configPath}
	stages := []result{
		run(time.Minute, env, ts.Ignition, "-platform", "file", "-stage", "fetch-offline",
			"-config-cache", cache, "-state-file", stateFile, "-neednet", filepath.Join(state, "neednet"), "-log-to-stdout"),
	}
	if stages[0].err == nil {
		stages = append(stages, run(time.Minute, env, ts.Ignition, "-platform", "file", "-stage", "files", "-root", root,
			"-config-cache", cache, "-state-file", stateFile, "-log-to-stdout"))
	}
	for _, r := range stages {
		if r.err != nil {
			t.Fatalf("ignition failed on %s:\n%s", configPath, r)
		}
		if bad := IgnitionComplaints(r.stdout + r.stderr); len(bad) > 0 {
			t.Fatalf("ignition reported on %s:\n%s\nfull log:\n%s", configPath, strings.Join(bad, "\n"), r)
		}
		if !strings.Contains(r.stdout, "Ignition finished successfully") {
			t.Fatalf("ignition did not report success on %s:\n%s", configPath, r)
		}
	}
	if _, err := os.Stat(filepath.Join(state, "neednet")); err == nil {
		t.Errorf("ignition says %s needs the network in the initramfs (a remote resource): a rendered config must be self-contained", configPath)
	}
	PresetAll(t, root)
}

// IgnitionComplaints returns the log lines of a level other than INFO and
// DEBUG (WARNING, ERROR, CRITICAL, ...).
func IgnitionComplaints(log string) []string {
	var bad []string
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		level, _, ok := strings.Cut(line, ":")
		level = strings.TrimSpace(level)
		if !ok || level == "INFO" || level == "DEBUG" {
			continue
		}
		if level == strings.ToUpper(level) && !strings.Contains(level, " ") {
			bad = append(bad, line)
		}
	}
	return bad
}

// PresetAll writes the vendor "disable *" preset into root unless it has one
// (see ImageRoot), then runs `systemctl --root=ROOT preset-all`, failing on any error or
// stderr output other than systemctl's own record of the links it made.
func PresetAll(t testing.TB, root string) {
	t.Helper()
	ts := Tools(t)
	writeIfMissing(t, filepath.Join(root, DefaultDisablePreset), "disable *\n", 0o644)
	r := run(time.Minute, nil, ts.Systemctl, "--root="+root, "preset-all")
	if r.err != nil {
		t.Fatalf("systemctl preset-all failed in %s:\n%s", root, r)
	}
	if bad := systemctlComplaints(r.stderr); len(bad) > 0 {
		t.Fatalf("systemctl preset-all complained in %s:\n%s\n%s", root, strings.Join(bad, "\n"), r)
	}
}

// systemctlComplaints drops the "Created symlink"/"Removed" lines systemctl
// prints for each link it changes and returns the rest.
func systemctlComplaints(stderr string) []string {
	var bad []string
	for _, line := range strings.Split(stderr, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "Created symlink ") || strings.HasPrefix(line, "Removed ") {
			continue
		}
		bad = append(bad, line)
	}
	return bad
}

func writeIfMissing(t testing.TB, path, contents string, mode os.FileMode) {
	t.Helper()
	if _, err := os.Lstat(path); err == nil {
		return
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(contents), mode); err != nil {
		t.Fatal(err)
	}
}
