// Package consumers proves every format `kubebake render` produces on its
// real consumer: the Ignition applier (v2.27.0), cloud-init (Debian's 22.4)
// in a minimal Debian root, and systemd's own checks. It builds the CLI and
// the agent from this tree, renders every combination of variant, runtime
// and join-binary mode, and compares the machine state each consumer leaves
// with the plan (`--format plan`) and with each other.
//
// The consumers come from scripts/setup-consumers.sh; see
// test/consumertest.
package consumers

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubebake/kubebake/internal/token"
	"github.com/kubebake/kubebake/test/consumertest"
)

var (
	// kubebakeBin is the CLI built from this tree.
	kubebakeBin string
	// agentBin is kubebake-join for linux/amd64, built as the Makefile builds
	// the embedded one (reproducibly: the same bytes).
	agentBin string
	// caFile and tokenFile are the render inputs.
	caFile, tokenFile string
	// apiServer is the address rendered into the configs.
	apiServer = "10.0.0.1:6443"
	// setupErr says why the inputs could not be prepared; notBuilt marks the
	// one cause a developer may meet without a bug (no `make embed` yet).
	setupErr error
	notBuilt bool
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	tmp, err := os.MkdirTemp("", "kubebake-consumers-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	setupErr = setup(tmp)
	return m.Run()
}

// ready fails or skips the test when the CLI and agent could not be built:
// a missing `make embed` skips outside CI, anything else fails.
func ready(t *testing.T) {
	t.Helper()
	if setupErr == nil {
		return
	}
	if notBuilt && os.Getenv("CI") != "true" {
		t.Skip(setupErr)
	}
	t.Fatal(setupErr)
}

func setup(tmp string) error {
	repo, err := consumertest.RepoRoot()
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(repo, "embed/dist/kubebake-join-linux-amd64.gz")); err != nil {
		notBuilt = true
		return fmt.Errorf("embed/dist has no agent: run `make embed` first (scripts/test.sh does)")
	}
	kubebakeBin = filepath.Join(tmp, "kubebake")
	agentBin = filepath.Join(tmp, "kubebake-join-linux-amd64")
	builds := []*exec.Cmd{
		exec.Command("go", "build", "-o", kubebakeBin, "./cmd/kubebake"),
		// The same command as the Makefile's bin/kubebake-join-linux-%.
		exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-tags", "nethttpomithttp2", "-ldflags=-s -w -buildid=", "-o", agentBin, "./cmd/kubebake-join"),
	}
	for _, c := range builds {
		c.Dir = repo
		c.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
		if out, err := c.CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %v\n%s", strings.Join(c.Args, " "), err, out)
		}
	}
	caFile = filepath.Join(repo, "testdata/ca.crt")
	tokenFile = filepath.Join(repo, "testdata/token")
	if _, err := os.Stat(caFile); err != nil {
		caFile = filepath.Join(tmp, "ca.crt")
		if err := writeCA(caFile); err != nil {
			return err
		}
	}
	if _, err := os.Stat(tokenFile); err != nil {
		tokenFile = filepath.Join(tmp, "token")
		tok, err := token.Generate()
		if err != nil {
			return err
		}
		if err := os.WriteFile(tokenFile, []byte(tok.Value()+"\n"), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// writeCA writes a fresh self-signed CA certificate.
func writeCA(path string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "kubernetes"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

// inputs is one combination of render flags.
type inputs struct {
	variant    string // "" for cloud-init, which has none
	runtime    string
	joinBinary string
}

func (in inputs) String() string {
	parts := []string{in.runtime, in.joinBinary}
	if in.variant != "" {
		parts = append([]string{in.variant}, parts...)
	}
	return strings.Join(parts, "-")
}

var (
	variants    = []string{"fcos", "flatcar"}
	runtimes    = []string{"docker", "containerd"}
	joinBinarys = []string{"embedded", "baked", "none"}
)

// render runs `kubebake render` with the extra flags and returns the
// output file's bytes.
func render(t *testing.T, in inputs, format string, extra ...string) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out."+format)
	// Labels: the kubelet's per-node flags file is one of the files every
	// applier must lay down, and the boot part's.
	args := []string{"render", "--ca", caFile, "--token-file", tokenFile, "--api-server", apiServer,
		"--format", format, "--runtime", in.runtime, "--join-binary", in.joinBinary, "-o", out,
		"--node-labels", "example.com/pool=consumers,example.com/rack=r1"}
	args = append(args, extra...)
	if in.variant != "" {
		args = append(args, "--variant", in.variant)
	}
	cmd := exec.Command(kubebakeBin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("kubebake %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	if s := stderr.String(); s != "" {
		t.Logf("kubebake render --format %s (%s) says:\n%s", format, in, s)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	want := os.FileMode(0o600) // it holds the token
	if strings.Contains(strings.Join(extra, " "), "--part image") {
		want = 0o644 // it holds no secret
	}
	if st.Mode().Perm() != want {
		t.Errorf("kubebake render -o wrote %s with mode %04o, want %04o", out, st.Mode().Perm(), want)
	}
	return data
}

// renderPlan renders and parses the plan.
func renderPlan(t *testing.T, in inputs) *consumertest.Plan {
	t.Helper()
	p, err := consumertest.ParsePlan(render(t, in, "plan"))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Files) == 0 || len(p.Enabled) == 0 {
		t.Fatalf("plan for %s has no files or no enabled units", in)
	}
	return p
}
