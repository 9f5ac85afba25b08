package main

import (
	"os/exec"
	"strings"
	"testing"
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
