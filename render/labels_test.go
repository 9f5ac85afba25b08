package render

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	butane "github.com/coreos/butane/config"
	"github.com/coreos/butane/config/common"
	ignition "github.com/coreos/ignition/v2/config"
	"github.com/kubebake/kubebake/internal/inputs"
	"github.com/kubebake/kubebake/render/cache"
	"github.com/kubebake/kubebake/render/emit"
	"github.com/kubebake/kubebake/render/plan"
	"github.com/kubebake/kubebake/render/spec"
	"sigs.k8s.io/yaml"
)

// manyLabels is n labels, every tenth as long as a label can be.
func manyLabels(n int) []string {
	var out []string
	for i := range n {
		if i%10 == 9 {
			out = append(out, longLabel(i))
		} else {
			out = append(out, fmt.Sprintf("example.com/label-%04d=value-%04d", i, i))
		}
	}
	return out
}

// longLabel is a label as long as labels can be: a 253-byte prefix, a
// 63-byte name and value (i < 10,000).
func longLabel(i int) string {
	r := strings.Repeat
	prefix := r("a", 61) + "." + r("b", 61) + "." + r("c", 61) + "." + fmt.Sprintf("x%04d", i) + r("d", 58) + ".com"
	return prefix + "/" + fmt.Sprintf("n%04d", i) + r("n", 58) + "=" + fmt.Sprintf("v%04d", i) + r("v", 58)
}

// unitLines checks an Ignition config's units: each deserializes, no line
// is longer than systemd reads (2,048 bytes, LINE_MAX).
func checkUnitLines(t *testing.T, what string, ign []byte) {
	t.Helper()
	cfg, rpt, err := ignition.Parse(ign)
	if err != nil || len(rpt.Entries) > 0 {
		t.Fatalf("%s: Ignition refuses it: %v %s", what, err, rpt)
	}
	for _, u := range cfg.Systemd.Units {
		for _, c := range unitContents(u) {
			for i, line := range strings.Split(c, "\n") {
				if len(line) > 2048 {
					t.Errorf("%s: %s line %d is %d bytes, over systemd's 2,048", what, u.Name, i+1, len(line))
				}
			}
		}
	}
}

// TestManyLabels: 500 labels, 50 of them as long as labels can be, render
// in every format to what the real parsers accept (Issue 17 defect 5: the
// labels were one unit line, over 2,048 bytes from about 70 short labels:
// Ignition failed "a kubebake bug", and Butane output was refused by
// Butane), and the kubelet gets every one of them.
func TestManyLabels(t *testing.T) {
	labels := manyLabels(500)
	for _, f := range Formats {
		t.Run(string(f), func(t *testing.T) {
			in := sampleInputs()
			in.Format, in.JoinBinary = string(f), string(spec.JoinBaked)
			in.NodeLabels = labels
			s := mustSpec(t, in)
			out, err := Render(s, standIn(t))
			if err != nil {
				t.Fatal(err)
			}
			switch f {
			case FormatIgnition:
				checkUnitLines(t, "ignition", out)
			case FormatButane:
				ign, rpt, err := butane.TranslateBytes(out, common.TranslateBytesOptions{})
				if err != nil || len(rpt.Entries) > 0 {
					t.Fatalf("Butane refuses the Butane output: %v\n%s", err, rpt)
				}
				checkUnitLines(t, "butane", ign)
			case FormatCloudInit:
				var cc map[string]any
				if err := yaml.Unmarshal(bytes.TrimPrefix(out, []byte("#cloud-config\n")), &cc); err != nil {
					t.Fatalf("cloud-config does not parse: %v", err)
				}
			case FormatTar:
				inspectText(t, out)
			}
			checkMeaning(t, s)
		})
	}
}

// TestLabelsTooLong: labels that Linux could not pass to the kubelet in
// one argument are refused on --node-labels, not rendered.
func TestLabelsTooLong(t *testing.T) {
	in := sampleInputs()
	for i := range 400 {
		in.NodeLabels = append(in.NodeLabels, longLabel(i))
	}
	_, _, err := spec.NewSpec(in, nil)
	var ie *inputs.Error
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "--node-labels") || !strings.Contains(err.Error(), "128 KiB") {
		t.Fatalf("want an input error on --node-labels, got %v", err)
	}
	in.NodeLabels = manyLabels(300)
	if _, _, err := spec.NewSpec(in, nil); err != nil {
		t.Fatalf("300 labels: %v", err)
	}
}

