package consumertest

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// These tests prove the harness on hand-made configs: that it accepts a
// correct config on both consumers, that the two consumers' trees compare
// equal, and that it fails on what the consumers report.

const (
	demoUnit   = "[Unit]\nDescription=demo\n\n[Service]\nType=oneshot\nExecStart=/opt/bin/demo\n\n[Install]\nWantedBy=multi-user.target\n"
	dropinText = "[Service]\nEnvironment=DEMO=1\n"
	secretText = "not really a secret\n"
	script     = "#!/bin/sh\necho demo\n"
)

// handPlan is what both hand-made configs below write.
func handPlan() *Plan {
	file := func(p, mode, data string, secret bool) PlanFile {
		sum := sha256.Sum256([]byte(data))
		return PlanFile{Path: p, Mode: mode, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(data)), Secret: secret}
	}
	return &Plan{
		Files: []PlanFile{
			file("/etc/demo/secret", "0600", secretText, true),
			file("/etc/systemd/system/containerd.service.d/10-demo.conf", "0644", dropinText, false),
			file("/etc/systemd/system/demo.service", "0644", demoUnit, false),
			file("/etc/systemd/system/demo.service.d/10-env.conf", "0644", dropinText, false),
			file("/opt/bin/demo", "0755", script, false),
		},
		Enabled: []string{"containerd.service", "demo.service"},
		Start:   []string{"containerd.service", "demo.service"},
	}
}

func handIgnition(t *testing.T) string {
	t.Helper()
	data := func(s string) map[string]any {
		return map[string]any{"source": "data:;base64," + base64.StdEncoding.EncodeToString([]byte(s))}
	}
	cfg := map[string]any{
		"ignition": map[string]any{"version": "3.4.0"},
		"storage": map[string]any{"files": []any{
			map[string]any{"path": "/etc/demo/secret", "mode": 0o600, "contents": data(secretText)},
			map[string]any{"path": "/opt/bin/demo", "mode": 0o755, "contents": data(script)},
		}},
		"systemd": map[string]any{"units": []any{
			map[string]any{"name": "containerd.service", "enabled": true, "dropins": []any{map[string]any{"name": "10-demo.conf", "contents": dropinText}}},
			map[string]any{"name": "demo.service", "enabled": true, "contents": demoUnit, "dropins": []any{map[string]any{"name": "10-env.conf", "contents": dropinText}}},
		}},
	}
	b, err := json.Marshal(cfg)
	must(t, err)
	p := filepath.Join(t.TempDir(), "config.ign")
	must(t, os.WriteFile(p, b, 0o600))
	return p
}

func handCloudConfig(runcmd string) []byte {
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	return []byte(fmt.Sprintf(`#cloud-config
write_files:
- {path: /etc/demo/secret, permissions: "0600", owner: "root:root", content: %s}
- {path: /opt/bin/demo, permissions: "0755", owner: "root:root", content: %s}
- {path: /etc/systemd/system/containerd.service.d/10-demo.conf, permissions: "0644", content: %s}
- {path: /etc/systemd/system/demo.service, permissions: "0644", content: %s}
- {path: /etc/systemd/system/demo.service.d/10-env.conf, permissions: "0644", content: %s}
runcmd:
- %s
`, q(secretText), q(script), q(dropinText), q(demoUnit), q(dropinText), q(runcmd)))
}

const goodRuncmd = "systemctl daemon-reload && systemctl enable containerd.service demo.service && systemctl start containerd.service && systemctl start demo.service"

func TestHandMadeConfigsAgree(t *testing.T) {
	Tools(t)
	plan := handPlan()
	imageUnits := plan.ImageUnits()
	if fmt.Sprint(imageUnits) != "[containerd.service]" {
		t.Fatalf("ImageUnits = %v", imageUnits)
	}

	igRoot := t.TempDir()
	ImageRoot(t, igRoot, imageUnits...)
	igBefore, err := Snapshot(igRoot)
	must(t, err)
	ApplyIgnition(t, handIgnition(t), igRoot)
	igAfter, err := Snapshot(igRoot)
	must(t, err)
	igFiles := Changes(igBefore, igAfter).Filter(func(_ string, e Entry) bool { return e.Type == "file" }).
		Without(IgnitionResultFile, IgnitionPresetFile, DefaultDisablePreset)
	if d := Diff("plan", plan.Tree(), "ignition", igFiles); len(d) > 0 {
		t.Errorf("ignition tree differs from the plan:\n%s", strings.Join(d, "\n"))
	}
	for _, u := range plan.Enabled {
		if s := IsEnabled(t, igRoot, u); s != "enabled" {
			t.Errorf("ignition: %s is %s", u, s)
		}
	}

	ciRoot := filepath.Join(t.TempDir(), "root")
	var ciBefore Tree
	run := ApplyCloudInit(t, handCloudConfig(goodRuncmd), ciRoot, func(root string) {
		for _, u := range imageUnits {
			StubUnit(t, root, u)
		}
		ciBefore, err = Snapshot(root, append(plan.Dirs(), UnitDir)...)
		must(t, err)
	})
	wantCalls := "[daemon-reload enable containerd.service demo.service start containerd.service start demo.service]"
	if fmt.Sprint(run.Systemctl) != wantCalls {
		t.Errorf("systemctl calls recorded: %q, want %s", run.Systemctl, wantCalls)
	}
	ciAfter, err := Snapshot(ciRoot, append(plan.Dirs(), UnitDir)...)
	must(t, err)
	ciFiles := Changes(ciBefore, ciAfter).Filter(func(_ string, e Entry) bool { return e.Type == "file" })
	if d := Diff("plan", plan.Tree(), "cloud-init", ciFiles); len(d) > 0 {
		t.Errorf("cloud-init tree differs from the plan:\n%s", strings.Join(d, "\n"))
	}
	if d := Diff("ignition", EnablementLinks(t, igRoot).UsrMerged(), "cloud-init", Changes(ciBefore, EnablementLinks(t, ciRoot)).UsrMerged()); len(d) > 0 {
		t.Errorf("enablement differs:\n%s", strings.Join(d, "\n"))
	}

	vroot := VerifyRoot(t, igRoot, imageUnits...)
	VerifyUnits(t, vroot, plan.Units()...)
	SchemaCheck(t, handCloudConfig(goodRuncmd))
}

