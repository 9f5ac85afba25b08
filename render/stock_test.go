package render

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubebake/kubebake/internal/inputs"
	"github.com/kubebake/kubebake/render/spec"
	"github.com/kubebake/kubebake/test/golden"
)

// Sample hashes of the stock-image goldens (of no real file).
var (
	stockKubeletHash = "sha512-" + strings.Repeat("ab", 64)
	stockSysextHash  = "sha256-" + strings.Repeat("cd", 32)
	stockCRIHash     = "sha256-" + strings.Repeat("ef", 32)
)

const (
	stockKubeletURL = "http://mirror.example.com/kubernetes/v1.37.2/bin/linux/amd64/kubelet"
	stockSysextURL  = "https://extensions.flatcar.org/extensions/kubernetes-v1.37.2-x86-64.raw"
	stockCRIURL     = "https://mirror.example.com/cri-dockerd/v0.3.17/cri-dockerd"
)

// stockInputs are the sample inputs of a stock image: the kubelet from a
// mirror, the bakery's extension, cri-dockerd with docker.
func stockInputs(format spec.Format, variant spec.Variant, runtime spec.Runtime, join spec.JoinMode) spec.Inputs {
	in := sampleInputs()
	in.Format, in.Variant, in.Runtime, in.JoinBinary = string(format), string(variant), string(runtime), string(join)
	in.KubeletURL, in.KubeletHash = stockKubeletURL, stockKubeletHash
	in.Sysext = []string{stockSysextURL + "=" + stockSysextHash}
	if runtime == spec.RuntimeDocker {
		in.CRIDockerdURL, in.CRIDockerdHash = stockCRIURL, stockCRIHash
	}
	return in
}

// TestStockGolden shows a stock image's config in each format: Ignition and
// Butane with remote files and verification.hash, cloud-init and the tar
// with the agent's fetch configuration and the join's drop-in, the plan
// with its remote list.
func TestStockGolden(t *testing.T) {
	kubeletFile := filepath.Join(t.TempDir(), "kubelet")
	if err := os.WriteFile(kubeletFile, []byte("#!/bin/sh\n# stand-in for a kubelet in golden files\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		in   spec.Inputs
	}{
		{"ignition-fcos-docker-baked.ign", stockInputs(FormatIgnition, spec.VariantFCOS, spec.RuntimeDocker, spec.JoinBaked)},
		{"butane-flatcar-containerd-none.bu", stockInputs(FormatButane, spec.VariantFlatcar, spec.RuntimeContainerd, spec.JoinNone)},
		{"cloud-init-containerd-baked.yaml", stockInputs(FormatCloudInit, spec.VariantFCOS, spec.RuntimeContainerd, spec.JoinBaked)},
		{"plan-docker-embedded.json", stockInputs(FormatPlan, spec.VariantFCOS, spec.RuntimeDocker, spec.JoinEmbedded)},
		{"tar-image-containerd-embedded.tar.txt", func() spec.Inputs {
			in := stockInputs(FormatTar, spec.VariantFCOS, spec.RuntimeContainerd, spec.JoinEmbedded)
			in.KubeletURL, in.KubeletHash, in.KubeletFile, in.Part = "", "", kubeletFile, string(spec.PartImage)
			return in
		}()},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, err := Render(mustSpec(t, c.in), standIn(t))
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasSuffix(c.name, ".tar.txt") {
				out = inspectText(t, out)
			}
			golden.Check(t, filepath.Join("..", "testdata", "golden", "stock", c.name), out)
		})
	}
}

// configHash changes with any URL or hash, and is the same for every part.
func TestStockConfigHash(t *testing.T) {
	hash := func(mod func(*spec.Inputs), part spec.Part) string {
		in := stockInputs(FormatPlan, spec.VariantFCOS, spec.RuntimeDocker, spec.JoinBaked)
		in.Part = string(part)
		mod(&in)
		out, err := Render(mustSpec(t, in), standIn(t))
		if err != nil {
			t.Fatal(err)
		}
		var doc struct{ ConfigHash string }
		if err := json.Unmarshal(out, &doc); err != nil {
			t.Fatal(err)
		}
		return doc.ConfigHash
	}
	base := hash(func(*spec.Inputs) {}, spec.PartAll)
	for _, part := range []spec.Part{spec.PartImage, spec.PartBoot} {
		if h := hash(func(*spec.Inputs) {}, part); h != base {
			t.Errorf("--part %s: configHash %s, --part all %s", part, h, base)
		}
	}
	for name, mod := range map[string]func(*spec.Inputs){
		"no downloads": func(in *spec.Inputs) {
			in.KubeletURL, in.KubeletHash, in.Sysext, in.CRIDockerdURL, in.CRIDockerdHash = "", "", nil, "", ""
		},
		"kubelet URL":      func(in *spec.Inputs) { in.KubeletURL += "2" },
		"kubelet hash":     func(in *spec.Inputs) { in.KubeletHash = "sha512-" + strings.Repeat("ac", 64) },
		"sysext hash":      func(in *spec.Inputs) { in.Sysext = []string{stockSysextURL + "=sha256-" + strings.Repeat("ce", 32)} },
		"cri-dockerd URL":  func(in *spec.Inputs) { in.CRIDockerdURL += "2" },
		"cri-dockerd hash": func(in *spec.Inputs) { in.CRIDockerdHash = "sha512-" + strings.Repeat("ab", 64) },
	} {
		if h := hash(mod, spec.PartAll); h == base {
			t.Errorf("%s: configHash did not change", name)
		}
	}
}

