package consumertest

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kubebake/kubebake/internal/userdata"
	"sigs.k8s.io/yaml"
)

// CloudInitStages are the four boot stages, in order, as a machine runs them.
var CloudInitStages = [][]string{
	{"init", "--local"},
	{"init"},
	{"modules", "--mode", "config"},
	{"modules", "--mode", "final"},
}

// chrootModules are the init-stage modules that can only fail in a chroot:
// resizefs (no block device behind /) and ssh (no ssh-keygen in the minimal
// root). chrootConfig drops them from Debian's own module list, so that any
// warning left in cloud-init's log is about the user-data.
var chrootModules = map[string]bool{"resizefs": true, "ssh": true}

// systemctlShim stands in for /usr/bin/systemctl inside the chroot, where no
// systemd runs as PID 1: the verbs that need a running systemd
// (daemon-reload, start, restart, ...) are recorded in SystemctlLog and
// succeed, as they would on a booted machine; every other verb (enable,
// disable, is-enabled, ...) runs the real systemctl, which works offline.
// "--now" is recorded as the start it means and dropped.
const systemctlShim = `#!/bin/sh
# consumertest: no systemd runs in this chroot; see test/consumertest.
log=/var/log/consumertest-systemctl.log
verb= now= args=
for a in "$@"; do
  case "$a" in
  --now) now=1 ;;
  -*) args="$args $a" ;;
  *) if [ -z "$verb" ]; then verb=$a; fi; args="$args $a" ;;
  esac
done
case "$verb" in
daemon-reload|daemon-reexec|start|restart|try-restart|reload|reload-or-restart|try-reload-or-restart|stop|reset-failed)
  echo "$*" >>"$log"; exit 0 ;;
esac
echo "$*" >>"$log"
# shellcheck disable=SC2086
/usr/bin/systemctl.real $args || exit
if [ -n "$now" ]; then
  case "$verb" in enable|reenable) echo "start (--now of $verb)" >>"$log" ;; esac
fi
`

// systemdRunShim stands in for /usr/bin/systemd-run inside the chroot: it
// records the transient service asked for (its command, and the unit it is
// ordered after, --property=After=) in transientDir, and ApplyCloudInit
// runs it in the chroot once the stage that unit stands for is done, as
// systemd would start it.
const systemdRunShim = `#!/bin/sh
# consumertest: no systemd runs in this chroot; see test/consumertest.
dir=/var/lib/consumertest-systemd-run
mkdir -p "$dir"
n=$(ls "$dir" | wc -l)
after=
while [ $# -gt 0 ]; do
  case "$1" in
  --property=After=*) after="$after ${1#--property=After=}" ;;
  --) shift; break ;;
  -*) ;;
  *) break ;;
  esac
  shift
done
[ -n "$after" ] || { echo "consumertest systemd-run: no --property=After=" >&2; exit 1; }
printf '%s' "${after# }" >"$dir/$n.after"
for a in "$@"; do printf '%s\0' "$a"; done >"$dir/$n.cmd"
`

// transientDir is where the systemd-run shim queues transient services.
const transientDir = "/var/lib/consumertest-systemd-run"

// stageUnits are the systemd units that run CloudInitStages, in order
// (the network stage's unit is cloud-init-network.service from cloud-init
// 24.3 on).
var stageUnits = [][]string{{"cloud-init-local.service"}, {"cloud-init.service", "cloud-init-network.service"}, {"cloud-config.service"}, {"cloud-final.service"}}

// SystemctlLog is where the systemctl shim records each call, one line a
// call with its arguments, in the root.
const SystemctlLog = "/var/log/consumertest-systemctl.log"

// CloudInitRun is what cloud-init left behind.
type CloudInitRun struct {
	// Log is /var/log/cloud-init.log; Output is /var/log/cloud-init-output.log
	// (the runcmd scripts' output goes there).
	Log, Output string
	// Systemctl holds the argument lists of every systemctl call, in order
	// (see SystemctlLog).
	Systemctl []string
	// Transient are the services systemd-run was asked for, as run.
	Transient []Transient
}

// Transient is a transient service a stage asked systemd-run for.
type Transient struct {
	// After are the units it was ordered after (space-separated): it ran
	// behind the first stage among them.
	After string
	Argv  []string
}

// ExtractDebianRoot extracts the cached minimal Debian root (with cloud-init
// and systemd) into dir.
func ExtractDebianRoot(t testing.TB, dir string) {
	t.Helper()
	ts := Tools(t)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if r := run(5*time.Minute, nil, "tar", "--numeric-owner", "--xattrs", "-xpf", ts.DebianRoot, "-C", dir); r.err != nil {
		t.Fatalf("extracting the Debian root: %s", r)
	}
}

