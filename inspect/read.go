// Package inspect reads any output kubebake writes (Ignition, Butane,
// cloud-init plain, gzipped or MIME multipart, tar) into one neutral view
// of the machine state it describes, and prints that view in a stable,
// human-readable form with every bootstrap token's secret replaced by a
// marker: for reviews, and for users' own golden tests.
package inspect

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/kubebake/kubebake/internal/userdata"
)

// UnitDir is where units and drop-ins are written.
const UnitDir = "/etc/systemd/system"

// Node is the machine state an output describes.
type Node struct {
	// Format names what was read: "ignition 3.5.0", "butane fcos 1.6.0",
	// "cloud-init", "cloud-init (MIME multipart, 2 parts)", "tar".
	Format string
	// Entries are the files and symlinks the output lays down, by path.
	Entries map[string]Entry
	// Enabled are the units the output enables, sorted.
	Enabled []string
	// Masked are the units the output masks, sorted.
	Masked []string
	// Start is the order a late applier starts units in (cloud-init's runcmd).
	Start []string
	// Commands are other commands the output runs at boot (runcmd lines,
	// shell-script parts), in order.
	Commands []string
	// Extra is everything else the output configures (users, SSH keys, other
	// cloud-config modules), one line a setting, in the format's own words.
	Extra []string
}

// Entry is a file or a symlink.
type Entry struct {
	Mode   uint32 // permission bits
	Data   []byte
	Target string // a symlink's target; "" for a file
	// Source describes contents that are not in the output (a remote URL);
	// Hash is the verification hash the applier checks them against ("":
	// none, whatever the server sends is written).
	Source string
	Hash   string
}

func newNode(format string) *Node {
	return &Node{Format: format, Entries: map[string]Entry{}}
}

// Read decodes an output of any kind kubebake writes.
func Read(data []byte) (*Node, error) {
	if isGzip(data) {
		plain, err := gunzip(data)
		if err != nil {
			return nil, fmt.Errorf("gzip: %v", err)
		}
		n, err := Read(plain)
		if err != nil {
			return nil, err
		}
		n.Format += ", gzipped"
		return n, nil
	}
	switch trimmed := bytes.TrimLeft(data, " \t\r\n"); {
	case isTar(data):
		return readTar(data)
	case bytes.HasPrefix(trimmed, []byte("#cloud-config")):
		n := newNode("cloud-init")
		return n, readCloudConfig(n, data)
	case userdata.IsMIME(trimmed):
		return readMIME(data)
	case bytes.HasPrefix(trimmed, []byte("{")):
		if err := kubebakeJSON(data); err != nil {
			return nil, err
		}
		return readIgnition(data)
	case len(trimmed) == 0:
		return nil, errors.New("the file is empty")
	default:
		return readButane(data)
	}
}

// kubebakeJSON refuses kubebake's own JSON that is not an output: a plan
// (--format plan) or a fleet's index.json, saying what it is.
func kubebakeJSON(data []byte) error {
	var doc struct {
		Ignition   *json.RawMessage `json:"ignition"`
		ConfigHash *string          `json:"configHash"`
		Nodes      *json.RawMessage `json:"nodes"`
	}
	if json.Unmarshal(data, &doc) != nil || doc.Ignition != nil {
		return nil
	}
	switch {
	case doc.ConfigHash != nil:
		return errors.New("this is a plan (kubebake render --format plan), which lists digests, not contents: inspect the Ignition, Butane, cloud-init or tar output itself")
	case doc.Nodes != nil:
		return errors.New("this is a fleet's index.json: inspect the node outputs it lists")
	}
	return nil
}

func isGzip(data []byte) bool { return len(data) > 2 && data[0] == 0x1f && data[1] == 0x8b }

func isTar(data []byte) bool {
	return len(data) >= 512 && bytes.HasPrefix(data[257:], []byte("ustar"))
}

// maxUncompressed bounds what one gzip stream may expand to.
const maxUncompressed = 256 << 20

func gunzip(data []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	out, err := io.ReadAll(io.LimitReader(zr, maxUncompressed+1))
	if err != nil {
		return nil, err
	}
	if len(out) > maxUncompressed {
		return nil, fmt.Errorf("expands to more than %d MB", maxUncompressed>>20)
	}
	return out, nil
}

func readTar(data []byte) (*Node, error) {
	n := newNode("tar")
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("tar: %v", err)
		}
		p := "/" + strings.TrimPrefix(strings.TrimPrefix(h.Name, "./"), "/")
		p = strings.TrimSuffix(p, "/")
		switch h.Typeflag {
		case tar.TypeReg:
			body, err := io.ReadAll(io.LimitReader(tr, maxUncompressed))
			if err != nil {
				return nil, fmt.Errorf("tar: %s: %v", p, err)
			}
			n.Entries[p] = Entry{Mode: uint32(h.Mode) & 0o7777, Data: body}
			if h.Uid != 0 || h.Gid != 0 {
				n.Extra = append(n.Extra, fmt.Sprintf("%s is owned by %d:%d", p, h.Uid, h.Gid))
			}
		case tar.TypeSymlink:
			n.Entries[p] = Entry{Target: h.Linkname}
		case tar.TypeDir:
		default:
			return nil, fmt.Errorf("tar: %s: entry type %q is not a file, directory or symlink", p, h.Typeflag)
		}
	}
	// Enablement: the preset file and the links systemctl would make.
	enabled := map[string]bool{}
	for p, e := range n.Entries {
		if e.Target != "" && strings.HasPrefix(p, UnitDir+"/") && isEnablementDir(parentBase(p)) {
			enabled[baseName(p)] = true
		}
		if strings.HasPrefix(p, "/etc/systemd/system-preset/") && e.Target == "" {
			for _, line := range strings.Split(string(e.Data), "\n") {
				if f := strings.Fields(line); len(f) == 2 && f[0] == "enable" {
					enabled[f[1]] = true
				}
			}
		}
	}
	n.Enabled = sortedSet(enabled)
	return n, nil
}

func isEnablementDir(d string) bool {
	return strings.HasSuffix(d, ".wants") || strings.HasSuffix(d, ".requires") || strings.HasSuffix(d, ".upholds")
}

func baseName(p string) string { return p[strings.LastIndex(p, "/")+1:] }

func parentBase(p string) string {
	return baseName(p[:strings.LastIndex(p, "/")])
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
