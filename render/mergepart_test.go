package render

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubebake/kubebake/inspect"
	"github.com/kubebake/kubebake/internal/inputs"
	"github.com/kubebake/kubebake/internal/options"
	"github.com/kubebake/kubebake/render/cache"
	"github.com/kubebake/kubebake/render/plan"
	"github.com/kubebake/kubebake/render/spec"
)

// mergePartInputs are the sample inputs with the user's config of format
// merged, --part part and, unless "", --merge-part mp.
func mergePartInputs(format spec.Format, part spec.Part, mp string) spec.Inputs {
	in := sampleInputs()
	in.Format, in.Part, in.Given = string(format), string(part), options.Given{"part": "--part"}
	user := "user.bu"
	if format == FormatCloudInit {
		user = "user-cloud-config.yaml"
	}
	in.Merge = filepath.Join("..", "testdata", "merge", user)
	if mp != "" {
		in.MergePart = mp
		in.Given["merge-part"] = "--merge-part"
	}
	return in
}

func renderInputs(t *testing.T, in spec.Inputs) []byte {
	t.Helper()
	out, err := Render(mustSpec(t, in), standIn(t))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestMergePart: with --part, the user's config goes into one part, the
// boot part unless --merge-part image says the image: merged into both, a
// user's runcmd ran at image build and again at every first boot. Before,
// both parts held it.
func TestMergePart(t *testing.T) {
	for _, f := range []spec.Format{FormatIgnition, FormatButane, FormatCloudInit} {
		for _, c := range []struct {
			mp   string
			want spec.Part
		}{{"", spec.PartBoot}, {"boot", spec.PartBoot}, {"image", spec.PartImage}} {
			t.Run(string(f)+"-"+c.mp, func(t *testing.T) {
				for _, part := range []spec.Part{spec.PartImage, spec.PartBoot} {
					out := renderInputs(t, mergePartInputs(f, part, c.mp))
					n, err := inspect.Read(out)
					if err != nil {
						t.Fatal(err)
					}
					_, has := n.Entries["/etc/motd"]
					if want := part == c.want; has != want {
						t.Errorf("--part %s: holds the user's /etc/motd: %v, want %v", part, has, want)
					}
				}
			})
		}
	}
}

// TestMergePartConfigHash: the configHash says where the user's config
// goes. The image and the boot render of one --merge-part hash the same;
// the boot part's (the default) is --part all's (the config is applied at
// first boot in both); image differs from both.
func TestMergePartConfigHash(t *testing.T) {
	hash := func(part spec.Part, mp string) string {
		t.Helper()
		var doc plan.Manifest
		if err := json.Unmarshal(renderInputs(t, mergePartInputs(FormatPlan, part, mp)), &doc); err != nil {
			t.Fatal(err)
		}
		return doc.ConfigHash
	}
	all := hash(spec.PartAll, "")
	bootImage, bootBoot := hash(spec.PartImage, "boot"), hash(spec.PartBoot, "")
	imageImage, imageBoot := hash(spec.PartImage, "image"), hash(spec.PartBoot, "image")
	if bootImage != bootBoot || imageImage != imageBoot {
		t.Errorf("the image and the boot render differ: --merge-part boot %s %s, image %s %s", bootImage, bootBoot, imageImage, imageBoot)
	}
	if bootBoot != all {
		t.Errorf("--merge-part boot %s, --part all %s: want the same", bootBoot, all)
	}
	if imageImage == bootBoot {
		t.Error("--merge-part image and boot hash the same")
	}
}

// TestMergePartIndex: index.json says which output holds the user's
// config.
func TestMergePartIndex(t *testing.T) {
	var nodes []spec.FleetNode
	for _, n := range []struct {
		name string
		part spec.Part
		mp   string
	}{{"image", spec.PartImage, ""}, {"boot", spec.PartBoot, ""}, {"baked", spec.PartImage, "image"}, {"token", spec.PartBoot, "image"}} {
		nodes = append(nodes, spec.FleetNode{Name: n.name, Inputs: mergePartInputs(FormatIgnition, n.part, n.mp)})
	}
	idx := writeFleet(t, nodes, filepath.Join(t.TempDir(), "out"))
	want := map[string]bool{"image": false, "boot": true, "baked": true, "token": false}
	for _, e := range idx.Nodes {
		if e.Merged != want[e.Name] {
			t.Errorf("node %s: merged %v, want %v", e.Name, e.Merged, want[e.Name])
		}
	}
	if idx.Nodes[0].ConfigHash != idx.Nodes[1].ConfigHash || idx.Nodes[2].ConfigHash != idx.Nodes[3].ConfigHash || idx.Nodes[0].ConfigHash == idx.Nodes[2].ConfigHash {
		t.Errorf("configHashes %s %s %s %s: want the image and boot of one --merge-part equal, and the two --merge-parts different",
			idx.Nodes[0].ConfigHash, idx.Nodes[1].ConfigHash, idx.Nodes[2].ConfigHash, idx.Nodes[3].ConfigHash)
	}
}

// TestMergePartRefused: --merge-part without --merge, or with --part all,
// means nothing: one line naming it, nothing rendered.
func TestMergePartRefused(t *testing.T) {
	noMerge := mergePartInputs(FormatIgnition, spec.PartImage, "image")
	noMerge.Merge = ""
	for _, c := range []struct {
		in   spec.Inputs
		want string
	}{
		{noMerge, "--merge-part: places the --merge file, and there is none: give --merge FILE, or leave --merge-part out"},
		{mergePartInputs(FormatIgnition, spec.PartAll, "boot"), "--merge-part: only with --part image or --part boot: with --part all the one output holds everything"},
		{mergePartInputs(FormatIgnition, spec.PartBoot, "disk"), `--merge-part: "disk" is not one of [boot image]`},
	} {
		_, _, err := spec.NewSpec(c.in, cache.New(os.ReadFile, goldenNow))
		var ie *inputs.Error
		if !errors.As(err, &ie) || err.Error() != c.want {
			t.Errorf("got %v, want %q", err, c.want)
		}
	}
}

// TestMergePartConflict: a user's config merged into the boot part may not
// touch what the image part holds either (the agent, the kubelet's units):
// both land on the same node. Before, the boot part was checked against
// its own few files.
func TestMergePartConflict(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "user.bu")
	data := "variant: fcos\nversion: 1.5.0\nstorage:\n  files:\n    - path: /var/lib/kubelet/config.yaml\n      contents:\n        inline: x\n"
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	in := mergePartInputs(FormatIgnition, spec.PartBoot, "")
	in.Merge = p
	out, err := Render(mustSpec(t, in), standIn(t))
	wantMergeError(t, out, err, "/var/lib/kubelet/config.yaml", "a file kubebake writes")
}

