package consumertest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// IgnitionRun is what the applier did with a config that may fetch remote
// files: its log and whether it failed.
type IgnitionRun struct {
	Log string
	Err error
}

// RunIgnitionNet applies the config to root with the real applier as an
// initramfs would when the config needs the network (a remote file):
// fetch-offline signals it, the fetch stage then fetches and caches the
// config, and the files stage fetches the remote files and verifies their
// hashes. Unlike ApplyIgnition it does not fail the test when the applier
// fails (a wrong hash must fail the files stage); it fails it only when
// the config is invalid or a stage before files fails.
func RunIgnitionNet(t testing.TB, configPath, root string) IgnitionRun {
	t.Helper()
	ts := Tools(t)
	ValidateIgnition(t, configPath)
	state := t.TempDir()
	cache, stateFile, neednet := filepath.Join(state, "config.json"), filepath.Join(state, "state"), filepath.Join(state, "neednet")
	env := []string{"IGNITION_CONFIG_FILE=" + configPath}
	r := run(time.Minute, env, ts.Ignition, "-platform", "file", "-stage", "fetch-offline",
		"-config-cache", cache, "-state-file", stateFile, "-neednet", neednet, "-log-to-stdout")
	if _, err := os.Stat(neednet); err == nil {
		r = run(time.Minute, env, ts.Ignition, "-platform", "file", "-stage", "fetch",
			"-config-cache", cache, "-state-file", stateFile, "-log-to-stdout")
	}
	if r.err != nil {
		t.Fatalf("ignition fetch stages failed on %s:\n%s", configPath, r)
	}
	files := run(2*time.Minute, env, ts.Ignition, "-platform", "file", "-stage", "files", "-root", root,
		"-config-cache", cache, "-state-file", stateFile, "-log-to-stdout")
	out := IgnitionRun{Log: files.stdout + files.stderr, Err: files.err}
	if out.Err == nil && !strings.Contains(files.stdout, "Ignition finished successfully") {
		out.Err = errors.New("ignition did not report success")
	}
	return out
}