func TestHarnessFailsOnConsumerComplaints(t *testing.T) {
	Tools(t)
	t.Run("runcmd failure", func(t *testing.T) {
		msg := expectFailure(t, func(tb testing.TB) {
			ApplyCloudInit(tb, handCloudConfig("systemctl enable no-such.service"), filepath.Join(t.TempDir(), "root"), nil)
		})
		if !strings.Contains(msg, "scripts-user") {
			t.Errorf("failure does not name the failed module:\n%s", msg)
		}
	})
	t.Run("schema", func(t *testing.T) {
		expectFailure(t, func(tb testing.TB) {
			SchemaCheck(tb, []byte("#cloud-config\nwrite_files:\n- {path: /x, bogus: 1}\n"))
		})
		msg := expectFailure(t, func(tb testing.TB) { SchemaCheck(tb, []byte("#cloud-config\nwritefiles: []\n")) })
		if !strings.Contains(msg, "writefiles") {
			t.Errorf("unknown top-level key not named:\n%s", msg)
		}
	})
	t.Run("ignition hash", func(t *testing.T) {
		cfg := `{"ignition":{"version":"3.4.0"},"storage":{"files":[{"path":"/x","contents":{"source":"data:,a","verification":{"hash":"sha512-` + strings.Repeat("0", 128) + `"}}}]}}`
		p := filepath.Join(t.TempDir(), "c.ign")
		must(t, os.WriteFile(p, []byte(cfg), 0o600))
		root := t.TempDir()
		ImageRoot(t, root)
		expectFailure(t, func(tb testing.TB) { ApplyIgnition(tb, p, root) })
	})
	t.Run("ignition warning", func(t *testing.T) {
		// A unit without [Install] that is enabled: ignition-validate warns.
		cfg := `{"ignition":{"version":"3.4.0"},"systemd":{"units":[{"name":"a.service","enabled":true,"contents":"[Service]\nExecStart=/bin/true\n"}]}}`
		p := filepath.Join(t.TempDir(), "c.ign")
		must(t, os.WriteFile(p, []byte(cfg), 0o600))
		root := t.TempDir()
		ImageRoot(t, root)
		expectFailure(t, func(tb testing.TB) { ApplyIgnition(tb, p, root) })
	})
	t.Run("systemd-analyze unknown key", func(t *testing.T) {
		root := t.TempDir()
		writeIfMissing(t, filepath.Join(root, UnitDir, "a.service"), "[Service]\nExecStart=/opt/bin/a\nBogus=1\n", 0o644)
		vroot := VerifyRoot(t, root)
		msg := expectFailure(t, func(tb testing.TB) { VerifyUnits(tb, vroot, "a.service") })
		if !strings.Contains(msg, "Bogus") {
			t.Errorf("failure does not show systemd's complaint:\n%s", msg)
		}
	})
}

func TestCommands(t *testing.T) {
	got := Commands("[Service]\nExecStartPre=-/usr/bin/a x\nExecStart=\nExecStart=@/opt/b b\nExecStop=relative\nEnvironment=X=/y\n")
	if fmt.Sprint(got) != "[/usr/bin/a /opt/b /usr/bin/relative]" {
		t.Errorf("Commands = %v", got)
	}
}

// recorder is a testing.TB whose failures are recorded instead of failing
// the test, so the harness's own failures can be asserted.
type recorder struct {
	testing.TB
	mu     sync.Mutex
	failed bool
	msgs   []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, a ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed = true
	r.msgs = append(r.msgs, fmt.Sprintf(format, a...))
}
func (r *recorder) Error(a ...any)                 { r.Errorf("%s", fmt.Sprint(a...)) }
func (r *recorder) Fatalf(format string, a ...any) { r.Errorf(format, a...); runtime.Goexit() }
func (r *recorder) Fatal(a ...any)                 { r.Error(a...); runtime.Goexit() }
func (r *recorder) FailNow()                       { r.Errorf("FailNow"); runtime.Goexit() }
func (r *recorder) Failed() bool                   { r.mu.Lock(); defer r.mu.Unlock(); return r.failed }

// expectFailure runs fn with a recorder and fails t unless fn failed; it
// returns what fn reported.
func expectFailure(t *testing.T, fn func(tb testing.TB)) string {
	t.Helper()
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() { defer close(done); fn(r) }()
	<-done
	if !r.Failed() {
		t.Fatal("the harness accepted what the consumer should have rejected")
	}
	return strings.Join(r.msgs, "\n")
}