// ApplyCloudInit extracts the Debian root into root, calls prepare (if not
// nil) to add what the image would ship, seeds user-data through NoCloud and
// runs cloud-init's four stages in a chroot. Read-only /proc, /sys and /dev
// are mounted in a private mount namespace that dies with each stage, so no
// mount outlives it even if the test is killed; private UTS and network
// namespaces keep cloud-init from renaming the host or reaching a network. The test fails if a stage
// fails, if `cloud-init status --long` or result.json/status.json report any
// error, or if cloud-init's log holds any WARNING, ERROR or traceback.
func ApplyCloudInit(t testing.TB, userData []byte, root string, prepare func(root string)) *CloudInitRun {
	t.Helper()
	ExtractDebianRoot(t, root)
	if prepare != nil {
		prepare(root)
	}
	seed := filepath.Join(root, "var/lib/cloud/seed/nocloud")
	must(t, os.MkdirAll(seed, 0o700))
	must(t, os.WriteFile(filepath.Join(seed, "user-data"), userData, 0o600))
	must(t, os.WriteFile(filepath.Join(seed, "meta-data"), []byte("instance-id: kubebake-consumertest\nlocal-hostname: kubebake-node\n"), 0o600))
	writeChrootConfig(t, root)
	installSystemctlShim(t, root)
	t.Cleanup(func() { assertNothingMounted(t, root) })
	return BootCloudInit(t, root)
}

// BootCloudInit runs cloud-init's four stages in root (see ApplyCloudInit)
// as a boot does: the first boot, or another boot of the same instance.
// The run it returns holds this boot's systemctl calls and transient
// services only.
func BootCloudInit(t testing.TB, root string) *CloudInitRun {
	t.Helper()
	ts := Tools(t)
	must(t, os.WriteFile(filepath.Join(root, SystemctlLog), nil, 0o644))
	// What earlier boots queued lived in their /run.
	ran := map[string]bool{}
	for _, q := range queuedTransient(t, root, ran) {
		ran[q.id] = true
	}
	if host, err := os.Hostname(); err == nil {
		defer func() {
			if now, _ := os.Hostname(); now != host {
				t.Errorf("the host's hostname changed from %q to %q while cloud-init ran: its UTS namespace leaked", host, now)
			}
		}()
	}

	var transcript strings.Builder
	fail := func(format string, a ...any) {
		t.Helper()
		run := readCloudInitRun(root)
		t.Fatalf("%s\n\nstages:\n%s\ncloud-init-output.log:\n%s\ncloud-init.log (last 60 lines):\n%s",
			fmt.Sprintf(format, a...), transcript.String(), indent(run.Output), indent(lastLines(run.Log, 60)))
	}
	var took []string
	var transient []Transient
	for i, stage := range CloudInitStages {
		start := time.Now()
		r := inChroot(ts, root, append([]string{"cloud-init"}, stage...)...)
		took = append(took, fmt.Sprintf("%s %.1fs", strings.Join(stage, " "), time.Since(start).Seconds()))
		transcript.WriteString(r.String())
		if r.err != nil {
			fail("cloud-init %s failed", strings.Join(stage, " "))
		}
		// What systemd starts once this stage's unit is done.
		for _, tr := range queuedTransient(t, root, ran) {
			if !slices.ContainsFunc(strings.Fields(tr.After), func(u string) bool { return slices.Contains(stageUnits[i], u) }) {
				continue
			}
			ran[tr.id] = true
			r := inChroot(ts, root, tr.Argv...)
			transcript.WriteString(r.String())
			if r.err != nil {
				fail("the transient service after %s failed", tr.After)
			}
			transient = append(transient, tr.Transient)
		}
	}
	if left := queuedTransient(t, root, ran); len(left) > 0 {
		fail("systemd-run queued a service after %s, which no stage is: it would never run", left[0].After)
	}
	t.Logf("cloud-init stages: %s", strings.Join(took, ", "))
	status := inChroot(ts, root, "cloud-init", "status", "--long")
	transcript.WriteString(status.String())
	if status.err != nil || !regexp.MustCompile(`(?m)^status: done$`).MatchString(status.stdout) {
		fail("cloud-init status is not done")
	}
	if errs := cloudInitErrors(t, root); len(errs) > 0 {
		fail("cloud-init recorded errors:\n%s", strings.Join(errs, "\n"))
	}
	run := readCloudInitRun(root)
	if bad := cloudInitComplaints(run.Log); len(bad) > 0 {
		fail("cloud-init logged warnings or errors:\n%s", strings.Join(bad, "\n"))
	}
	run.Transient = transient
	return run
}

