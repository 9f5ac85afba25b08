package e2e

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// The unit reader is what turns the rendered units into the command lines
// the e2e runs; it must read them as systemd does.
func TestLoadUnitAppliesDropinsLikeSystemd(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, unitDir)
	if err := os.MkdirAll(filepath.Join(dir, "kubelet.service.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(p, s string) {
		if err := os.WriteFile(filepath.Join(dir, p), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("kubelet.service", "[Unit]\nAfter=network-online.target\n[Service]\nExecStart=/usr/bin/kubelet\n")
	write("kubelet.service.d/10-a.conf", "[Unit]\nRequires=kubebake-join.service\nAfter=a.service kubebake-join.service\n[Service]\nExecStart=\nExecStart=/usr/bin/kubelet \\\n    --config=/var/lib/kubelet/config.yaml \\\n    \"--node-labels=a=b c\" --x 'y z'\n")
	u, err := loadUnit(root, "kubelet.service")
	if err != nil {
		t.Fatal(err)
	}
	argv, err := u.execStart()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/usr/bin/kubelet", "--config=/var/lib/kubelet/config.yaml", "--node-labels=a=b c", "--x", "y z"}
	if !reflect.DeepEqual(argv, want) {
		t.Errorf("ExecStart = %q, want %q", argv, want)
	}
	if got := u.words("Unit", "After"); !reflect.DeepEqual(got, []string{"network-online.target", "a.service", "kubebake-join.service"}) {
		t.Errorf("After = %q", got)
	}
	if v, _ := flagValue(argv, "config"); v != "/var/lib/kubelet/config.yaml" {
		t.Errorf("--config = %q", v)
	}
	if v, _ := flagValue(argv, "x"); v != "y z" {
		t.Errorf("--x = %q", v)
	}

	// Variables come from EnvironmentFile=: $NAME splits at white space and
	// is nothing when unset or its file is missing ("-"); ${NAME} is one word.
	write("kubelet.service.d/20-env.conf", "[Service]\nEnvironmentFile=-/etc/missing.env\nEnvironmentFile=-/var/lib/kubelet/flags.env\nExecStart=\nExecStart=/usr/bin/kubelet $A ${B} $UNSET $C\n")
	env := filepath.Join(root, "var/lib/kubelet/flags.env")
	if err := os.MkdirAll(filepath.Dir(env), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(env, []byte("# comment\nA=\"--a=1 --b=2\"\nB=\"x y\"\nC=--c\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	u, err = loadUnit(root, "kubelet.service")
	if err != nil {
		t.Fatal(err)
	}
	argv, err = u.execStart()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"/usr/bin/kubelet", "--a=1", "--b=2", "x y", "--c"}; !reflect.DeepEqual(argv, want) {
		t.Errorf("ExecStart = %q, want %q", argv, want)
	}
	if err := os.WriteFile(env, []byte("A=\"$(evil)\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if argv, err := u.execStart(); err == nil {
		t.Errorf("a value with $ was read: %q", argv)
	}
}
