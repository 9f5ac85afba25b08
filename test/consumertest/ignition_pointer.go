package consumertest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// RunIgnitionFetch is RunIgnitionNet for a config whose own fetch may fail
// (a pointer config whose merged config has the wrong hash must fail the
// fetch stage): it fails the test only when the config is invalid, and
// returns the outcome of the fetch stages and, when they passed, of the
// files stage.
func RunIgnitionFetch(t testing.TB, configPath, root string) IgnitionRun {
	t.Helper()
	ts := Tools(t)
	ValidateIgnition(t, configPath)
	state := t.TempDir()
	cache, stateFile, neednet := filepath.Join(state, "config.json"), filepath.Join(state, "state"), filepath.Join(state, "neednet")
	env := []string{"IGNITION_CONFIG_FILE=" + configPath}
	r := run(time.Minute, env, ts.Ignition, "-platform", "file", "-stage", "fetch-offline",
		"-config-cache", cache, "-state-file", stateFile, "-neednet", neednet, "-log-to-stdout")
	log := r.stdout + r.stderr
	if _, err := os.Stat(neednet); err == nil {
		r = run(time.Minute, env, ts.Ignition, "-platform", "file", "-stage", "fetch",
			"-config-cache", cache, "-state-file", stateFile, "-log-to-stdout")
		log += r.stdout + r.stderr
	}
	if r.err != nil {
		return IgnitionRun{Log: log, Err: r.err}
	}
	files := run(2*time.Minute, env, ts.Ignition, "-platform", "file", "-stage", "files", "-root", root,
		"-config-cache", cache, "-state-file", stateFile, "-log-to-stdout")
	out := IgnitionRun{Log: log + files.stdout + files.stderr, Err: files.err}
	if out.Err == nil && !strings.Contains(files.stdout, "Ignition finished successfully") {
		out.Err = errors.New("ignition did not report success")
	}
	return out
}
