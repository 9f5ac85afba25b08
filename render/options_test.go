package render

import (
	"strings"
	"testing"

	"github.com/kubebake/kubebake/internal/options"
	"github.com/kubebake/kubebake/render/cache"
	"github.com/kubebake/kubebake/render/spec"
)

// A fleet file's per-node map is merged over the base inputs through the
// same table: flags keep winning, node keys win over the shared file, and
// errors name the file, line and key.
func TestWithYAMLPerNode(t *testing.T) {
	f, err := options.ParseFile("fleet.yaml", []byte("max-pods: 50\nnode-labels: example.com/a=b\nruntime: containerd\n"))
	if err != nil {
		t.Fatal(err)
	}
	base := sampleInputs()
	base.Given = options.Given{"runtime": "--runtime"}
	base.Runtime = "docker"
	got, err := base.WithYAML(f, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.MaxPods != 50 || strings.Join(got.NodeLabels, ",") != "example.com/a=b" || got.Runtime != "docker" {
		t.Errorf("merged: max-pods %d, labels %v, runtime %s (the flag must win)", got.MaxPods, got.NodeLabels, got.Runtime)
	}
	if got.Given.Where("max-pods") != "fleet.yaml:1: max-pods" || base.Given.Has("max-pods") {
		t.Errorf("given: %v; the base must stay untouched: %v", got.Given, base.Given)
	}
	// Errors found later, in spec.NewSpec, still name the line.
	bad, _ := options.ParseFile("fleet.yaml", []byte("max-pods: 0\n"))
	in, err := base.WithYAML(bad, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := spec.NewSpec(in, cache.New(readTestdata, goldenNow)); err == nil || err.Error() != "fleet.yaml:1: max-pods: 0: want a positive number" {
		t.Errorf("want the error to name fleet.yaml:1: max-pods, got %v", err)
	}
	if _, err := base.WithYAML(mustParse(t, "max-podz: 3\n"), nil); err == nil || err.Error() != "fleet.yaml:1: max-podz: unknown key (did you mean max-pods?)" {
		t.Errorf("unknown key: %v", err)
	}
}

func mustParse(t *testing.T, s string) *options.File {
	f, err := options.ParseFile("fleet.yaml", []byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// Every option of the table is well-formed: a field of a supported type,
// a default its own check accepts, help.
func TestOptionTable(t *testing.T) {
	var in spec.Inputs
	for i := range spec.Options {
		o := &spec.Options[i]
		if o.Help == "" {
			t.Errorf("%s: no help", o.Name)
		}
		if err := options.SetDefault(&o.Meta, o.Field(&in)); err != nil {
			t.Errorf("%s: %v", o.Name, err)
		}
		if err := options.CheckValue(&o.Meta, o.Field(&in), o.Default != "", "--"+o.Name); err != nil {
			t.Errorf("%s: the default fails its own check: %v", o.Name, err)
		}
	}
}

// TestAPIServerList: --api-server a,b is one address with a comma; the
// error says to give each its own flag (issue 17 item 11).
func TestAPIServerList(t *testing.T) {
	in := sampleInputs()
	in.APIServer = []string{"10.0.0.1,10.0.0.2"}
	_, _, err := spec.NewSpec(in, nil)
	if err == nil || !strings.Contains(err.Error(), "give each address its own --api-server") {
		t.Errorf("got %v, want a hint to repeat the flag", err)
	}
}

// TestNoRegexInErrors: Kubernetes' validation messages end in the regex
// they check; kubebake's errors say what is wanted without it (issue 17
// item 11).
func TestNoRegexInErrors(t *testing.T) {
	for _, set := range []func(*spec.Inputs){
		func(in *spec.Inputs) { in.NodeLabels = []string{"a b=c"} },
		func(in *spec.Inputs) { in.NodeLabels = []string{"a=b c"} },
		func(in *spec.Inputs) { in.RegisterWithTaints = []string{"a b:NoSchedule"} },
		func(in *spec.Inputs) { in.ClusterDomain = "Not_A_Domain" },
		func(in *spec.Inputs) { in.Hostname = "Not_A_Host" },
	} {
		in := sampleInputs()
		set(&in)
		_, _, err := spec.NewSpec(in, nil)
		if err == nil || strings.Contains(err.Error(), "regex") || strings.Contains(err.Error(), "[a-z0-9]") {
			t.Errorf("got %v, want an error without Kubernetes' regex", err)
		}
	}
}
