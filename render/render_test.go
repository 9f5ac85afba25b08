package render

import (
	"bytes"
	"compress/gzip"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kubebake/kubebake/embed"
	"github.com/kubebake/kubebake/inspect"
	"github.com/kubebake/kubebake/render/cache"
	"github.com/kubebake/kubebake/render/spec"
	"github.com/kubebake/kubebake/test/golden"

	ignition "github.com/coreos/ignition/v2/config"
)

// standIn is a fixed, tiny stand-in for the kubebake-join binary, so the
// goldens stay small and do not change when the agent does.
func standIn(t testing.TB) *embed.Agent {
	bin := []byte("#!/bin/sh\n# stand-in for kubebake-join in golden files\nexit 0\n")
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Write(bin)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	sum := sha512.Sum512(bin)
	return &embed.Agent{Arch: "amd64", Gzip: buf.Bytes(), SHA512: hex.EncodeToString(sum[:]), Size: int64(len(bin))}
}

// The formats the goldens cover, in the registry's order.
const (
	FormatIgnition  spec.Format = "ignition"
	FormatButane    spec.Format = "butane"
	FormatCloudInit spec.Format = "cloud-init"
	FormatPlan      spec.Format = "plan"
	FormatTar       spec.Format = "tar"
)

var Formats = []spec.Format{FormatIgnition, FormatButane, FormatCloudInit, FormatPlan, FormatTar}

// TestFormats: the registry holds the formats the goldens cover, in order.
func TestFormats(t *testing.T) {
	var got []spec.Format
	for _, f := range spec.Formats() {
		got = append(got, f.Name)
	}
	if fmt.Sprint(got) != fmt.Sprint(Formats) {
		t.Errorf("registered formats %v, the goldens cover %v", got, Formats)
	}
}

// goldenNow is the clock of the golden renders: the sample CA is valid then.
var goldenNow = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

func sampleInputs() spec.Inputs {
	in := spec.Defaults
	in.CA = []string{"../testdata/ca.crt"}
	in.TokenFile = "../testdata/token"
	in.APIServer = []string{"10.0.0.10:6443", "[fd00::10]:6443"}
	in.NodeLabels = []string{"example.com/pool=workers,node.kubernetes.io/instance-type=m5.large"}
	in.RegisterWithTaints = []string{"example.com/dedicated=batch:NoSchedule"}
	return in
}

func mustSpec(t testing.TB, in spec.Inputs) *spec.Spec {
	t.Helper()
	s, _, err := spec.NewSpec(in, cache.New(os.ReadFile, goldenNow))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type combo struct {
	format  spec.Format
	variant spec.Variant
	runtime spec.Runtime
	join    spec.JoinMode
}

func (c combo) name() string {
	ext := map[spec.Format]string{FormatIgnition: "ign", FormatButane: "bu", FormatCloudInit: "yaml", FormatPlan: "json", FormatTar: "tar.txt"}[c.format]
	if c.format == FormatCloudInit || c.format == FormatPlan {
		return fmt.Sprintf("%s-%s-%s.%s", c.format, c.runtime, c.join, ext)
	}
	return fmt.Sprintf("%s-%s-%s-%s.%s", c.format, c.variant, c.runtime, c.join, ext)
}

// combos is every format × variant × runtime × join-binary mode; cloud-init
// and the plan do not depend on the variant.
func combos() []combo {
	var out []combo
	for _, f := range Formats {
		for _, v := range spec.Variants {
			if (f == FormatCloudInit || f == FormatPlan) && v != spec.VariantFCOS {
				continue
			}
			for _, r := range spec.Runtimes {
				for _, j := range spec.JoinModes {
					out = append(out, combo{f, v, r, j})
				}
			}
		}
	}
	return out
}

func renderCombo(t testing.TB, c combo) []byte {
	t.Helper()
	in := sampleInputs()
	in.Format, in.Variant, in.Runtime, in.JoinBinary = string(c.format), string(c.variant), string(c.runtime), string(c.join)
	out, err := Render(mustSpec(t, in), standIn(t))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestGolden compares every combination with testdata/golden. Run
// `go test ./... -update` after an intended change and review the diff.
func TestGolden(t *testing.T) {
	for _, c := range combos() {
		t.Run(c.name(), func(t *testing.T) {
			out := renderCombo(t, c)
			if c.format == FormatIgnition {
				// Emit relies on Butane's validation; Ignition's own parser
				// must agree, data URLs spliced in and all.
				if _, rpt, err := ignition.Parse(out); err != nil || len(rpt.Entries) > 0 {
					t.Fatalf("Ignition's parser: %v\n%s", err, rpt)
				}
			}
			if c.format == FormatTar {
				// The tar's golden is what `kubebake inspect` shows of it.
				out = inspectText(t, out)
			}
			golden.Check(t, filepath.Join("..", "testdata", "golden", c.name()), out)
		})
	}
}

// TestDeterministic renders each combination twice, from fresh specs, and
// wants the same bytes.
func TestDeterministic(t *testing.T) {
	for _, c := range combos() {
		a, b := renderCombo(t, c), renderCombo(t, c)
		if !bytes.Equal(a, b) {
			t.Errorf("%s: two renders of the same inputs differ", c.name())
		}
	}
}

func inspectText(t testing.TB, out []byte) []byte {
	t.Helper()
	n, err := inspect.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	return n.Text()
}

func readTestdata(name string) ([]byte, error) { return os.ReadFile(name) }

func gzipBytes(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(b); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