// The downloads belong to the image part: the boot part is the token alone.
func TestStockParts(t *testing.T) {
	for _, f := range []spec.Format{FormatIgnition, FormatButane, FormatCloudInit} {
		for _, part := range []spec.Part{spec.PartBoot, spec.PartImage} {
			in := stockInputs(f, spec.VariantFCOS, spec.RuntimeDocker, spec.JoinBaked)
			in.Part = string(part)
			if part == spec.PartImage {
				in.TokenFile = ""
			}
			out, err := Render(mustSpec(t, in), standIn(t))
			if err != nil {
				t.Fatal(err)
			}
			has := strings.Contains(string(out), "mirror.example.com") || strings.Contains(string(out), "/etc/kubebake/fetch.yaml")
			if has != (part == spec.PartImage) {
				t.Errorf("%s --part %s: holds the kubelet's URL: %v", f, part, has)
			}
		}
	}
}

// Each bad input is one error naming its flag.
func TestStockErrors(t *testing.T) {
	for _, c := range []struct {
		name, flag string
		mod        func(*spec.Inputs)
	}{
		{"url without hash", "--kubelet-url", func(in *spec.Inputs) { in.KubeletHash = "" }},
		{"hash without url", "--kubelet-hash", func(in *spec.Inputs) { in.KubeletURL = "" }},
		{"bad hash", "--kubelet-hash", func(in *spec.Inputs) { in.KubeletHash = "sha1-" + strings.Repeat("0", 40) }},
		{"short hash", "--kubelet-hash", func(in *spec.Inputs) { in.KubeletHash = "sha512-00" }},
		{"scheme", "--kubelet-url", func(in *spec.Inputs) { in.KubeletURL = "ftp://mirror/kubelet" }},
		{"no scheme", "--kubelet-url", func(in *spec.Inputs) { in.KubeletURL = "mirror/kubelet" }},
		{"no path", "--kubelet-url", func(in *spec.Inputs) { in.KubeletURL = "https://mirror.example.com" }},
		{"a directory", "--kubelet-url", func(in *spec.Inputs) { in.KubeletURL = "https://mirror.example.com/bin/" }},
		{"cri-dockerd with containerd", "--cri-dockerd-url", func(in *spec.Inputs) {
			in.Runtime, in.CRIDockerdURL, in.CRIDockerdHash = "containerd", stockCRIURL, stockCRIHash
		}},
		{"cri-dockerd without hash", "--cri-dockerd-url", func(in *spec.Inputs) { in.CRIDockerdHash = "" }},
		{"sysext without hash", "--sysext", func(in *spec.Inputs) { in.Sysext = []string{stockSysextURL} }},
		{"sysext not raw", "--sysext", func(in *spec.Inputs) { in.Sysext = []string{"https://m/k.img=" + stockSysextHash} }},
		{"sysext twice", "--sysext", func(in *spec.Inputs) {
			in.Sysext = []string{stockSysextURL + "=" + stockSysextHash, "https://m/kubernetes-v1.36.0-x86-64.raw=" + stockSysextHash}
		}},
		{"cloud-init without agent", "--join-binary", func(in *spec.Inputs) { in.JoinBinary = "none" }},
		{"kubelet-file not tar", "--kubelet-file", func(in *spec.Inputs) { in.KubeletURL, in.KubeletHash, in.KubeletFile = "", "", "../testdata/token" }},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := stockInputs(FormatCloudInit, spec.VariantFCOS, spec.RuntimeDocker, spec.JoinBaked)
			c.mod(&in)
			_, _, err := spec.NewSpec(in, nil)
			var ie *inputs.Error
			if !errors.As(err, &ie) || ie.Field != c.flag {
				t.Fatalf("want an error on %s, got %v", c.flag, err)
			}
			t.Logf("%v", err)
		})
	}
	// Ignition and Butane verify downloads themselves: no agent needed.
	in := stockInputs(FormatIgnition, spec.VariantFCOS, spec.RuntimeDocker, spec.JoinNone)
	if _, _, err := spec.NewSpec(in, nil); err != nil {
		t.Errorf("ignition, --join-binary none: %v", err)
	}
}

// A stock image's user-data with the agent baked in fits EC2's 16 KB: a URL
// and a hash are a few hundred bytes.
func TestStockFitsAWS(t *testing.T) {
	for _, f := range []spec.Format{FormatIgnition, FormatCloudInit} {
		in := stockInputs(f, spec.VariantFCOS, spec.RuntimeDocker, spec.JoinBaked)
		out, err := Render(mustSpec(t, in), standIn(t))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if len(out) > 16384 {
			t.Errorf("%s, kubelet + cri-dockerd + a sysext by URL: %d bytes, over EC2's 16384", f, len(out))
		}
		t.Logf("%s, kubelet + cri-dockerd + a sysext by URL: %d bytes", f, len(out))
	}
}
