package inspect

import (
	"archive/tar"
	"bytes"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	in := "token: lofdk1.egbg0rjhecsbxrds\nurl: x?t=zyxwvu.9876543210zyxwvu&y\nnot: abcdef.0123\n"
	got := Redact(in)
	want := "token: lofdk1.<secret>\nurl: x?t=zyxwvu.<secret>&y\nnot: abcdef.0123\n"
	if got != want {
		t.Errorf("Redact:\n%s\nwant:\n%s", got, want)
	}
}

// TestLargeDataURL: a data URL long enough to be hidden from the parsers
// comes back whole, and its hash is still verified.
func TestLargeDataURL(t *testing.T) {
	body := bytes.Repeat([]byte("kubebake "), 1000)
	url := "data:;base64," + base64.StdEncoding.EncodeToString(body)
	ign := fmt.Sprintf(`{"ignition":{"version":"3.4.0"},"storage":{"files":[{"path":"/a","contents":{"source":%q}},{"path":"/b","contents":{"source":"data:,small"}}]}}`, url)
	n, err := Read([]byte(ign))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(n.Entries["/a"].Data, body) || string(n.Entries["/b"].Data) != "small" {
		t.Errorf("entries: /a %d bytes, /b %q", len(n.Entries["/a"].Data), n.Entries["/b"].Data)
	}
	bad := strings.Replace(ign, `"contents":{"source"`, `"contents":{"verification":{"hash":"sha512-`+strings.Repeat("0", 128)+`"},"source"`, 1)
	if _, err := Read([]byte(bad)); err == nil || !strings.Contains(err.Error(), "verification.hash") {
		t.Errorf("a wrong hash on a hidden URL: %v", err)
	}
}

func TestCloudConfigDetails(t *testing.T) {
	cc := "#cloud-config\nwrite_files:\n- {path: /x, content: aGk=, encoding: b64, permissions: 0640, owner: 'core:core'}\n- {path: /x, content: '!', append: true}\n- {path: /y, permissions: 0640}\nruncmd:\n- [systemctl, enable, --now, a.service]\n- echo hi\n"
	n, err := Read([]byte(cc))
	if err != nil {
		t.Fatal(err)
	}
	// Each entry sets the mode, the appending one too (0644 by default), as
	// cloud-init's write_file chmods after every write.
	if e := n.Entries["/x"]; string(e.Data) != "hi!" || e.Mode != 0o644 {
		t.Errorf("/x = %q %04o, want \"hi!\" 0644", e.Data, e.Mode)
	}
	if e := n.Entries["/y"]; e.Mode != 0o640 {
		t.Errorf("/y has mode %04o, want 0640 (an unquoted YAML octal)", e.Mode)
	}
	view := string(n.Text())
	for _, want := range []string{"enabled: a.service", "/x is owned by core:core", "  echo hi"} {
		if !strings.Contains(view, want) {
			t.Errorf("the view lacks %q:\n%s", want, view)
		}
	}
}

// A user's bootcmd that looks like kubebake's start (systemd-run, a script
// after -ec) is the user's: its units are not read as the node's enabled
// and started units, and the entry stays among the other settings.
// Before, any entry with cloud-init-per, systemd-run and -ec was read as
// kubebake's.
func TestUserBootcmdIsNotTheStart(t *testing.T) {
	cc := "#cloud-config\nbootcmd:\n- [cloud-init-per, always, mine, systemd-run, --unit=mine, /bin/sh, -ec, \"systemctl restart nginx.service\\nsystemctl enable nginx.service\"]\n" +
		"- [sh, -c, 'test -e \"$0\" || exec \"$@\"', /run/mine, systemd-run, --unit=mine, --property=After=cloud-init.service, /bin/sh, -ec, systemctl enable nginx.service]\n"
	n, err := Read([]byte(cc))
	if err != nil {
		t.Fatal(err)
	}
	if len(n.Enabled) > 0 || len(n.Start) > 0 {
		t.Errorf("a user's bootcmd read as the node's units: enabled %v, start %v", n.Enabled, n.Start)
	}
	if view := string(n.Text()); !strings.Contains(view, "cloud-init-per") || !strings.Contains(view, "/run/mine") {
		t.Errorf("the user's bootcmd is not among the other settings:\n%s", view)
	}
}

func TestTarOwnerAndBinary(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct {
		name string
		data []byte
		uid  int
	}{{"etc/a", []byte("text\n"), 0}, {"usr/bin/b", []byte{0x7f, 'E', 'L', 'F', 0, 1}, 1000}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o755, Size: int64(len(f.data)), Uid: f.uid, Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(f.data)
	}
	tw.Close()
	n, err := Read(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	view := string(n.Text())
	for _, want := range []string{"format: tar", "/usr/bin/b is owned by 1000:0", "(binary, 6 bytes: not shown)", "--- /etc/a\ntext\n"} {
		if !strings.Contains(view, want) {
			t.Errorf("the view lacks %q:\n%s", want, view)
		}
	}
}

func TestNotAnOutput(t *testing.T) {
	for _, in := range []string{"", "hello\n", "variant: [\n"} {
		if _, err := Read([]byte(in)); err == nil {
			t.Errorf("Read(%q) accepted it", in)
		}
	}
}

// TestReadKubebakeJSON: a plan or a fleet's index.json is kubebake's own
// JSON, not an output inspect reads; it says what the file is and what to
// inspect instead (issue 17 item 11).
func TestReadKubebakeJSON(t *testing.T) {
	for doc, want := range map[string]string{
		`{"part": "all", "configHash": "sha256:00", "files": []}`: "kubebake render --format plan",
		`{"nodes": [{"name": "a", "file": "a.ign"}]}`:             "index.json",
	} {
		_, err := Read([]byte(doc))
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "invalid config version") {
			t.Errorf("%s: got %v, want an error naming %q", doc, err, want)
		}
	}
}
