package consumers

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	ct "github.com/kubebake/kubebake/test/consumertest"
)

// applied is a root a consumer wrote, and what it changed there.
type applied struct {
	root    string
	changes ct.Tree // added or changed entries under the watched paths
}

// applyIgnition renders in as Ignition and applies it with the real applier
// to a root that looks like the image (its vendor units, the units it ships
// that the plan only enables or extends, the "disable *" preset).
func applyIgnition(t *testing.T, in inputs, plan *ct.Plan) applied {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "config.ign")
	if err := os.WriteFile(cfg, render(t, in, "ignition"), 0o600); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	ct.ImageRoot(t, root, plan.ImageUnits()...)
	before := snapshot(t, root)
	ct.ApplyIgnition(t, cfg, root)
	changes := ct.Changes(before, snapshot(t, root)).Without(ct.IgnitionResultFile, ct.IgnitionPresetFile)
	return applied{root: root, changes: changes}
}

// applyCloudInit renders in as a cloud-config, checks it with
// `cloud-init schema`, and applies it with real cloud-init in a Debian root
// that also holds the units the image ships.
func applyCloudInit(t *testing.T, in inputs, plan *ct.Plan) (applied, *ct.CloudInitRun) {
	t.Helper()
	userData := render(t, in, "cloud-init")
	ct.SchemaCheck(t, userData)
	return applyUserData(t, userData, plan)
}

// applyUserData runs real cloud-init on userData in a fresh root.
func applyUserData(t *testing.T, userData []byte, plan *ct.Plan) (applied, *ct.CloudInitRun) {
	t.Helper()
	root := filepath.Join(t.TempDir(), "root")
	watch := watched(plan)
	var before ct.Tree
	run := ct.ApplyCloudInit(t, userData, root, func(root string) {
		for _, u := range plan.ImageUnits() {
			ct.StubUnit(t, root, u)
		}
		before = snapshot(t, root, watch...)
	})
	return applied{root: root, changes: ct.Changes(before, snapshot(t, root, watch...))}, run
}

// watched are the directories the plan writes into, and the unit directory.
func watched(plan *ct.Plan) []string {
	return append(plan.Dirs(), ct.UnitDir)
}

