package embed

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"
)

func TestMissingSaysWhatToRun(t *testing.T) {
	_, err := load(fstest.MapFS{"dist/.keep": {}}, "amd64")
	if !errors.Is(err, ErrMissing) || !strings.Contains(err.Error(), "run `make`") {
		t.Fatalf("want ErrMissing telling the user to run make, got %v", err)
	}
	if _, err := load(fstest.MapFS{}, "riscv64"); err == nil || !strings.Contains(err.Error(), "amd64, arm64") {
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
	a, err := load(fsys, "arm64")
	if err != nil || a.SHA512 != sum || a.Size != 1234 || string(a.Gzip) != "gz" {
		t.Fatalf("load: %+v %v", a, err)
	}
	if _, err := load(fsys, "amd64"); err == nil || !strings.Contains(err.Error(), "malformed") {
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
	}
}