// inChroot runs argv in root with read-only /proc, /sys and /dev mounted, in
// private mount, UTS and network namespaces (cloud-init sets the hostname;
// the host's must not change), in a clean environment.
func inChroot(ts *Toolset, root string, argv ...string) result {
	const script = `set -u
root=$1; shift
trap 'umount "$root/dev" "$root/sys" "$root/proc" 2>/dev/null' EXIT
mount -t proc -o ro proc "$root/proc" && mount -t sysfs -o ro sysfs "$root/sys" &&
  mount --bind /dev "$root/dev" && mount -o remount,bind,ro "$root/dev" || exit 111
chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 HOME=/root "$@"
`
	// Own mount, UTS and network namespaces: the mounts die with the process,
	// set_hostname renames only this namespace, and nothing reaches a network.
	args := append([]string{"--mount", "--uts", "--net", "--propagation", "private", "/bin/sh", "-c", script, "sh", root}, argv...)
	r := run(3*time.Minute, nil, ts.Unshare, args...)
	r.cmd = "chroot ROOT " + strings.Join(argv, " ")
	return r
}

// assertNothingMounted fails the test if anything is mounted at or under dir
// in this mount namespace (removing the directory would then reach into it).
func assertNothingMounted(t testing.TB, dir string) {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		t.Error(err)
		return
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) > 1 && (f[1] == dir || strings.HasPrefix(f[1], dir+"/")) {
			t.Errorf("%s is still mounted: unmount it before the directory is removed", f[1])
		}
	}
}

// cloudInitErrors reads result.json and status.json.
func cloudInitErrors(t testing.TB, root string) []string {
	t.Helper()
	var errs []string
	var result struct {
		V1 struct {
			Errors []any `json:"errors"`
		} `json:"v1"`
	}
	if err := readJSON(filepath.Join(root, "var/lib/cloud/data/result.json"), &result); err != nil {
		return []string{"result.json: " + err.Error()}
	}
	for _, e := range result.V1.Errors {
		errs = append(errs, fmt.Sprintf("result.json: %v", e))
	}
	var status struct {
		V1 map[string]json.RawMessage `json:"v1"`
	}
	if err := readJSON(filepath.Join(root, "var/lib/cloud/data/status.json"), &status); err != nil {
		return append(errs, "status.json: "+err.Error())
	}
	stages := make([]string, 0, len(status.V1))
	for k := range status.V1 {
		stages = append(stages, k)
	}
	sort.Strings(stages)
	for _, stage := range stages {
		var s struct {
			Errors []any `json:"errors"`
		}
		if json.Unmarshal(status.V1[stage], &s) != nil {
			continue // "datasource", "stage": not a stage record
		}
		for _, e := range s.Errors {
			errs = append(errs, fmt.Sprintf("status.json %s: %v", stage, e))
		}
	}
	return errs
}

var cloudInitLogLevel = regexp.MustCompile(`\[(WARNING|ERROR|CRITICAL)\]`)

// cloudInitComplaints returns the log lines at WARNING or above, and
// tracebacks.
func cloudInitComplaints(log string) []string {
	var bad []string
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if cloudInitLogLevel.MatchString(line) || strings.HasPrefix(line, "Traceback") {
			bad = append(bad, line)
		}
	}
	return bad
}

type queued struct {
	Transient
	id string
}

// queuedTransient are the services the systemd-run shim queued that have
// not run yet, in the order asked for.
func queuedTransient(t testing.TB, root string, ran map[string]bool) []queued {
	t.Helper()
	dir := filepath.Join(root, transientDir)
	var out []queued
	for i := 0; ; i++ {
		id := strconv.Itoa(i)
		after, err := os.ReadFile(filepath.Join(dir, id+".after"))
		if errors.Is(err, os.ErrNotExist) {
			return out
		}
		must(t, err)
		if ran[id] {
			continue
		}
		cmd, err := os.ReadFile(filepath.Join(dir, id+".cmd"))
		must(t, err)
		argv := strings.Split(strings.TrimSuffix(string(cmd), "\x00"), "\x00")
		out = append(out, queued{Transient{After: string(after), Argv: argv}, id})
	}
}

func readCloudInitRun(root string) *CloudInitRun {
	log, _ := os.ReadFile(filepath.Join(root, "var/log/cloud-init.log"))
	out, _ := os.ReadFile(filepath.Join(root, "var/log/cloud-init-output.log"))
	calls, _ := os.ReadFile(filepath.Join(root, SystemctlLog))
	run := &CloudInitRun{Log: string(log), Output: string(out)}
	for _, l := range strings.Split(string(calls), "\n") {
		if l != "" {
			run.Systemctl = append(run.Systemctl, l)
		}
	}
	return run
}

