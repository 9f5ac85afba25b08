package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubebake/kubebake/embed"
)

// TestRenderPathLinks guards kubebake's start-up: Go runs the init of every
// package linked into a binary, whichever command runs, so a package that
// only the cluster commands need is paid by every render too. These were
// linked once and cost milliseconds of init (GODEBUG=inittrace=1) before
// main: the typed clientset's scheme of every API group and what its
// discovery and openapi clients bring (structured-merge-diff, gnostic,
// swag), cluster-bootstrap's token/util regexps, and through the kubelet's
// config types component-base's legacy metrics registry and prometheus. Cluster code talks to
// the API server through cluster.API instead; `make bench` measures the
// start-up itself.
func TestRenderPathLinks(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", "github.com/kubebake/kubebake/cmd/kubebake").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	linked := map[string]bool{}
	for _, p := range strings.Fields(string(out)) {
		linked[p] = true
	}
	for _, p := range []string{
		"k8s.io/client-go/kubernetes",
		"k8s.io/client-go/kubernetes/scheme",
		"k8s.io/client-go/discovery",
		"k8s.io/client-go/openapi",
		"sigs.k8s.io/structured-merge-diff/v6/typed",
		"k8s.io/cluster-bootstrap/token/util",
		// k8s.io/kubelet/config/v1beta1 brings component-base's feature
		// gates, metrics, legacy registry and prometheus: render uses
		// internal/kubeletconfig, its copy, instead.
		"k8s.io/kubelet/config/v1beta1",
		"k8s.io/component-base/metrics/legacyregistry",
		"github.com/prometheus/client_golang/prometheus",
	} {
		if linked[p] {
			t.Errorf("cmd/kubebake links %s: its init runs at every start, render's too (find who imports it: go list -deps -f '{{.ImportPath}}: {{.Imports}}' ./cmd/kubebake | grep %s)", p, p)
		}
	}
}

// TestSingleRenderDoesNotCollect guards a single render's speed without
// timing it: the process's heap is garbage only at exit, and collecting it
// took a third of an embedded render's time (the mark workers waiting to
// preempt the goroutine that clears the output's pages), so render turns
// the collector off (under a soft memory limit). GODEBUG=gctrace=1 prints a
// line for every collection; a render must print none.
func TestSingleRenderDoesNotCollect(t *testing.T) {
	if testing.Short() {
		t.Skip("builds kubebake")
	}
	if _, err := embed.Load("amd64"); err != nil {
		t.Skipf("no embedded agent (run make embed): %v", err)
	}
	bin := buildKubebake(t)
	for _, format := range []string{"ignition", "cloud-init"} {
		cmd := exec.Command(bin, "render", "--ca", "../../testdata/ca.crt", "--token-file", "../../testdata/token",
			"--api-server", "10.0.0.10:6443", "--format", format, "-o", filepath.Join(t.TempDir(), "out"))
		cmd.Env = append(os.Environ(), "GODEBUG=gctrace=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", format, err, out)
		}
		for _, line := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(line, "gc ") {
				t.Errorf("%s: a single render with the embedded agent collected garbage: %s", format, line)
			}
		}
	}
}
