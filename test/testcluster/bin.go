// Package testcluster runs a real Kubernetes control plane (etcd,
// kube-apiserver, kube-controller-manager) on 127.0.0.1 for tests, with
// fresh PKI, bootstrap-token authentication and the bootstrapsigner,
// tokencleaner and CSR controllers, plus a sandbox that runs a real kubelet
// (or kubeadm) without letting it touch the host.
//
// The binaries come from scripts/setup-k8s.sh, cached under
// $KUBEBAKE_CACHE/k8s/bin. Every process the package starts is stopped by PID
// in t.Cleanup, also when the test fails, and its log is dumped then.
package testcluster

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// SetupCommand is what installs the binaries Bin looks for.
const SetupCommand = "scripts/setup-k8s.sh"

// Binaries are the names Bin knows.
var Binaries = []string{"kube-apiserver", "kube-controller-manager", "kubelet", "kubeadm", "kubectl", "etcd"}

// RepoRoot is the directory of kubebake's go.mod, found upwards from the
// working directory (go test runs in the package's directory).
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && isKubebakeMod(data) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("testcluster: not inside the kubebake module (no go.mod of github.com/kubebake/kubebake above the working directory)")
		}
		dir = parent
	}
}

func isKubebakeMod(data []byte) bool {
	const want = "module github.com/kubebake/kubebake\n"
	return len(data) >= len(want) && string(data[:len(want)]) == want
}

// CacheDir is $KUBEBAKE_CACHE, or .cache in the repository root as the
// Makefile and scripts default it.
func CacheDir() (string, error) {
	if d := os.Getenv("KUBEBAKE_CACHE"); d != "" {
		return filepath.Abs(d)
	}
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, ".cache"), nil
}

// InCI reports whether the tests run in CI, where a missing tool is a
// failure, not a reason to skip.
func InCI() bool { return os.Getenv("CI") == "true" }

// Missing fails the test under CI=true and skips it otherwise, saying which
// command sets up what is missing.
func Missing(t testing.TB, what, setup string) {
	t.Helper()
	if InCI() {
		t.Fatalf("%s; CI=true, so this fails instead of skipping: run %s", what, setup)
	}
	t.Skipf("%s; run %s to set it up", what, setup)
}

// Bin returns the path of a cached Kubernetes binary ("kube-apiserver",
// "kube-controller-manager", "kubelet", "kubeadm", "kubectl", "etcd"). When
// it is missing the test fails under CI=true and is skipped otherwise, naming
// scripts/setup-k8s.sh.
func Bin(t testing.TB, name string) string {
	t.Helper()
	known := false
	for _, b := range Binaries {
		known = known || b == name
	}
	if !known {
		t.Fatalf("testcluster.Bin: unknown binary %q (have %v)", name, Binaries)
	}
	cache, err := CacheDir()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(cache, "k8s", "bin", name)
	if fi, err := os.Stat(p); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		Missing(t, "no "+name+" at "+p, SetupCommand)
	}
	return p
}
