package main

import (
	"bytes"
	"io"
	"time"

	"os"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/kubebake/kubebake/cluster"
	"github.com/kubebake/kubebake/render/spec"
	"github.com/kubebake/kubebake/test/golden"
)

const (
	readmePath  = "../../README.md"
	readmeBegin = "<!-- BEGIN options: generated from render/spec.Options and clusterOptions by `go test ./cmd/kubebake -update` -->\n"
	readmeEnd   = "<!-- END options -->\n"
)

// optionsTable is the README's table of every option, one row per entry in
// the option tables, so the README cannot drift from the flags.
func optionsTable() string {
	var b strings.Builder
	b.WriteString("| option | commands | in `--config` | default | meaning |\n| --- | --- | --- | --- | --- |\n")
	metas := append(append(append(spec.Options.Metas(), cluster.Options.Metas()...), clusterOptions.Metas()...), tokenOptions.Metas()...)
	for _, m := range metas {
		flag := "`--" + m.Name
		if m.Short != "" {
			flag = "`-" + m.Short + "`, " + flag
		}
		if m.Arg != "" {
			flag += " " + m.Arg
		}
		flag += "`"
		inConfig := "no"
		if m.Config {
			inConfig = "`" + m.Name + ":`"
		}
		def := ""
		switch {
		case m.DefaultHelp != "":
			def = m.DefaultHelp
		case m.Default != "":
			def = "`" + m.Default + "`"
		}
		doc := m.Doc
		if doc == "" {
			doc = m.Help
		}
		b.WriteString("| " + strings.Join([]string{cell(flag), strings.Join(m.Commands, ", "), inConfig, cell(def), cell(doc)}, " | ") + " |\n")
	}
	return b.String()
}

func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// TestREADMEOptions checks the README's option table against the option
// tables; -update rewrites it.
func TestREADMEOptions(t *testing.T) {
	readme, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(readme, []byte(readmeBegin))
	j := bytes.Index(readme, []byte(readmeEnd))
	if i < 0 || j < i {
		t.Fatalf("README.md has no %q ... %q section", readmeBegin, readmeEnd)
	}
	got := append(append(append([]byte{}, readme[:i+len(readmeBegin)]...), optionsTable()...), readme[j:]...)
	if golden.Updating() {
		if err := os.WriteFile(readmePath, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if !bytes.Equal(got, readme) {
		t.Errorf("README.md's option table is not the one the option tables make: run `go test ./cmd/kubebake -update` and review the diff")
	}
}

// TestREADMECommands runs the README's own command lines (its sh blocks)
// through the flags of their commands: each parses, join-binary names its
// -o, and a check's --min-ttl is shorter than the ttl apply or manifests
// gave the token earlier in the same block (720h by default): the README's
// sequence apply, then check --min-ttl 720h, always failed (issue 17).
func TestREADMECommands(t *testing.T) {
	readme, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	env := &cliEnv{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard,
		getenv: func(string) string { return "" }, flagSets: map[string]*pflag.FlagSet{}}
	inBlock, n := false, 0
	var ttl time.Duration
	lines := strings.Split(string(readme), "\n")
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		switch {
		case strings.HasPrefix(line, "```sh"):
			inBlock, ttl = true, defaultTTL
			continue
		case strings.HasPrefix(line, "```"):
			inBlock = false
		}
		if !inBlock || !strings.HasPrefix(line, "kubebake ") {
			continue
		}
		for strings.HasSuffix(line, "\\") && i+1 < len(lines) {
			i++
			line = strings.TrimSuffix(line, "\\") + " " + lines[i]
		}
		if strings.Contains(line, "...") {
			continue
		}
		line, _, _ = strings.Cut(line, "#")
		line, _, _ = strings.Cut(line, "|")
		args := strings.Fields(line)[1:]
		c, ok := commands[args[0]]
		if !ok {
			t.Errorf("README: %s: no command %q", line, args[0])
			continue
		}
		name, rest := c.name, args[1:]
		if sub, ok := tokenCommands[args[1%len(args)]]; ok && c.name == cmdToken {
			// token list, delete and prune have flag sets of their own.
			sub(env, []string{"--help"})
			name, rest = cmdToken+" "+args[1], args[2:]
		} else {
			c.run(env, []string{"--help"})
		}
		fs := env.flagSets[name]
		fs.VisitAll(func(f *pflag.Flag) { f.Value.Set(f.DefValue); f.Changed = false })
		if err := fs.Parse(rest); err != nil {
			t.Errorf("README: %s: %v", line, err)
			continue
		}
		n++
		get := func(name string) (string, bool) {
			f := fs.Lookup(name)
			return f.Value.String(), f.Changed
		}
		switch c.name {
		case "join-binary":
			if _, ok := get("output"); !ok {
				t.Errorf("README: %s: join-binary needs -o FILE (or -o - for a pipe)", line)
			}
		case "apply", "manifests":
			ttl = defaultTTL
			if v, ok := get("ttl"); ok {
				ttl, _ = time.ParseDuration(v)
			}
		case "check":
			if v, ok := get("min-ttl"); ok {
				if d, _ := time.ParseDuration(v); d >= ttl {
					t.Errorf("README: %s: --min-ttl %s fails on the token the block made, which lasts %s from when it was applied", line, d, ttl)
				}
			}
		}
	}
	if n < 5 {
		t.Errorf("found %d kubebake command lines in the README's sh blocks", n)
	}
}
