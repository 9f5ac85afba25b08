package consumers

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	kb "github.com/kubebake/kubebake/render/emit"
	ct "github.com/kubebake/kubebake/test/consumertest"
)

// extractTar lays a tar output into root as an image build would (GNU tar
// as root, numeric owners, modes kept) and returns what changed under the
// watched paths and the enablement links.
func extractTar(t *testing.T, tarball []byte, root string, watch []string) ct.Tree {
	t.Helper()
	f := filepath.Join(t.TempDir(), "node.tar")
	if err := os.WriteFile(f, tarball, 0o644); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, root, watch...)
	if out, err := exec.Command("tar", "--numeric-owner", "-xpf", f, "-C", root).CombinedOutput(); err != nil {
		t.Fatalf("tar -x: %v\n%s", err, out)
	}
	return ct.Changes(before, snapshot(t, root, watch...))
}

// presetUnits runs `systemctl --root=ROOT preset UNIT...`.
func presetUnits(t *testing.T, root string, units ...string) {
	t.Helper()
	if len(units) == 0 {
		return
	}
	cmd := exec.Command("systemctl", append([]string{"--root=" + root, "preset"}, units...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("systemctl preset %s: %v\n%s", strings.Join(units, " "), err, stderr.String())
	}
	for _, l := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		if l != "" && !strings.HasPrefix(l, "Created symlink ") {
			t.Errorf("systemctl preset: %s", l)
		}
	}
}

