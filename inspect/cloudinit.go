package inspect

import (
	"bytes"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/kubebake/kubebake/internal/userdata"
	"sigs.k8s.io/yaml"
)

// cloudFile is one write_files entry, as cloud-init reads it.
type cloudFile struct {
	Path        string `json:"path"`
	Content     string `json:"content"`
	Encoding    string `json:"encoding"`
	Permissions any    `json:"permissions"`
	Owner       string `json:"owner"`
	Append      bool   `json:"append"`
	Defer       bool   `json:"defer"`
}

// readCloudConfig adds a #cloud-config document's files, enablement, start
// order and other settings to n.
func readCloudConfig(n *Node, data []byte) error {
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("cloud-config: %v", err)
	}
	keys := make([]string, 0, len(doc))
	for k := range doc {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch k {
		case "write_files":
			raw, _ := yaml.Marshal(doc[k])
			var files []cloudFile
			if err := yaml.Unmarshal(raw, &files); err != nil {
				return fmt.Errorf("cloud-config write_files: %v", err)
			}
			for _, f := range files {
				if err := addCloudFile(n, f); err != nil {
					return err
				}
			}
		case "runcmd":
			items, _ := doc[k].([]any)
			readRuncmd(n, items)
		case "bootcmd":
			items, _ := doc[k].([]any)
			if rest := readBootcmd(n, items); len(rest) > 0 {
				out, err := yaml.Marshal(map[string]any{k: rest})
				if err != nil {
					return err
				}
				n.Extra = append(n.Extra, strings.TrimRight(string(out), "\n"))
			}
		default:
			out, err := yaml.Marshal(map[string]any{k: doc[k]})
			if err != nil {
				return err
			}
			n.Extra = append(n.Extra, strings.TrimRight(string(out), "\n"))
		}
	}
	return nil
}

func addCloudFile(n *Node, f cloudFile) error {
	data, err := decodeCloudContent(f.Content, f.Encoding)
	if err != nil {
		return fmt.Errorf("write_files %s: %v", f.Path, err)
	}
	mode := uint32(0o644)
	switch p := f.Permissions.(type) {
	case string:
		m, err := strconv.ParseUint(p, 8, 32)
		if err != nil {
			return fmt.Errorf("write_files %s: permissions %q are not octal", f.Path, p)
		}
		mode = uint32(m)
	case float64:
		// An unquoted 0644 is a YAML 1.1 octal integer, for cloud-init as
		// here, and a number is the mode itself.
		mode = uint32(p)
	}
	if f.Owner != "" && f.Owner != "root:root" && f.Owner != "root" {
		n.Extra = append(n.Extra, fmt.Sprintf("%s is owned by %s", f.Path, f.Owner))
	}
	if f.Defer {
		n.Extra = append(n.Extra, fmt.Sprintf("%s is written late (defer: true)", f.Path))
	}
	p := path.Clean(f.Path)
	if f.Append {
		prev := n.Entries[p]
		data = append(append([]byte{}, prev.Data...), data...)
	}
	n.Entries[p] = Entry{Mode: mode, Data: data}
	return nil
}

func decodeCloudContent(content, encoding string) ([]byte, error) {
	data := []byte(content)
	var err error
	switch strings.ToLower(encoding) {
	case "", "text/plain":
		return data, nil
	case "b64", "base64":
		return base64.StdEncoding.DecodeString(strings.TrimSpace(content))
	case "gz", "gzip":
		return gunzip(data)
	case "gz+b64", "gzip+base64", "gz+base64", "gzip+b64":
		if data, err = base64.StdEncoding.DecodeString(strings.TrimSpace(content)); err != nil {
			return nil, err
		}
		return gunzip(data)
	}
	return nil, fmt.Errorf("encoding %q is not one cloud-init knows", encoding)
}

// readBootcmd records the start of the node's units that kubebake's
// bootcmd queues (`sh -c GUARD DONE systemd-run --unit=kubebake-start ...
// /bin/sh -ec SCRIPT`: SCRIPT's lines read as runcmd's are) and returns
// the other entries, a user's among them, as they are.
func readBootcmd(n *Node, items []any) (rest []any) {
	for _, it := range items {
		argv, _ := it.([]any)
		words := make([]string, len(argv))
		for i, a := range argv {
			words[i] = fmt.Sprint(a)
		}
		if len(words) < 9 || words[0] != "sh" || words[1] != "-c" || words[2] != userdata.StartGuard ||
			words[4] != "systemd-run" || !slices.Contains(words, "--unit="+userdata.StartUnit) || words[len(words)-2] != "-ec" {
			rest = append(rest, it)
			continue
		}
		var after []string
		for _, w := range words[5 : len(words)-3] {
			if a, ok := strings.CutPrefix(w, "--property=After="); ok {
				after = append(after, a)
			}
		}
		n.Extra = append(n.Extra, fmt.Sprintf("units started by %s.service after %s, once (until %s exists)", userdata.StartUnit, strings.Join(after, " and "), words[3]))
		var lines []any
		for _, l := range strings.Split(words[len(words)-1], "\n") {
			lines = append(lines, l)
		}
		readRuncmd(n, lines)
	}
	return rest
}