// TestCloudInitStartWhere: a node's first boot starts its units as soon as
// cloud-init's network stage has written the files (bootcmd queues
// kubebake-start.service); an image part, which an image build captures
// once `cloud-init status --wait` says cloud-init is done, and an output
// with the user's config merged in, whose packages and runcmd come first,
// start them in runcmd, inside cloud-init's own stages. Before, the image
// part and the merged outputs queued the service too: an image could be
// captured before its units were enabled.
func TestCloudInitStartWhere(t *testing.T) {
	withMergePart := func(in spec.Inputs) spec.Inputs {
		in.MergePart, in.Given["merge-part"] = "image", "--merge-part"
		return in
	}
	for _, c := range []struct {
		name  string
		in    spec.Inputs
		early bool
	}{
		{"node", func() spec.Inputs { in := sampleInputs(); in.Format = string(FormatCloudInit); return in }(), true},
		{"image part", func() spec.Inputs {
			in := mergePartInputs(FormatCloudInit, spec.PartImage, "")
			in.Merge = ""
			return in
		}(), false},
		{"image part holding the user's config", withMergePart(mergePartInputs(FormatCloudInit, spec.PartImage, "")), false},
		{"node with the user's config", func() spec.Inputs {
			in := mergePartInputs(FormatCloudInit, spec.PartAll, "")
			delete(in.Given, "part")
			return in
		}(), false},
	} {
		out := string(renderInputs(t, c.in))
		queued, runcmd := strings.Contains(out, "--unit=kubebake-start"), strings.Contains(out, "\nruncmd:\n- set -e\n")
		if queued != c.early || runcmd == c.early {
			t.Errorf("%s: kubebake-start queued %v, runcmd %v; want the start early %v", c.name, queued, runcmd, c.early)
		}
	}
}