// withAccounts gives an image root the account files Ignition's useradd
// edits (an OS image has them).
func withAccounts(t *testing.T, root string) {
	t.Helper()
	for name, body := range map[string]string{
		"etc/passwd":  "root:x:0:0:root:/root:/bin/sh\n",
		"etc/group":   "root:x:0:\n",
		"etc/shadow":  "root:*:19000:0:99999:7:::\n",
		"etc/gshadow": "root:*::\n",
	} {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(root, "home"), 0o755); err != nil {
		t.Fatal(err)
	}
	// Ignition writes a user's SSH keys as that user: the path to the root
	// must be searchable (t.TempDir makes it 0700).
	for _, d := range []string{root, filepath.Dir(root)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// TestTarAndPartsIgnition checks, for every variant × runtime × join
// mode, two trees against the one the real Ignition applier lays down from
// the Ignition output (--part all): the tar output laid into an image root
// with the presets run as the image's first boot does (files, modes, owners,
// directories, enablement links); and the image part then the boot part
// applied by the real applier, as a golden image's build and a machine's
// first boot would.
func TestTarAndPartsIgnition(t *testing.T) {
	ct.Tools(t)
	ready(t)
	forEachIgnitionInput(t, func(t *testing.T, in inputs) {
		plan := renderPlan(t, in)
		all := applyIgnition(t, in, plan)

		root := t.TempDir()
		ct.ImageRoot(t, root, plan.ImageUnits()...)
		before := snapshot(t, root)
		extractTar(t, render(t, in, "tar"), root, nil)
		ct.PresetAll(t, root)
		tar := applied{root: root, changes: ct.Changes(before, snapshot(t, root)).Without(kb.PresetPath)}
		checkTree(t, "tar", tar, plan)
		checkAgent(t, in, plan, root)
		if d := ct.Diff("ignition", all.changes, "tar", tar.changes); len(d) > 0 {
			t.Errorf("the tar and the Ignition applier leave different trees:\n%s", strings.Join(d, "\n"))
		}

		root = t.TempDir()
		ct.ImageRoot(t, root, plan.ImageUnits()...)
		before = snapshot(t, root)
		for _, part := range []string{"image", "boot"} {
			cfg := filepath.Join(t.TempDir(), part+".ign")
			out := render(t, in, "ignition", "--part", part)
			if part == "boot" && len(out) >= 1024 {
				t.Errorf("the boot part has %d bytes, want under 1 KB", len(out))
			}
			if err := os.WriteFile(cfg, out, 0o600); err != nil {
				t.Fatal(err)
			}
			ct.ApplyIgnition(t, cfg, root)
			// An image build leaves no record of its Ignition run (the
			// applier warns when it finds one: it runs once a machine).
			if err := os.Remove(filepath.Join(root, ct.IgnitionResultFile)); err != nil {
				t.Fatal(err)
			}
		}
		parts := applied{root: root, changes: ct.Changes(before, snapshot(t, root)).Without(ct.IgnitionResultFile, ct.IgnitionPresetFile)}
		checkTree(t, "image+boot", parts, plan)
		if d := ct.Diff("all", all.changes, "image+boot", parts.changes); len(d) > 0 {
			t.Errorf("image + boot parts leave a different tree than --part all:\n%s", strings.Join(d, "\n"))
		}
	})
}

// TestPartsCloudInit builds a golden image as an image build would (the
// image part's tar laid into the Debian root), boots it with only the boot
// part as cloud-init user-data, runs the presets of the first boot, and
// compares the machine state with the plan of --part all.
func TestPartsCloudInit(t *testing.T) {
	ct.Tools(t)
	ready(t)
	forEachCloudInitInput(t, func(t *testing.T, in inputs) {
		plan := renderPlan(t, in)
		image := render(t, in, "tar", "--part", "image")
		boot := render(t, in, "cloud-init", "--part", "boot")
		if len(boot) >= 1024 {
			t.Errorf("the boot part has %d bytes, want under 1 KB", len(boot))
		}
		ct.SchemaCheck(t, boot)
		watch := watched(plan)
		root := filepath.Join(t.TempDir(), "root")
		var before ct.Tree
		ct.ApplyCloudInit(t, boot, root, func(root string) {
			for _, u := range plan.ImageUnits() {
				ct.StubUnit(t, root, u)
			}
			before = snapshot(t, root, watch...)
			extractTar(t, image, root, watch)
		})
		// The first boot's presets, for the units the OS ships (the
		// tar links ours itself); preset-all would touch all of
		// Debian's units, which the test root does not boot.
		presetUnits(t, root, plan.ImageUnits()...)
		got := applied{root: root, changes: ct.Changes(before, snapshot(t, root, watch...)).Without(kb.PresetPath)}
		checkTree(t, "tar image + cloud-init boot", got, plan)
	})
}

// TestMergeConsumers: the real consumers accept merged outputs and lay down
// both the user's entries and ours.
func TestMergeConsumers(t *testing.T) {
	ct.Tools(t)
	ready(t)
	repo, err := ct.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	user := func(name string) string { return filepath.Join(repo, "testdata", "merge", name) }
	in := inputs{variant: "fcos", runtime: "containerd", joinBinary: "baked"}
	// wantOurs checks that every file of the plan is on the node as planned.
	wantOurs := func(t *testing.T, root string, plan *ct.Plan) {
		t.Helper()
		tree := snapshot(t, root, watched(plan)...)
		for p, want := range plan.Tree() {
			if got := tree[p]; !want.Matches(got) {
				t.Errorf("%s: want %s, the node has %s", p, want, got)
			}
		}
	}
	wantFile := func(t *testing.T, root, p, substr string) {
		t.Helper()
		data, err := os.ReadFile(filepath.Join(root, p))
		if err != nil || !bytes.Contains(data, []byte(substr)) {
			t.Errorf("%s: want it to hold %q (%v)", p, substr, err)
		}
	}
	plan := renderPlan(t, in)

	// applyMerged applies a merged Ignition config to an image root with
	// accounts, and checks our files and the user's /etc/motd and user.
	applyMerged := func(t *testing.T, ign []byte, motd string) string {
		t.Helper()
		cfg := filepath.Join(t.TempDir(), "merged.ign")
		if err := os.WriteFile(cfg, ign, 0o600); err != nil {
			t.Fatal(err)
		}
		root := t.TempDir()
		ct.ImageRoot(t, root, plan.ImageUnits()...)
		withAccounts(t, root)
		ct.ApplyIgnition(t, cfg, root)
		wantOurs(t, root, plan)
		wantFile(t, root, "/etc/motd", motd)
		wantFile(t, root, "/etc/passwd", "core:")
		return root
	}
	t.Run("ignition", func(t *testing.T) {
		root := applyMerged(t, render(t, in, "ignition", "--merge", user("user.bu")), "user's config merged in")
		if s := ct.IsEnabled(t, root, "hello.service"); s != "enabled" {
			t.Errorf("the user's hello.service is %s", s)
		}
	})
	// Issue 17 defect 8: with --part, the user's config goes with the boot
	// part (the default): the image part applied first lays down ours
	// without it, the boot part on the same root adds it and the token.
	t.Run("ignition image then boot part", func(t *testing.T) {
		root := t.TempDir()
		ct.ImageRoot(t, root, plan.ImageUnits()...)
		withAccounts(t, root)
		for _, part := range []string{"image", "boot"} {
			cfg := filepath.Join(t.TempDir(), part+".ign")
			if err := os.WriteFile(cfg, render(t, in, "ignition", "--part", part, "--merge", user("user.bu")), 0o600); err != nil {
				t.Fatal(err)
			}
			ct.ApplyIgnition(t, cfg, root)
			if part != "image" {
				continue
			}
			if _, err := os.Stat(filepath.Join(root, "etc/motd")); err == nil {
				t.Error("the image part laid down the user's /etc/motd")
			}
			// The image is made from this root; its machines' first boot
			// runs Ignition again, as a fresh system.
			if err := os.Remove(filepath.Join(root, "etc/.ignition-result.json")); err != nil {
				t.Fatal(err)
			}
		}
		wantOurs(t, root, plan)
		wantFile(t, root, "/etc/motd", "user's config merged in")
		wantFile(t, root, "/etc/passwd", "core:")
	})
	t.Run("butane", func(t *testing.T) {
		// The user's config rides inline in ignition.config.merge: the
		// applier's fetch stage merges it.
		root := applyMerged(t, ct.TranslateButane(t, render(t, in, "butane", "--merge", user("user.ign"))), "rendered by kubebake")
		wantFile(t, root, "/etc/systemd/system/containerd.service.d/50-user.conf", "LimitNOFILE")
	})
	for _, c := range []struct{ user, file, text string }{
		{"user-cloud-config.yaml", "/var/lib/user-runcmd", "user runcmd ran"},
		{"user-mime.txt", "/var/lib/user-script", "user script ran"},
	} {
		t.Run("cloud-init "+c.user, func(t *testing.T) {
			userData := render(t, inputs{runtime: in.runtime, joinBinary: in.joinBinary}, "cloud-init", "--merge", user(c.user))
			if !bytes.HasPrefix(userData, []byte("Content-Type: multipart/mixed")) {
				t.Fatalf("merged cloud-init is not MIME multipart:\n%.200s", userData)
			}
			root := filepath.Join(t.TempDir(), "root")
			run := ct.ApplyCloudInit(t, userData, root, func(root string) {
				for _, u := range plan.ImageUnits() {
					ct.StubUnit(t, root, u)
				}
			})
			wantOurs(t, root, plan)
			wantFile(t, root, "/etc/motd", "user's config merged in")
			wantFile(t, root, c.file, c.text)
			// The user's packages and runcmd run in cloud-init's final
			// stage, and before ours: one runcmd.
			checkStarts(t, run, plan, false)
		})
	}
}
