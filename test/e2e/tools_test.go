package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/kubebake/kubebake/embed"
	"github.com/kubebake/kubebake/test/testcluster"
)

// built holds the binaries this package builds once per test run.
var built struct {
	once     sync.Once
	dir      string
	kubebake string
	fakecri  string
	err      error
	out      string
}

// buildTools builds kubebake (with the agents `make embed` put in
// embed/dist) and the fake CRI into a temp dir, once.
func buildTools(t testing.TB) (kubebake, fakecri string) {
	t.Helper()
	root, err := testcluster.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := embed.Load("amd64"); err != nil {
		testcluster.Missing(t, "kubebake cannot embed kubebake-join: "+err.Error(), "make embed")
	}
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "kubebake-e2e-bin-")
		if built.err != nil {
			return
		}
		built.kubebake = filepath.Join(built.dir, "kubebake")
		built.fakecri = filepath.Join(built.dir, "fakecri")
		for _, b := range []struct{ dir, out, pkg string }{
			{root, built.kubebake, "./cmd/kubebake"},
			// A module of its own: its gRPC dependencies stay out of go.mod.
			{filepath.Join(root, "test", "e2e", "fakecri"), built.fakecri, "."},
		} {
			cmd := exec.Command("go", "build", "-o", b.out, b.pkg)
			cmd.Dir = b.dir
			cmd.Env = append(os.Environ(), "GOWORK=off", "CGO_ENABLED=0")
			out, err := cmd.CombinedOutput()
			if err != nil {
				built.err, built.out = err, "go build "+b.pkg+" (in "+b.dir+"): "+string(out)
				return
			}
		}
	})
	if built.err != nil {
		t.Fatalf("building the e2e tools: %v\n%s", built.err, built.out)
	}
	return built.kubebake, built.fakecri
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}
