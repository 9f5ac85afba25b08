package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/coreos/go-systemd/v22/unit"
)

// systemdUnit is a unit as systemd would load it from a node's root: the
// unit file under /etc/systemd/system plus its drop-ins in name order.
type systemdUnit struct {
	name    string
	root    string
	options []*unit.UnitOption
}

const unitDir = "/etc/systemd/system"

func loadUnit(root, name string) (*systemdUnit, error) {
	files := []string{filepath.Join(root, unitDir, name)}
	dropins, _ := filepath.Glob(filepath.Join(root, unitDir, name+".d", "*.conf"))
	sort.Strings(dropins)
	files = append(files, dropins...)
	u := &systemdUnit{name: name, root: root}
	for i, f := range files {
		data, err := os.Open(f)
		if err != nil {
			if i == 0 && os.IsNotExist(err) {
				return nil, fmt.Errorf("the node has no %s: %v", name, err)
			}
			return nil, err
		}
		opts, err := unit.Deserialize(data)
		data.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %v", f, err)
		}
		u.options = append(u.options, opts...)
	}
	return u, nil
}

// values returns a setting's values in order, an empty assignment resetting
// the list as systemd does (ExecStart= in a drop-in).
func (u *systemdUnit) values(section, name string) []string {
	var out []string
	for _, o := range u.options {
		if o.Section != section || o.Name != name {
			continue
		}
		if strings.TrimSpace(o.Value) == "" {
			out = nil
			continue
		}
		out = append(out, o.Value)
	}
	return out
}

// words returns the space-separated words of every value of a list setting
// (Requires=, After=).
func (u *systemdUnit) words(section, name string) []string {
	var out []string
	for _, v := range u.values(section, name) {
		out = append(out, strings.Fields(v)...)
	}
	return out
}

// execStart is the command line of the unit's one ExecStart, split as systemd
// splits it, with each word that is a variable ($NAME: split at white space;
// ${NAME}: one word) expanded from the unit's EnvironmentFile= files in the
// node's root. Any other $ or % means the test must learn to expand it.
func (u *systemdUnit) execStart() ([]string, error) {
	vals := u.values("Service", "ExecStart")
	if len(vals) != 1 {
		return nil, fmt.Errorf("%s: %d effective ExecStart= lines, want 1: %q", u.name, len(vals), vals)
	}
	// go-systemd keeps a continuation's backslash-newline; systemd reads it
	// as a space.
	argv, err := splitCommandLine(strings.ReplaceAll(vals[0], "\\\n", " "))
	if err != nil {
		return nil, fmt.Errorf("%s: ExecStart=%s: %v", u.name, vals[0], err)
	}
	if len(argv) == 0 {
		return nil, fmt.Errorf("%s: empty ExecStart", u.name)
	}
	// Prefixes systemd strips from the executable ("-", "@", "+", "!", ":").
	argv[0] = strings.TrimLeft(argv[0], "-@+!:")
	if !filepath.IsAbs(argv[0]) {
		return nil, fmt.Errorf("%s: ExecStart runs %q, not an absolute path", u.name, argv[0])
	}
	env, err := u.environment()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, a := range argv {
		if name, ok := strings.CutPrefix(a, "$"); ok && envName(strings.TrimSuffix(strings.TrimPrefix(name, "{"), "}")) {
			if strings.HasPrefix(name, "{") {
				out = append(out, env[name[1:len(name)-1]])
			} else {
				out = append(out, strings.Fields(env[name])...)
			}
			continue
		}
		if strings.Contains(a, "$") || strings.Contains(a, "%") {
			return nil, fmt.Errorf("%s: ExecStart word %q uses variables or specifiers this test does not expand", u.name, a)
		}
		out = append(out, a)
	}
	return out, nil
}

// environment reads the unit's EnvironmentFile= files from the node's root
// as systemd does ("-": a missing file is no error; a later file wins), for
// what kubebake writes: comments, NAME=value with the value plain or in
// double quotes, nothing escaped. Anything else fails the test.
func (u *systemdUnit) environment() (map[string]string, error) {
	env := map[string]string{}
	for _, v := range u.values("Service", "EnvironmentFile") {
		p, optional := strings.CutPrefix(v, "-")
		data, err := os.ReadFile(filepath.Join(u.root, p))
		if err != nil {
			if optional && os.IsNotExist(err) {
				continue
			}
			return nil, fmt.Errorf("%s: EnvironmentFile=%s: %v", u.name, v, err)
		}
		for _, line := range strings.Split(string(data), "\n") {
			line = strings.TrimSpace(line)
			if line == "" || line[0] == '#' || line[0] == ';' {
				continue
			}
			name, val, ok := strings.Cut(line, "=")
			if q := len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"'; q {
				val = val[1 : len(val)-1]
			}
			if !ok || !envName(name) || strings.ContainsAny(val, "\"'\\$`") {
				return nil, fmt.Errorf("%s: %s: line %q is more than this test reads", u.name, p, line)
			}
			env[name] = val
		}
	}
	return env, nil
}

func envName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for _, r := range s {
		if r != '_' && (r < 'A' || r > 'Z') && (r < 'a' || r > 'z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// splitCommandLine splits a systemd command line into words: white space
// separates, double and single quotes group, backslash escapes.
func splitCommandLine(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case r == '\\' && i+1 < len(rs):
			i++
			cur.WriteRune(rs[i])
			inWord = true
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '"' || r == '\'':
			quote, inWord = r, true
		case r == ' ' || r == '\t' || r == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated %c quote", quote)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// flagValue returns the value of --name=value (or --name value) in argv.
func flagValue(argv []string, name string) (string, bool) {
	for i, a := range argv {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v, true
		}
		if a == "--"+name && i+1 < len(argv) {
			return argv[i+1], true
		}
	}
	return "", false
}
