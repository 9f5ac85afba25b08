package render

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/kubebake/kubebake/internal/inputs"
	"github.com/kubebake/kubebake/internal/options"
	"github.com/kubebake/kubebake/render/cache"
	"github.com/kubebake/kubebake/render/emit"
	"github.com/kubebake/kubebake/render/plan"
	"github.com/kubebake/kubebake/render/spec"

	"github.com/coreos/go-systemd/v22/unit"
	ignition "github.com/coreos/ignition/v2/config"
	"github.com/coreos/ignition/v2/config/v3_7_experimental/types"
	kubeletv1beta1 "k8s.io/kubelet/config/v1beta1"
	"sigs.k8s.io/yaml"
)

// checkMeaning renders s as Ignition and cloud-init and checks, with real
// parsers, that what the node gets means what the inputs said: the Ignition
// config parses without a report entry, the cloud-config is YAML, every unit
// deserializes, the kubelet's ExecStart carries exactly our labels as one
// argument (from the flags file the drop-in reads), and the KubeletConfiguration carries exactly our taints.
func checkMeaning(t *testing.T, s *spec.Spec) {
	t.Helper()
	p, err := plan.Build(s, nil)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	ign, err := emit.Ignition(p)
	if err != nil {
		t.Fatalf("ignition: %v", err)
	}
	cfg, rpt, err := ignition.Parse(ign)
	if err != nil || len(rpt.Entries) > 0 {
		t.Fatalf("ignition parse: %v %s", err, rpt)
	}
	ci, err := emit.CloudInit(p)
	if err != nil {
		t.Fatalf("cloud-init: %v", err)
	}
	var cc struct {
		Hostname   string           `json:"hostname"`
		Bootcmd    [][]string       `json:"bootcmd"`
		WriteFiles []map[string]any `json:"write_files"`
		Runcmd     []any            `json:"runcmd"`
	}
	if err := yaml.UnmarshalStrict(ci, &cc); err != nil {
		t.Fatalf("cloud-config does not parse back: %v", err)
	}
	if len(cc.WriteFiles) != len(p.Files)+countUnitFiles(p) {
		t.Fatalf("cloud-config has %d files, the plan %d", len(cc.WriteFiles), len(p.Files)+countUnitFiles(p))
	}

	var dropin string
	for _, u := range cfg.Systemd.Units {
		for _, c := range unitContents(u) {
			opts, err := unit.DeserializeOptions(strings.NewReader(c))
			if err != nil {
				t.Fatalf("unit %s does not deserialize: %v", u.Name, err)
			}
			if u.Name == "kubelet.service" && len(u.Dropins) > 0 && c == *u.Dropins[0].Contents {
				for _, o := range opts {
					if o.Section == "Service" && o.Name == "ExecStart" && o.Value != "" {
						dropin = o.Value
					}
				}
			}
		}
	}
	args, err := expandKubeletArgs(p, strings.Fields(strings.ReplaceAll(dropin, "\\\n", " ")))
	if err != nil {
		t.Fatal(err)
	}
	var labels []string
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--node-labels="); ok {
			labels = strings.Split(v, ",")
		}
	}
	if len(s.NodeLabels) == 0 {
		if labels != nil {
			t.Fatalf("no labels given, ExecStart has %q", labels)
		}
	} else if !reflect.DeepEqual(labels, s.NodeLabels) {
		t.Fatalf("ExecStart labels %q, want %q (ExecStart %q)", labels, s.NodeLabels, dropin)
	}

	for _, f := range p.Files {
		if f.Path != plan.KubeletConfigPath {
			continue
		}
		var kc kubeletv1beta1.KubeletConfiguration
		if err := yaml.UnmarshalStrict(f.Contents, &kc); err != nil {
			t.Fatalf("config.yaml: %v", err)
		}
		if len(kc.RegisterWithTaints) != len(s.Taints) || (len(s.Taints) > 0 && !reflect.DeepEqual(kc.RegisterWithTaints, s.Taints)) {
			t.Fatalf("registerWithTaints %v, want %v", kc.RegisterWithTaints, s.Taints)
		}
	}
}

