package embed

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"testing/fstest"
)

func TestMissingSaysWhatToRun(t *testing.T) {
	_, err := load(fstest.MapFS{"dist/.keep": {}}, "amd64", true)
	if !errors.Is(err, ErrMissing) || !strings.Contains(err.Error(), "run `make`") {
		t.Fatalf("want ErrMissing telling the user to run make, got %v", err)
	}
	if _, err := load(fstest.MapFS{}, "riscv64", true); err == nil || !strings.Contains(err.Error(), "amd64, arm64") {
		t.Fatalf("an unknown architecture must name the known ones, got %v", err)
	}
}

func TestLoad(t *testing.T) {
	sum := strings.Repeat("ab", 64)
	fsys := fstest.MapFS{
		"dist/kubebake-join-linux-arm64.gz":        {Data: []byte("gz")},
		"dist/kubebake-join-linux-arm64.gz.sha512": {Data: []byte(sum + " 1234\n")},
		"dist/kubebake-join-linux-amd64.gz":        {Data: []byte("gz")},
		"dist/kubebake-join-linux-amd64.gz.sha512": {Data: []byte("short 1\n")},
	}
	a, err := load(fsys, "arm64", true)
	if err != nil || a.SHA512 != sum || a.Size != 1234 || string(a.Gzip) != "gz" || a.SHA256 != "" {
		t.Fatalf("load: %+v %v", a, err)
	}
	sum256 := strings.Repeat("cd", 32)
	fsys["dist/kubebake-join-linux-arm64.gz.sha512"] = &fstest.MapFile{Data: []byte(sum + " 1234 " + sum256 + "\n")}
	if a, err = load(fsys, "arm64", true); err != nil || a.SHA256 != sum256 || a.Size != 1234 {
		t.Fatalf("load with a sha256: %+v %v", a, err)
	}
	if d, err := load(fsys, "arm64", false); err != nil || d.Gzip != nil || d.SHA256 != sum256 || d.Size != 1234 {
		t.Fatalf("load without the binary: %+v %v", d, err)
	}
	if s, err := a.SHA256Sum(); err != nil || s != sum256 {
		t.Fatalf("SHA256Sum must use the recorded digest: %q %v", s, err)
	}
	if _, err := load(fsys, "amd64", true); err == nil || !strings.Contains(err.Error(), "malformed") {
		t.Fatalf("a malformed .sha512 must be refused, got %v", err)
	}
}

// TestBuilt checks the real embedded agents when make has built them.
func TestBuilt(t *testing.T) {
	for _, arch := range Arches {
		a, err := Load(arch)
		if errors.Is(err, ErrMissing) {
			t.Skip("the agents are not built (make embed)")
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(a.Gzip) < 1<<20 || a.Size < int64(len(a.Gzip)) {
			t.Errorf("%s: implausible agent: %d bytes gzipped, %d bytes", arch, len(a.Gzip), a.Size)
		}
		// kubebake version prints the sha256 mkembed recorded instead of
		// hashing the agent at every call: it must be the agent's.
		if a.SHA256 == "" {
			t.Errorf("%s: embed/dist holds no sha256 (mkembed writes it): run make embed", arch)
			continue
		}
		bin, err := a.Binary()
		if err != nil {
			t.Fatal(err)
		}
		if sum := sha256.Sum256(bin); hex.EncodeToString(sum[:]) != a.SHA256 || int64(len(bin)) != a.Size {
			t.Errorf("%s: recorded sha256 %s and size %d, the agent's are %x and %d", arch, a.SHA256, a.Size, sum, len(bin))
		}
	}
}
