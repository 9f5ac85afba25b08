package render

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"path/filepath"

	"github.com/kubebake/kubebake/inspect"
	"github.com/kubebake/kubebake/render/plan"
	"github.com/kubebake/kubebake/render/spec"
	"github.com/kubebake/kubebake/test/golden"
)

// otherToken is a second token, to show what does not change with it.
const otherToken = "zyxwvu.9876543210zyxwvu"

func renderPart(t testing.TB, c combo, part spec.Part, tok string) []byte {
	t.Helper()
	in := sampleInputs()
	in.Format, in.Variant, in.Runtime, in.JoinBinary = string(c.format), string(c.variant), string(c.runtime), string(c.join)
	if tok != "" {
		in.TokenFile, in.Token = "", tok
	}
	s := mustSpec(t, in)
	s.Part = part
	out, err := Render(s, standIn(t))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// partCombos is every format that has parts × variant × runtime × join mode.
func partCombos() []combo {
	var out []combo
	for _, c := range combos() {
		if c.format != FormatPlan {
			out = append(out, c)
		}
	}
	return out
}

// TestParts: for every format × variant × runtime × join mode, the image
// part holds no token secret in any encoding (searched in the raw bytes, in
// base64 at each alignment, and in every file's decoded and decompressed
// contents) and does not change with the token; the boot part is under
// 1 KB as Ignition, Butane or cloud-init; the two hold exactly the entries of --part all.
func TestParts(t *testing.T) {
	secret := sampleSecret(t)
	for _, c := range partCombos() {
		t.Run(c.name(), func(t *testing.T) {
			image := renderPart(t, c, spec.PartImage, "")
			boot := renderPart(t, c, spec.PartBoot, "")
			all := renderPart(t, c, spec.PartAll, "")
			if leak := findSecret(image, secret); leak != "" {
				t.Errorf("the image part holds the token's secret: %s", leak)
			}
			if !bytes.Equal(image, renderPart(t, c, spec.PartImage, otherToken)) {
				t.Error("the image part changes when only the token does")
			}
			if bytes.Equal(boot, renderPart(t, c, spec.PartBoot, otherToken)) {
				t.Error("the boot part does not change with the token")
			}
			// A tar's framing alone is 1.5 KB (a header block, a data
			// block, two end blocks); the boot part is meant as user-data.
			if len(boot) >= 1024 && c.format != FormatTar {
				t.Errorf("the boot part has %d bytes, want under 1 KB", len(boot))
			}
			if findSecret(boot, secret) == "" {
				t.Error("the boot part does not carry the token")
			}
			ni, nb, na := mustInspect(t, image), mustInspect(t, boot), mustInspect(t, all)
			union := map[string]inspect.Entry{}
			for _, n := range []*inspect.Node{ni, nb} {
				for p, e := range n.Entries {
					if _, dup := union[p]; dup {
						t.Errorf("%s is in both parts", p)
					}
					union[p] = e
				}
			}
			if d := entryDiff(na.Entries, union); d != "" {
				t.Errorf("image + boot differ from all:\n%s", d)
			}
			if fmt.Sprint(ni.Enabled) != fmt.Sprint(na.Enabled) || len(nb.Enabled) > 0 {
				t.Errorf("enabled: image %v, boot %v, all %v", ni.Enabled, nb.Enabled, na.Enabled)
			}
		})
	}
}

// TestConfigHash: the plan's configHash is the same whatever the token and
// whichever part is shown, and changes with anything else.
func TestConfigHash(t *testing.T) {
	c := combo{FormatPlan, spec.VariantFCOS, spec.RuntimeDocker, spec.JoinEmbedded}
	hash := func(out []byte) string {
		var doc plan.Manifest
		if err := json.Unmarshal(out, &doc); err != nil {
			t.Fatal(err)
		}
		return doc.ConfigHash
	}
	base := hash(renderPart(t, c, spec.PartAll, ""))
	for _, part := range spec.Parts {
		if h := hash(renderPart(t, c, part, otherToken)); h != base {
			t.Errorf("--part %s with another token: configHash %s, want %s", part, h, base)
		}
	}
	if h := hash(renderPart(t, combo{FormatPlan, spec.VariantFCOS, spec.RuntimeContainerd, spec.JoinEmbedded}, spec.PartAll, "")); h == base {
		t.Error("configHash does not change with the runtime")
	}
}

// findSecret describes where secret occurs in out, in any encoding kubebake
// or its consumers use, or returns "".
func findSecret(out []byte, secret string) string {
	if bytes.Contains(out, []byte(secret)) {
		return "in the raw bytes"
	}
	// base64 of the secret at each of the three alignments, less the
	// characters that depend on neighbouring bytes.
	for pad := 0; pad < 3; pad++ {
		enc := base64.StdEncoding.EncodeToString(append(bytes.Repeat([]byte{0}, pad), secret...))
		core := enc[4 : len(enc)-4]
		if bytes.Contains(out, []byte(core)) {
			return "base64-encoded in the raw bytes"
		}
	}
	n, err := inspect.Read(out)
	if err != nil {
		return "unreadable: " + err.Error()
	}
	for p, e := range n.Entries {
		if bytes.Contains(e.Data, []byte(secret)) {
			return "in " + p
		}
	}
	return ""
}

func mustInspect(t testing.TB, out []byte) *inspect.Node {
	t.Helper()
	n, err := inspect.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func entryDiff(a, b map[string]inspect.Entry) string {
	var d bytes.Buffer
	for p, e := range a {
		f, ok := b[p]
		switch {
		case !ok:
			fmt.Fprintf(&d, "%s: only in all\n", p)
		case e.Mode != f.Mode || e.Target != f.Target || !bytes.Equal(e.Data, f.Data):
			fmt.Fprintf(&d, "%s: differs\n", p)
		}
	}
	for p := range b {
		if _, ok := a[p]; !ok {
			fmt.Fprintf(&d, "%s: only in the parts\n", p)
		}
	}
	return d.String()
}

// TestBootGolden shows the boot part in each user-data format.
func TestBootGolden(t *testing.T) {
	for _, c := range []combo{
		{FormatIgnition, spec.VariantFCOS, spec.RuntimeDocker, spec.JoinEmbedded},
		{FormatIgnition, spec.VariantFlatcar, spec.RuntimeDocker, spec.JoinEmbedded},
		{FormatButane, spec.VariantFCOS, spec.RuntimeDocker, spec.JoinEmbedded},
		{FormatCloudInit, spec.VariantFCOS, spec.RuntimeDocker, spec.JoinEmbedded},
	} {
		ext := map[spec.Format]string{FormatIgnition: "ign", FormatButane: "bu", FormatCloudInit: "yaml"}[c.format]
		golden.Check(t, filepath.Join("..", "testdata", "golden", "boot", fmt.Sprintf("%s-%s.%s", c.format, c.variant, ext)), renderPart(t, c, spec.PartBoot, ""))
	}
}

// TestPlanNoSecretDigest: --format plan shows no digest of a file holding
// the token (an unsalted sha256 of a token changes with every token and
// says what it is to anyone who guesses), as inspect shows none.
func TestPlanNoSecretDigest(t *testing.T) {
	out := renderPart(t, combo{FormatPlan, spec.VariantFCOS, spec.RuntimeDocker, spec.JoinBaked}, spec.PartAll, "")
	var doc plan.Manifest
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	secrets := 0
	for _, f := range doc.Files {
		if f.Secret {
			secrets++
			if f.SHA256 != "" {
				t.Errorf("%s: the plan shows its digest %s", f.Path, f.SHA256)
			}
		}
	}
	if secrets == 0 {
		t.Fatal("no secret file in the plan: the test does not test")
	}
	if bytes.Contains(out, []byte(`"sha256": ""`)) {
		t.Error("an empty sha256 is printed: leave the key out")
	}
}

// TestConfigHashMerge: the configHash covers the user's --merge config:
// a node with one and a node without, or with another, differ; and
// --format plan takes --merge and shows it.
func TestConfigHashMerge(t *testing.T) {
	dir := t.TempDir()
	user := filepath.Join(dir, "user.bu")
	write := func(motd string) {
		if err := os.WriteFile(user, []byte("variant: fcos\nversion: 1.5.0\nstorage:\n  files:\n    - path: /etc/motd\n      contents:\n        inline: "+motd+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	hash := func(merge string, format spec.Format) string {
		t.Helper()
		in := sampleInputs()
		in.Merge, in.Format = merge, string(format)
		nodes := []spec.FleetNode{{Name: "n", Inputs: in}}
		idx := writeFleet(t, nodes, filepath.Join(t.TempDir(), "out"))
		return idx.Nodes[0].ConfigHash
	}
	write("hello")
	without, with := hash("", FormatIgnition), hash(user, FormatIgnition)
	write("goodbye")
	edited := hash(user, FormatIgnition)
	if without == with || with == edited {
		t.Errorf("configHash without --merge %s, with %s, with the file edited %s: want three", without, with, edited)
	}
	if plan := hash(user, FormatPlan); plan != edited {
		t.Errorf("--format plan --merge: configHash %s, the Ignition node's %s", plan, edited)
	}
	out := renderPart(t, combo{FormatPlan, spec.VariantFCOS, spec.RuntimeDocker, spec.JoinBaked}, spec.PartAll, "")
	if bytes.Contains(out, []byte(`"merge"`)) {
		t.Error("a plan without --merge shows a merge")
	}
}