// writeChrootConfig writes a cloud.cfg.d file with Debian's init-stage
// module list less chrootModules.
func writeChrootConfig(t testing.TB, root string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "etc/cloud/cloud.cfg"))
	must(t, err)
	var cfg struct {
		Modules []any `json:"cloud_init_modules"`
	}
	if err := yaml.Unmarshal(data, &cfg); err != nil || len(cfg.Modules) == 0 {
		t.Fatalf("the Debian root's /etc/cloud/cloud.cfg has no cloud_init_modules (%v)", err)
	}
	var keep []any
	for _, m := range cfg.Modules {
		name, _ := m.(string)
		if l, ok := m.([]any); ok && len(l) > 0 {
			name, _ = l[0].(string)
		}
		if !chrootModules[strings.ReplaceAll(name, "-", "_")] {
			keep = append(keep, m)
		}
	}
	out, err := yaml.Marshal(map[string]any{"cloud_init_modules": keep})
	must(t, err)
	out = append([]byte("# consumertest: Debian's list less the modules a chroot cannot run.\n"), out...)
	must(t, os.WriteFile(filepath.Join(root, "etc/cloud/cloud.cfg.d/95-consumertest-chroot.cfg"), out, 0o644))
}

func installSystemctlShim(t testing.TB, root string) {
	t.Helper()
	bin := filepath.Join(root, "usr/bin/systemctl")
	must(t, os.Rename(bin, bin+".real"))
	must(t, os.WriteFile(bin, []byte(systemctlShim), 0o755))
	must(t, os.WriteFile(filepath.Join(root, "usr/bin/systemd-run"), []byte(systemdRunShim), 0o755))
}

// SchemaCheck runs the host's `cloud-init schema --config-file` on userData
// and fails the test unless cloud-init says it is valid and nothing else.
// Because cloud-init does not flag unknown top-level keys, it also fails on
// any top-level key that cloud-init's own schema does not define.
//
// A MIME multipart user-data (kubebake's, with the install boothook, or a
// merged one) is checked part by part: each cloud-config part must pass.
func SchemaCheck(t testing.TB, userData []byte) {
	t.Helper()
	if userdata.IsMIME(userData) {
		parts, err := userdata.Parse(userData)
		if err != nil {
			t.Fatalf("user-data is not MIME multipart: %v", err)
		}
		checked := 0
		for _, p := range parts {
			if p.ContentType == "text/cloud-config" {
				SchemaCheck(t, p.Body)
				checked++
			}
		}
		if checked == 0 {
			t.Fatalf("MIME user-data has no cloud-config part")
		}
		return
	}
	ts := Tools(t)
	f := filepath.Join(t.TempDir(), "user-data")
	must(t, os.WriteFile(f, userData, 0o600))
	r := run(time.Minute, nil, ts.CloudInit, "schema", "--config-file", f)
	if r.err != nil || r.stdout != "Valid cloud-config: "+f+"\n" || r.stderr != "" {
		t.Fatalf("cloud-init schema rejects the cloud-config:\n%s", r)
	}
	known, err := schemaKeys()
	if err != nil {
		t.Fatalf("reading cloud-init's schema: %v", err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(userData, &doc); err != nil {
		t.Fatalf("cloud-config is not YAML: %v", err)
	}
	for k := range doc {
		if !known[k] {
			t.Errorf("cloud-config has top-level key %q, which no cloud-init module reads (cloud-init ignores it silently)", k)
		}
	}
}

// cloudInitSchema is the JSON schema Debian's cloud-init validates with.
const cloudInitSchema = "/usr/lib/python3/dist-packages/cloudinit/config/schemas/schema-cloud-config-v1.json"

// schemaKeys returns the top-level keys the module schemas define.
func schemaKeys() (map[string]bool, error) {
	var schema struct {
		Defs map[string]struct {
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"$defs"`
	}
	if err := readJSON(cloudInitSchema, &schema); err != nil {
		return nil, err
	}
	keys := map[string]bool{}
	for name, d := range schema.Defs {
		if !strings.HasPrefix(name, "cc_") && name != "base_config" {
			continue // nested definitions (a user, a mirror): not top level
		}
		for k := range d.Properties {
			keys[k] = true
		}
	}
	if len(keys) < 20 {
		return nil, fmt.Errorf("%s defines only %d keys: not the schema expected", cloudInitSchema, len(keys))
	}
	return keys, nil
}

func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