// expandKubeletArgs expands the $VAR words of the kubelet's command line
// from the plan's flags file as systemd does (unbraced: split at white
// space, none when unset). The file is read strictly: comments and
// NAME="words" lines, nothing that needs unescaping.
func expandKubeletArgs(p *plan.Plan, args []string) ([]string, error) {
	env := map[string]string{}
	for _, f := range p.Files {
		if f.Path != plan.KubeletFlagsPath {
			continue
		}
		for _, line := range strings.Split(strings.TrimSuffix(string(f.Contents), "\n"), "\n") {
			if strings.HasPrefix(line, "#") {
				continue
			}
			name, v, ok := strings.Cut(line, "=")
			if !ok || len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' || strings.ContainsAny(v[1:len(v)-1], "\"\\$`'") {
				return nil, fmt.Errorf("%s: line %q is not NAME=\"words\"", f.Path, line)
			}
			env[name] = v[1 : len(v)-1]
		}
	}
	var out []string
	for _, a := range args {
		if name, ok := strings.CutPrefix(a, "$"); ok {
			out = append(out, strings.Fields(env[name])...)
			continue
		}
		if strings.Contains(a, "$") {
			return nil, fmt.Errorf("kubelet argument %q: a variable this test does not expand", a)
		}
		out = append(out, a)
	}
	return out, nil
}

func countUnitFiles(p *plan.Plan) int {
	n := 0
	for _, u := range p.Units {
		if u.Contents != "" {
			n++
		}
		n += len(u.Dropins)
	}
	return n
}

func unitContents(u types.Unit) []string {
	var out []string
	if u.Contents != nil {
		out = append(out, *u.Contents)
	}
	for _, d := range u.Dropins {
		if d.Contents != nil {
			out = append(out, *d.Contents)
		}
	}
	return out
}

func fuzzSpec(t *testing.T, labels, taints, kubeletPath, domain, endpoint string) (*spec.Spec, error) {
	in := sampleInputs()
	in.JoinBinary = string(spec.JoinBaked)
	in.NodeLabels = []string{labels}
	in.RegisterWithTaints = []string{taints}
	in.KubeletPath = kubeletPath
	in.ClusterDomain = domain
	in.APIServer = []string{endpoint}
	s, _, err := spec.NewSpec(in, cache.New(readTestdata, goldenNow))
	return s, err
}

// TestInjection: values that try to break out of a unit line, a YAML
// scalar or a flag are refused with an input error, never rendered.
func TestInjection(t *testing.T) {
	for _, c := range []struct{ labels, taints, path, domain, endpoint string }{
		{labels: "a=b\nExecStartPre=/bin/evil"},
		{labels: "a=b\n[Service]"},
		{labels: "a=b --v=9"},
		{labels: "a=\"b\""},
		{labels: "a=b]"},
		{labels: "a: b"},
		{taints: "k=v:NoSchedule\nExecStart=/bin/evil"},
		{taints: "k=v\":NoSchedule"},
		{path: "/usr/bin/kubelet\nExecStartPre=/bin/evil"},
		{path: "/usr/bin/kube let"},
		{path: "/usr/bin/../../bin/sh"},
		{domain: "cluster.local\n- evil"},
		{endpoint: "10.0.0.10\n"},
		{endpoint: "10.0.0.10:6443\nExecStart=x"},
		{endpoint: "https://user:pw@10.0.0.10:6443"},
	} {
		if c.path == "" {
			c.path = "/usr/bin/kubelet"
		}
		if c.domain == "" {
			c.domain = "cluster.local"
		}
		if c.endpoint == "" {
			c.endpoint = "10.0.0.10"
		}
		_, err := fuzzSpec(t, c.labels, c.taints, c.path, c.domain, c.endpoint)
		var ie *inputs.Error
		if !errors.As(err, &ie) {
			t.Errorf("%+v: want an input error, got %v", c, err)
		}
	}
}