func snapshot(t *testing.T, root string, prefixes ...string) ct.Tree {
	t.Helper()
	tree, err := ct.Snapshot(root, prefixes...)
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

func ofType(tree ct.Tree, typ string) ct.Tree {
	return tree.Filter(func(_ string, e ct.Entry) bool { return e.Type == typ })
}

// checkTree asserts that the consumer wrote exactly the plan's files (paths,
// modes, owner root, contents), that every other change under the watched
// paths is a directory or an enablement link, and that the units the plan
// enables, and only those, are enabled.
func checkTree(t *testing.T, consumer string, a applied, plan *ct.Plan) {
	t.Helper()
	if d := ct.Diff("plan", plan.Tree(), consumer, ofType(a.changes, "file")); len(d) > 0 {
		t.Errorf("%s's tree is not the plan's:\n%s", consumer, strings.Join(d, "\n"))
	}
	for _, p := range a.changes.Paths() {
		e := a.changes[p]
		switch e.Type {
		case "file":
		case "dir":
			if e.UID != 0 || e.GID != 0 {
				t.Errorf("%s: directory %s is owned by %d:%d, want root", consumer, p, e.UID, e.GID)
			}
		case "symlink":
			dir := path.Base(path.Dir(p))
			if !strings.HasSuffix(dir, ".wants") && !strings.HasSuffix(dir, ".requires") {
				t.Errorf("%s made symlink %s -> %s, which is no enablement link", consumer, p, e.Target)
			} else if !contains(plan.Enabled, path.Base(p)) {
				t.Errorf("%s enabled %s (%s), which the plan does not enable", consumer, path.Base(p), p)
			}
		default:
			t.Errorf("%s made %s: %s", consumer, p, e)
		}
	}
	for _, u := range plan.Enabled {
		if s := ct.IsEnabled(t, a.root, u); s != "enabled" {
			t.Errorf("%s: the plan enables %s but systemctl says %s", consumer, u, s)
		}
	}
	for _, u := range plan.Units() {
		if contains(plan.Enabled, u) {
			continue
		}
		if s := ct.IsEnabled(t, a.root, u); s == "enabled" {
			t.Errorf("%s: %s is enabled, the plan does not enable it", consumer, u)
		}
	}
}

// checkAgent asserts that the embedded kubebake-join is on the node,
// byte-identical to the agent built from this tree, and executable; and that
// the baked and none modes ship no agent.
func checkAgent(t *testing.T, in inputs, plan *ct.Plan, root string) {
	t.Helper()
	var agents []ct.PlanFile
	for _, f := range plan.Files {
		if path.Base(f.Path) == "kubebake-join" {
			agents = append(agents, f)
		}
	}
	if in.joinBinary != "embedded" {
		if len(agents) > 0 {
			t.Errorf("--join-binary %s, yet the plan ships %s", in.joinBinary, agents[0].Path)
		}
		return
	}
	if len(agents) != 1 {
		t.Fatalf("--join-binary embedded: the plan ships %d kubebake-join binaries, want 1", len(agents))
	}
	want, err := os.ReadFile(agentBin)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(want)
	if agents[0].SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("the plan's %s has sha256 %s; the agent built from this tree has %x (stale embed/dist? run `make embed`)", agents[0].Path, agents[0].SHA256, sum)
	}
	file := filepath.Join(root, agents[0].Path)
	got, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s on the node (%d bytes) differs from the agent built from this tree (%d bytes)", agents[0].Path, len(got), len(want))
	}
	st, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm()&0o111 != 0o111 {
		t.Errorf("%s has mode %04o: not executable", agents[0].Path, st.Mode().Perm())
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestIgnition applies every rendered Ignition config with the real applier
// and verifies every rendered unit and drop-in with systemd-analyze.
func TestIgnition(t *testing.T) {
	ct.Tools(t)
	ready(t)
	forEachIgnitionInput(t, func(t *testing.T, in inputs) {
		plan := renderPlan(t, in)
		if len(plan.Units()) == 0 {
			t.Fatal("the plan has no units")
		}
		ig := applyIgnition(t, in, plan)
		checkTree(t, "ignition", ig, plan)
		checkAgent(t, in, plan, ig.root)

		vroot := ct.VerifyRoot(t, ig.root, plan.ImageUnits()...)
		ct.VerifyUnits(t, vroot, plan.Units()...)
	})
}

// forEachIgnitionInput runs f as a subtest for every variant × runtime ×
// join-binary mode.
func forEachIgnitionInput(t *testing.T, f func(t *testing.T, in inputs)) {
	for _, v := range variants {
		for _, r := range runtimes {
			for _, j := range joinBinarys {
				in := inputs{variant: v, runtime: r, joinBinary: j}
				t.Run(in.String(), func(t *testing.T) { f(t, in) })
			}
		}
	}
}

// TestCloudInit applies every rendered cloud-config with real cloud-init,
// checks the tree and the order the node's start starts units in, and compares the
// machine state with what Ignition makes of the same inputs.
func TestCloudInit(t *testing.T) {
	ct.Tools(t)
	ready(t)
	forEachCloudInitInput(t, func(t *testing.T, in inputs) {
		plan := renderPlan(t, in)
		ci, run := applyCloudInit(t, in, plan)
		checkTree(t, "cloud-init", ci, plan)
		checkAgent(t, in, plan, ci.root)
		checkStarts(t, run, plan, true)

		// One plan, two emitters, one machine state. cloud-init has
		// no variant: compare with the default variant's Ignition.
		ig := applyIgnition(t, in, plan)
		igWatched := ig.changes.Filter(func(p string, _ ct.Entry) bool {
			for _, w := range watched(plan) {
				if ct.Under(p, w) {
					return true
				}
			}
			return false
		})
		if d := ct.Diff("ignition", ofType(igWatched, "file"), "cloud-init", ofType(ci.changes, "file")); len(d) > 0 {
			t.Errorf("Ignition and cloud-init leave different files:\n%s", strings.Join(d, "\n"))
		}
		if d := ct.Diff("ignition", ofType(igWatched, "symlink").UsrMerged(), "cloud-init", ofType(ci.changes, "symlink").UsrMerged()); len(d) > 0 {
			t.Errorf("Ignition and cloud-init enable units differently:\n%s", strings.Join(d, "\n"))
		}
		// Directories cloud-init had to create, Ignition must create
		// alike (the Debian root already has /etc, /usr/local/bin, ...).
		for p, e := range ofType(ci.changes, "dir") {
			if ie, ok := ig.changes[p]; !ok || ie != e {
				t.Errorf("directory %s: cloud-init made %s, ignition %s", p, e, ie)
			}
		}
	})
}

// forEachCloudInitInput runs f as a parallel subtest for every runtime ×
// join-binary mode (cloud-init has no variant). Each run has its own root
// and mount namespace; cloud-init is mostly single-threaded Python, so two
// at once halve the time.
func forEachCloudInitInput(t *testing.T, f func(t *testing.T, in inputs)) {
	for _, r := range runtimes {
		for _, j := range joinBinarys {
			in := inputs{runtime: r, joinBinary: j}
			t.Run(in.String(), func(t *testing.T) {
				t.Parallel()
				f(t, in)
			})
		}
	}
}

// checkStarts asserts what the node's start asked of systemd, in order: a
// daemon-reload before anything else, the plan's units enabled, then the
// plan's start list, each unit (re)started once, in that order.
//
// With early, the units are started by one transient service that
// cloud-init's bootcmd asks systemd for, ordered after cloud-init's
// network stage (which has written the files) rather than in its final
// stage (runcmd), which a boot reaches a Python process or two later;
// without (an image part, a user's config merged in), by runcmd.
func checkStarts(t *testing.T, run *ct.CloudInitRun, plan *ct.Plan, early bool) {
	t.Helper()
	switch {
	case early && (len(run.Transient) != 1 || !strings.Contains(" "+run.Transient[0].After+" ", " cloud-init.service ")):
		t.Errorf("want the units started by one service after cloud-init.service; systemd-run was asked for %+v", run.Transient)
	case !early && len(run.Transient) > 0:
		t.Errorf("want the units started by runcmd; systemd-run was asked for %+v", run.Transient)
	}
	var started, enabled []string
	reloaded := false
	for _, call := range run.Systemctl {
		f := strings.Fields(call)
		var verb string
		var units []string
		for _, a := range f {
			switch {
			case strings.HasPrefix(a, "-"):
			case verb == "":
				verb = a
			default:
				units = append(units, a)
			}
		}
		switch verb {
		case "daemon-reload":
			reloaded = true
		case "enable":
			if !reloaded {
				t.Errorf("the start enables units before systemctl daemon-reload: %q", call)
			}
			enabled = append(enabled, units...)
		case "start", "restart":
			if !reloaded {
				t.Errorf("the start starts units before systemctl daemon-reload: %q", call)
			}
			started = append(started, units...)
		}
	}
	for _, u := range plan.Enabled {
		if !contains(enabled, u) {
			t.Errorf("the start never runs `systemctl enable %s`; calls: %q", u, run.Systemctl)
		}
	}
	if want := append(append([]string{}, plan.Start...), plan.StartNoWait...); strings.Join(started, " ") != strings.Join(want, " ") {
		t.Errorf("the start starts %q, the plan says %q then %q", started, plan.Start, plan.StartNoWait)
	}
}

// TestButane translates every rendered Butane config with the Butane
// library and applies the result with the real Ignition applier: the same
// machine state as the Ignition kubebake renders directly.
func TestButane(t *testing.T) {
	ct.Tools(t)
	ready(t)
	forEachIgnitionInput(t, func(t *testing.T, in inputs) {
		plan := renderPlan(t, in)
		cfg := filepath.Join(t.TempDir(), "butane.ign")
		if err := os.WriteFile(cfg, ct.TranslateButane(t, render(t, in, "butane")), 0o600); err != nil {
			t.Fatal(err)
		}
		root := t.TempDir()
		ct.ImageRoot(t, root, plan.ImageUnits()...)
		before := snapshot(t, root)
		ct.ApplyIgnition(t, cfg, root)
		bu := applied{root: root, changes: ct.Changes(before, snapshot(t, root)).Without(ct.IgnitionResultFile, ct.IgnitionPresetFile)}
		checkTree(t, "butane", bu, plan)
		checkAgent(t, in, plan, root)

		ig := applyIgnition(t, in, plan)
		if d := ct.Diff("ignition", ig.changes, "butane", bu.changes); len(d) > 0 {
			t.Errorf("the Ignition kubebake renders and the one Butane makes of its Butane leave different trees:\n%s", strings.Join(d, "\n"))
		}
	})
}
