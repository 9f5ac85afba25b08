package render

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	butane "github.com/coreos/butane/config"
	"github.com/coreos/butane/config/common"
	"github.com/kubebake/kubebake/inspect"
	"github.com/kubebake/kubebake/internal/inputs"
	"github.com/kubebake/kubebake/render/cache"
	"github.com/kubebake/kubebake/render/spec"
	"github.com/kubebake/kubebake/test/golden"
)

func userConfig(t testing.TB, name string) *spec.UserConfig {
	t.Helper()
	p := filepath.Join("..", "testdata", "merge", name)
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return &spec.UserConfig{Name: name, Data: data}
}

func renderMerged(t testing.TB, format spec.Format, variant spec.Variant, user *spec.UserConfig) ([]byte, error) {
	t.Helper()
	in := sampleInputs()
	in.Format, in.Variant = string(format), string(variant)
	in.Merge = filepath.Join("..", "testdata", "merge", user.Name)
	s, _, err := spec.NewSpec(in, cache.New(os.ReadFile, goldenNow))
	if err != nil {
		return nil, err
	}
	return Render(s, standIn(t))
}

// TestMergeGolden merges each sample user config into the output of its
// format; the goldens are the output and what inspect shows of it, which
// holds both the user's entries and ours.
func TestMergeGolden(t *testing.T) {
	for _, c := range []struct {
		format  spec.Format
		variant spec.Variant
		user    string
		ext     string
	}{
		{FormatIgnition, spec.VariantFCOS, "user.bu", "ign"},
		{FormatIgnition, spec.VariantFlatcar, "user.ign", "ign"},
		{FormatButane, spec.VariantFCOS, "user.bu", "bu"},
		{FormatButane, spec.VariantFlatcar, "user.ign", "bu"},
		{FormatCloudInit, spec.VariantFCOS, "user-cloud-config.yaml", "mime"},
		{FormatCloudInit, spec.VariantFCOS, "user-mime.txt", "mime"},
	} {
		name := strings.Join([]string{"merge", string(c.format), string(c.variant), strings.ReplaceAll(c.user, ".", "-")}, "-")
		t.Run(name, func(t *testing.T) {
			out, err := renderMerged(t, c.format, c.variant, userConfig(t, c.user))
			if err != nil {
				t.Fatal(err)
			}
			again, _ := renderMerged(t, c.format, c.variant, userConfig(t, c.user))
			if !bytes.Equal(out, again) {
				t.Error("two merged renders of the same inputs differ")
			}
			golden.Check(t, filepath.Join("..", "testdata", "golden", "merge", name+"."+c.ext), out)
			if c.format == FormatButane {
				// Butane translates it with no report at all (it validates
				// an inline child of its own spec version only).
				if _, rpt, err := butane.TranslateBytes(out, common.TranslateBytesOptions{}); err != nil || len(rpt.Entries) > 0 {
					t.Errorf("butane: %v\n%s", err, rpt.String())
				}
			}
			view := inspectText(t, out)
			golden.Check(t, filepath.Join("..", "testdata", "golden", "merge", name+".inspect.txt"), view)
			n, err := inspect.Read(out)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{"/etc/motd", "/etc/kubebake/join.yaml", "/etc/systemd/system/kubelet.service"} {
				if _, ok := n.Entries[p]; !ok {
					t.Errorf("the merged output lacks %s", p)
				}
			}
			if !strings.Contains(string(view), "AAAAC3NzaC1lZDI1NTE5AAAAIKubebakeExampleKeyOnlyForTests") {
				t.Error("the merged output lacks the user's SSH key")
			}
		})
	}
}