// FuzzRender renders random node options; whatever is accepted must render
// to configs that parse and mean what was asked.
func FuzzRender(f *testing.F) {
	f.Add("example.com/pool=workers", "example.com/dedicated=batch:NoSchedule", "/usr/bin/kubelet", "cluster.local", "10.0.0.10")
	f.Add("a=b,c.d/e=f_g", "k:NoExecute", "/opt/bin/kubelet", "k8s.example", "[fd00::1]:443")
	f.Add("a=b\nExecStart=/bin/sh", "k=v:NoSchedule\n[Service]", "/usr/bin/kubelet\n", "x\ny", "https://api.example.com")
	f.Add("", "", "/usr/bin/kubelet", "cluster.local", "api.example.com:6443")
	f.Fuzz(func(t *testing.T, labels, taints, path, domain, endpoint string) {
		s, err := fuzzSpec(t, labels, taints, path, domain, endpoint)
		if err != nil {
			var ie *inputs.Error
			if !errors.As(err, &ie) {
				t.Fatalf("a rejection must be an input error: %v", err)
			}
			return
		}
		checkMeaning(t, s)
	})
}

func TestKubeletConfigOverride(t *testing.T) {
	in := sampleInputs()
	in.KubeletConfig = "kubelet.yaml"
	files := map[string][]byte{"kubelet.yaml": []byte("apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nmaxPods: 250\nserializeImagePulls: false\nauthentication:\n  webhook:\n    cacheTTL: 30s\n")}
	read := func(name string) ([]byte, error) {
		if b, ok := files[name]; ok {
			return b, nil
		}
		return readTestdata(name)
	}
	s, _, err := spec.NewSpec(in, cache.New(read, goldenNow))
	if err != nil {
		t.Fatal(err)
	}
	kc := kubeletConfigOf(t, s)
	var got kubeletv1beta1.KubeletConfiguration
	if err := yaml.UnmarshalStrict(kc, &got); err != nil {
		t.Fatal(err)
	}
	if got.MaxPods != 250 || got.SerializeImagePulls == nil || *got.SerializeImagePulls {
		t.Errorf("the user's fields must win: maxPods %d, serializeImagePulls %v", got.MaxPods, got.SerializeImagePulls)
	}
	// Merged field by field: the user's webhook TTL, our webhook enabled and client CA.
	if got.Authentication.Webhook.CacheTTL.Duration.String() != "30s" || got.Authentication.Webhook.Enabled == nil || !*got.Authentication.Webhook.Enabled || got.Authentication.X509.ClientCAFile == "" {
		t.Errorf("nested fields must merge: %+v", got.Authentication)
	}
	if !bytes.Contains(kc, []byte("rotateCertificates: true")) {
		t.Errorf("our fields the user did not set must stay")
	}

	// A flag and the file setting the same field is refused, not resolved silently.
	in.MaxPods = 50
	in.Given = options.Given{"max-pods": "--max-pods"}
	if _, _, err := spec.NewSpec(in, cache.New(read, goldenNow)); err == nil || !strings.Contains(err.Error(), "--max-pods: kubelet.yaml sets maxPods too") {
		t.Errorf("want a conflict error, got %v", err)
	}
	// The user's runtime endpoint reaches the kubelet's command line too.
	in.MaxPods, in.Given = spec.Defaults.MaxPods, nil
	files["kubelet.yaml"] = []byte("apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\ncontainerRuntimeEndpoint: unix:///run/crio/crio.sock\n")
	s, _, err = spec.NewSpec(in, cache.New(read, goldenNow))
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.Build(s, standIn(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range p.Units {
		if u.Name == "kubelet.service" && !strings.Contains(u.Dropins[0].Contents, "--container-runtime-endpoint=unix:///run/crio/crio.sock") {
			t.Errorf("the flag must follow the user's containerRuntimeEndpoint:\n%s", u.Dropins[0].Contents)
		}
	}
	files["kubelet.yaml"] = []byte("apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\ncontainerRuntimeEndpoint: unix:///run/x.sock --v=9\n")
	if _, _, err := spec.NewSpec(in, cache.New(read, goldenNow)); err == nil {
		t.Errorf("a runtime endpoint that would inject a flag must be refused")
	}
}

// kubeletConfigOf is the KubeletConfiguration the plan of s lays down.
func kubeletConfigOf(t *testing.T, s *spec.Spec) []byte {
	t.Helper()
	p, err := plan.Build(s, standIn(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range p.Files {
		if f.Path == plan.KubeletConfigPath {
			return f.Contents
		}
	}
	t.Fatal("no " + plan.KubeletConfigPath)
	return nil
}
