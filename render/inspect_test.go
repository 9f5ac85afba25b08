package render

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubebake/kubebake/internal/token"
	"github.com/kubebake/kubebake/render/spec"
	"github.com/kubebake/kubebake/test/golden"
)

func sampleSecret(t testing.TB) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "testdata", "token"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := token.ParseFile(data)
	if err != nil {
		t.Fatal(err)
	}
	return tok.Secret()
}

// TestInspectGolden shows what `kubebake inspect` prints of each kind of
// output kubebake writes, and that it never prints the token's secret.
func TestInspectGolden(t *testing.T) {
	secret := sampleSecret(t)
	cloudInit := renderCombo(t, combo{FormatCloudInit, spec.VariantFCOS, spec.RuntimeContainerd, spec.JoinEmbedded})
	gz, err := gzipBytes(cloudInit)
	if err != nil {
		t.Fatal(err)
	}
	mime, err := renderMerged(t, FormatCloudInit, spec.VariantFCOS, userConfig(t, "user-mime.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string][]byte{
		"ignition":        renderCombo(t, combo{FormatIgnition, spec.VariantFCOS, spec.RuntimeDocker, spec.JoinEmbedded}),
		"butane":          renderCombo(t, combo{FormatButane, spec.VariantFlatcar, spec.RuntimeContainerd, spec.JoinBaked}),
		"cloud-init":      cloudInit,
		"cloud-init-gz":   gz,
		"cloud-init-mime": mime,
		"tar":             renderCombo(t, combo{FormatTar, spec.VariantFCOS, spec.RuntimeDocker, spec.JoinNone}),
	} {
		t.Run(name, func(t *testing.T) {
			view := inspectText(t, out)
			if bytes.Contains(view, []byte(secret)) {
				t.Fatal("inspect prints the token's secret")
			}
			if !strings.Contains(string(view), "lofdk1.<secret>") {
				t.Error("inspect does not show where the token is")
			}
			golden.Check(t, filepath.Join("..", "testdata", "golden", "inspect", name+".txt"), view)
		})
	}
}
