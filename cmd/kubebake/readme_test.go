package main

import (
	"bytes"
	"os"
	"strings"
	"testing"

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
	metas := append(spec.Options.Metas(), clusterOptions.Metas()...)
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