// TestFleetUnitsIdentical: whatever a node's labels, taints, max-pods and
// hostname, its units and drop-ins are byte for byte every other node's
// (Issue 21 item 1: one unit text per fleet, one Butane translation), and
// its flags file goes with the boot part.
func TestFleetUnitsIdentical(t *testing.T) {
	nodes := []func(*spec.Inputs){
		func(in *spec.Inputs) { in.NodeLabels, in.RegisterWithTaints = nil, nil },
		func(in *spec.Inputs) { in.Hostname = "node-1" },
		func(in *spec.Inputs) {
			in.Hostname, in.NodeLabels, in.MaxPods = "node-2", []string{"example.com/index=2", "example.com/rack=r7"}, 50
			in.RegisterWithTaints = []string{"example.com/gpu=g2:NoSchedule"}
		},
		func(in *spec.Inputs) { in.Hostname, in.NodeLabels = "node-3", manyLabels(500) },
	}
	var first []plan.Unit
	var firstIgn string
	for i, set := range nodes {
		in := sampleInputs()
		in.JoinBinary = string(spec.JoinBaked)
		set(&in)
		s := mustSpec(t, in)
		p, err := plan.Build(s, nil)
		if err != nil {
			t.Fatal(err)
		}
		ign, err := emit.Ignition(p)
		if err != nil {
			t.Fatal(err)
		}
		cfg, _, err := ignition.Parse(ign)
		if err != nil {
			t.Fatal(err)
		}
		unitsJSON, err := json.Marshal(cfg.Systemd)
		if err != nil {
			t.Fatal(err)
		}
		units := string(unitsJSON)
		if i == 0 {
			first, firstIgn = p.Units, units
		} else if !reflect.DeepEqual(p.Units, first) || units != firstIgn {
			t.Errorf("node %d: its units differ from node 0's:\n%s\n%s", i, units, firstIgn)
		}
		for _, part := range []spec.Part{spec.PartImage, spec.PartBoot} {
			has := false
			for _, f := range p.Part(part).Files {
				has = has || f.Path == plan.KubeletFlagsPath
			}
			if want := part == spec.PartBoot && len(s.NodeLabels) > 0; has != want {
				t.Errorf("node %d: %s part has the flags file: %v, want %v", i, part, has, want)
			}
		}
	}
}

// TestLabelsLeaveImagePart: two nodes that differ only in their labels
// have the same image part, byte for byte; their boot parts carry them.
func TestLabelsLeaveImagePart(t *testing.T) {
	for _, f := range []spec.Format{FormatIgnition, FormatTar, FormatCloudInit} {
		render := func(part spec.Part, labels ...string) []byte {
			in := sampleInputs()
			in.Format, in.Part, in.NodeLabels = string(f), string(part), labels
			out, err := Render(mustSpec(t, in), standIn(t))
			if err != nil {
				t.Fatal(err)
			}
			return out
		}
		if a, b := render(spec.PartImage, "example.com/a=1"), render(spec.PartImage, "example.com/b=2"); !bytes.Equal(a, b) {
			t.Errorf("%s: the image parts of nodes with other labels differ", f)
		}
		if a, b := render(spec.PartBoot, "example.com/a=1"), render(spec.PartBoot, "example.com/b=2"); bytes.Equal(a, b) {
			t.Errorf("%s: the boot parts of nodes with other labels are the same", f)
		}
	}
}

// TestMergeRefusesFlagsFile: a user's file at the kubelet's flags file is
// refused even on a node without labels: the drop-in reads it, so it would
// become the kubelet's command line.
func TestMergeRefusesFlagsFile(t *testing.T) {
	dir := t.TempDir()
	user := filepath.Join(dir, "user.bu")
	bu := "variant: fcos\nversion: 1.5.0\nstorage:\n  files:\n    - path: " + plan.KubeletFlagsPath + "\n      contents:\n        inline: KUBELET_NODE_ARGS=--v=9\n"
	if err := os.WriteFile(user, []byte(bu), 0o644); err != nil {
		t.Fatal(err)
	}
	in := sampleInputs()
	in.NodeLabels, in.Merge = nil, user
	s, _, err := spec.NewSpec(in, cache.New(os.ReadFile, goldenNow))
	if err == nil {
		var out []byte
		out, err = Render(s, standIn(t))
		if err == nil {
			t.Fatalf("rendered:\n%s", out)
		}
	}
	wantMergeError(t, nil, err, plan.KubeletFlagsPath)
}