// readRuncmd records runcmd: `systemctl enable` and `systemctl (re)start`
// as enablement and start order, the rest as commands.
func readRuncmd(n *Node, items []any) {
	enabled := map[string]bool{}
	for _, e := range n.Enabled {
		enabled[e] = true
	}
	for _, it := range items {
		var argv []string
		switch v := it.(type) {
		case string:
			argv = strings.Fields(v)
		case []any:
			for _, a := range v {
				argv = append(argv, fmt.Sprint(a))
			}
		}
		if len(argv) >= 2 && path.Base(argv[0]) == "systemctl" {
			var units []string
			for _, a := range argv[2:] {
				if !strings.HasPrefix(a, "-") {
					units = append(units, a)
				}
			}
			switch argv[1] {
			case "enable":
				for _, u := range units {
					enabled[u] = true
				}
				continue
			case "start", "restart":
				n.Start = append(n.Start, units...)
				continue
			case "daemon-reload":
				continue
			}
		}
		if s, ok := it.(string); ok {
			n.Commands = append(n.Commands, s)
		} else {
			n.Commands = append(n.Commands, userdata.ShellJoin(argv))
		}
	}
	n.Enabled = sortedSet(enabled)
}

// readMIME reads a MIME multipart user-data: its cloud-config parts in
// order (cloud-init merges them), its scripts as commands.
func readMIME(data []byte) (*Node, error) {
	parts, err := userdata.Parse(data)
	if err != nil {
		return nil, err
	}
	n := newNode(fmt.Sprintf("cloud-init (MIME multipart, %d parts)", len(parts)))
	for _, p := range parts {
		body := p.Body
		if isGzip(body) {
			if body, err = gunzip(body); err != nil {
				return nil, fmt.Errorf("MIME %s: gzip: %v", p.Filename, err)
			}
		}
		switch {
		case p.ContentType == "text/cloud-config" || bytes.HasPrefix(body, []byte("#cloud-config")):
			if err := readCloudConfig(n, body); err != nil {
				return nil, fmt.Errorf("MIME %s: %v", p.Filename, err)
			}
		case p.ContentType == "text/cloud-boothook" && isInstallHook(body):
			if err := readInstallHook(n, body); err != nil {
				return nil, fmt.Errorf("MIME %s: %v", p.Filename, err)
			}
		case p.ContentType == "text/x-shellscript" || bytes.HasPrefix(body, []byte("#!")):
			n.Commands = append(n.Commands, fmt.Sprintf("script %s:\n%s", p.Filename, strings.TrimRight(string(body), "\n")))
		default:
			n.Extra = append(n.Extra, fmt.Sprintf("MIME %s: %s, %d bytes (not read)", p.Filename, p.ContentType, len(body)))
		}
	}
	return n, nil
}

// installHookCall starts a file of kubebake's install boothook (see
// render/emit's installHook): path, mode and SHA-512, then the base64 of
// its gzip in a here-document.
const (
	installHookCall = "install_file "
	installHookEnd  = "KUBEBAKE_END"
)

func isInstallHook(body []byte) bool {
	return bytes.HasPrefix(body, []byte("#!/bin/sh\n# Rendered by kubebake: a cloud-init boothook that installs"))
}

// readInstallHook adds the files kubebake's install boothook installs to n,
// after the check the hook makes on the node: each must match its SHA-512.
func readInstallHook(n *Node, body []byte) error {
	lines := strings.Split(string(body), "\n")
	for i := 0; i < len(lines); i++ {
		f := strings.Fields(lines[i])
		if len(f) != 5 || f[0]+" " != installHookCall || f[4] != "<<'"+installHookEnd+"'" {
			continue
		}
		var b64 strings.Builder
		for i++; i < len(lines) && lines[i] != installHookEnd; i++ {
			b64.WriteString(lines[i])
		}
		if i == len(lines) {
			return fmt.Errorf("boothook: %s: no end to its here-document", f[1])
		}
		data, err := decodeCloudContent(b64.String(), "gz+b64")
		if err != nil {
			return fmt.Errorf("boothook: %s: %v", f[1], err)
		}
		if sum := sha512.Sum512(data); hex.EncodeToString(sum[:]) != f[3] {
			return fmt.Errorf("boothook: %s: its contents do not have the SHA-512 it says (the node would refuse them)", f[1])
		}
		mode, err := strconv.ParseUint(f[2], 8, 32)
		if err != nil {
			return fmt.Errorf("boothook: %s: mode %q is not octal", f[1], f[2])
		}
		n.Entries[path.Clean(f[1])] = Entry{Mode: uint32(mode), Data: data}
	}
	return nil
}