// TestMergeConflicts refuses, in every format, a user config that writes a
// path kubebake writes or replaces a unit it owns, naming both.
func TestMergeConflicts(t *testing.T) {
	for _, c := range []struct {
		format  spec.Format
		variant spec.Variant
		user    string
		want    []string
	}{
		{FormatIgnition, spec.VariantFCOS, "conflict-file.bu", []string{"conflict-file.bu", "storage.files path /var/lib/kubelet/config.yaml", "a file kubebake writes"}},
		{FormatIgnition, spec.VariantFlatcar, "conflict-unit.ign", []string{"conflict-unit.ign", "systemd.units kubelet.service (contents)", "kubebake's unit kubelet.service"}},
		{FormatButane, spec.VariantFCOS, "conflict-unit.ign", []string{"conflict-unit.ign", "systemd.units kubelet.service", "kubebake's unit kubelet.service"}},
		{FormatButane, spec.VariantFlatcar, "conflict-file.bu", []string{"storage.files path /var/lib/kubelet/config.yaml"}},
		{FormatCloudInit, spec.VariantFCOS, "conflict.yaml", []string{"conflict.yaml", "write_files path /etc/systemd/system/kubelet.service", "kubebake's unit kubelet.service"}},
		{FormatTar, spec.VariantFCOS, "user.bu", []string{"--merge", "not tar"}},
	} {
		t.Run(string(c.format)+"-"+c.user, func(t *testing.T) {
			out, err := renderMerged(t, c.format, c.variant, userConfig(t, c.user))
			var ie *inputs.Error
			if !errors.As(err, &ie) {
				t.Fatalf("want an input error, got %v (%d bytes of output)", err, len(out))
			}
			if ie.Field != "--merge" {
				t.Errorf("the error names %s, want --merge", ie.Field)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// renderMergedData renders format with a --merge file holding data.
func renderMergedData(t *testing.T, format spec.Format, name, data string) ([]byte, error) {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	in := sampleInputs()
	in.Format, in.Merge = string(format), p
	s, _, err := spec.NewSpec(in, cache.New(os.ReadFile, goldenNow))
	if err != nil {
		return nil, err
	}
	return Render(s, standIn(t))
}

// wantMergeError wants an --merge input error saying each of want.
func wantMergeError(t *testing.T, out []byte, err error, want ...string) {
	t.Helper()
	var ie *inputs.Error
	if !errors.As(err, &ie) || ie.Field != "--merge" {
		t.Fatalf("want an --merge input error, got %v (%d bytes of output)", err, len(out))
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not say %q", err, w)
		}
	}
}

// TestMergeRefusesReplace: ignition.config.replace would make Ignition
// fetch another config at boot and drop ours; the error says how to keep a
// pointer config (merge).
func TestMergeRefusesReplace(t *testing.T) {
	for _, c := range []struct{ name, data string }{
		{"replace.bu", "variant: fcos\nversion: 1.5.0\nignition:\n  config:\n    replace:\n      source: https://example.com/node.ign\n"},
		{"replace.ign", `{"ignition":{"version":"3.4.0","config":{"replace":{"source":"https://example.com/node.ign"}}}}`},
	} {
		for _, f := range []spec.Format{FormatIgnition, FormatButane} {
			out, err := renderMergedData(t, f, c.name, c.data)
			wantMergeError(t, out, err, "ignition.config.replace", "ignition.config.merge")
		}
	}
}

// TestMergeConflictsByPrefix: a user file where kubebake needs a directory
// (/etc/kubebake, /var/lib/kubelet, /usr/local/bin), or at a path the agent
// or the kubelet writes at boot, or inside a directory kubebake owns, is
// refused in every format that merges.
func TestMergeConflictsByPrefix(t *testing.T) {
	for _, p := range []string{"/etc/kubebake", "/var/lib/kubelet", "/usr/local/bin", "/etc/kubernetes/bootstrap-kubelet.conf", "/etc/kubernetes/kubelet.conf", "/etc/kubebake/extra", "/etc/kubernetes", "/var/lib/kubelet/pki/kubelet-client-current.pem"} {
		bu := fmt.Sprintf("variant: fcos\nversion: 1.5.0\nstorage:\n  files:\n    - path: %s\n      contents:\n        inline: x\n", p)
		for _, f := range []spec.Format{FormatIgnition, FormatButane} {
			out, err := renderMergedData(t, f, "user.bu", bu)
			wantMergeError(t, out, err, p)
		}
		link := fmt.Sprintf("variant: fcos\nversion: 1.5.0\nstorage:\n  links:\n    - path: %s\n      target: /tmp\n", p)
		out, err := renderMergedData(t, FormatIgnition, "user.bu", link)
		wantMergeError(t, out, err, p)
		ci := fmt.Sprintf("#cloud-config\nwrite_files:\n  - path: %s\n    content: x\n", p)
		out, err = renderMergedData(t, FormatCloudInit, "user.yaml", ci)
		wantMergeError(t, out, err, p)
	}
	// A directory on our way is fine, and so is a file beside ours.
	for _, bu := range []string{
		"variant: fcos\nversion: 1.5.0\nstorage:\n  directories:\n    - path: /usr/local/bin\n",
		"variant: fcos\nversion: 1.5.0\nstorage:\n  files:\n    - path: /usr/local/bin/mytool\n      contents:\n        inline: x\n",
	} {
		if _, err := renderMergedData(t, FormatIgnition, "user.bu", bu); err != nil {
			t.Errorf("%q: %v", bu, err)
		}
	}
}

// TestMergeReport: Butane's and Ignition's report on the --merge file is
// the user's, each entry on its line and column in that file: warnings are
// returned and the render goes on; errors (and, with --strict, warnings)
// are one input error, a line per entry. Before, errors said "config
// generated was invalid" with no place and warnings were dropped.
func TestMergeReport(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name, data string
		variant    spec.Variant
		strict     bool
		warns, err []string
	}{
		{name: "authorised.bu", data: "variant: fcos\nversion: 1.5.0\npasswd:\n  users:\n    - name: core\n      ssh_authorised_keys:\n        - ssh-ed25519 AAAA\n",
			warns: []string{"authorised.bu:6:7: warning: unused key ssh_authorised_keys (at $.passwd.users.0.ssh_authorised_keys)"}},
		{name: "mode.bu", data: "variant: fcos\nversion: 1.5.0\nstorage:\n  files:\n    - path: /etc/motd\n      mode: 644\n",
			warns: []string{"mode.bu:6:13: warning: unreasonable mode would be reasonable if specified in octal"}},
		{name: "relative.bu", data: "variant: fcos\nversion: 1.5.0\nstorage:\n  files:\n    - path: etc/motd\n",
			err: []string{"relative.bu:5:13: error: path not absolute (at $.storage.files.0.path)"}},
		{name: "relative.ign", variant: spec.VariantFlatcar, data: "{\"ignition\": {\"version\": \"3.4.0\"},\n \"storage\": {\"files\": [{\"path\": \"relative\"}]}}\n",
			err: []string{"relative.ign:2:33: error: path not absolute (at $.storage.files.0.path)"}},
		{name: "strict.bu", strict: true, data: "variant: fcos\nversion: 1.5.0\npasswd:\n  users:\n    - name: core\n      ssh_authorised_keys: []\n",
			err: []string{"strict.bu:6:7: error: unused key ssh_authorised_keys", "--strict: warnings about"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(dir, c.name)
			if err := os.WriteFile(p, []byte(c.data), 0o644); err != nil {
				t.Fatal(err)
			}
			in := sampleInputs()
			in.Format, in.Merge, in.Strict = string(FormatIgnition), p, c.strict
			if c.variant != "" {
				in.Variant = string(c.variant)
			}
			_, warns, err := spec.NewSpec(in, cache.New(os.ReadFile, goldenNow))
			var all []string
			for _, w := range warns {
				all = append(all, w.Line())
			}
			got := strings.Join(all, "\n")
			if err != nil {
				got = err.Error()
			}
			if (err != nil) != (c.err != nil) {
				t.Fatalf("error %v, want %q; warnings:\n%s", err, c.err, got)
			}
			for _, want := range append(c.warns, c.err...) {
				if !strings.Contains(got, filepath.Join(dir, want)) && !strings.Contains(got, want) {
					t.Errorf("got\n%s\nwant a line with %q", got, want)
				}
			}
		})
	}
}
