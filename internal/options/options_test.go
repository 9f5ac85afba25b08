package options

import (
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"
)

type vals struct {
	Name  string
	List  []string
	N     int32
	On    bool
	Wait  time.Duration
	Color string
}

var table = Table[vals]{
	{Meta: Meta{Name: "name", Config: true, Path: true, Commands: []string{"c"}}, Field: func(v *vals) any { return &v.Name }},
	{Meta: Meta{Name: "list", Config: true, Commands: []string{"c"}, Default: "a,b"}, Field: func(v *vals) any { return &v.List }},
	{Meta: Meta{Name: "n", Config: true, Commands: []string{"c"}, Default: "7"}, Field: func(v *vals) any { return &v.N }},
	{Meta: Meta{Name: "on", Config: true, Commands: []string{"c"}}, Field: func(v *vals) any { return &v.On }},
	{Meta: Meta{Name: "wait", Config: true, Commands: []string{"c"}, Default: "1m"}, Field: func(v *vals) any { return &v.Wait }},
	{Meta: Meta{Name: "color", Config: true, Commands: []string{"other"}, Values: []string{"red", "blue"}}, Field: func(v *vals) any { return &v.Color }},
}

// parsed is tbl's options of command c after parsing args as flags.
func parsed[T any](tbl Table[T], args []string) (*T, *Set, error) {
	var v T
	s := NewSet("c", tbl.Metas(), Bind(tbl, &v, "c"))
	fs := pflag.NewFlagSet("c", pflag.ContinueOnError)
	s.AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		return nil, nil, FlagError(err)
	}
	s.FromFlags(fs)
	return &v, s, nil
}

func load(t *testing.T, args []string, file string) (*vals, *Set, error) {
	t.Helper()
	v, s, err := parsed(table, args)
	if err != nil {
		return nil, nil, err
	}
	if file != "" {
		f, err := ParseFile("dir/c.yaml", []byte(file))
		if err != nil {
			return nil, nil, err
		}
		if err := s.Apply(f, nil); err != nil {
			return nil, nil, err
		}
	}
	s.Defaults()
	return v, s, Check(s.Bindings(), s.Given)
}

func TestPrecedence(t *testing.T) {
	// Flag (even at the default value) > file > default; a scalar is a
	// one-item list; paths are relative to the file; another command's
	// key is ignored.
	v, s, err := load(t, []string{"--n", "7", "--on"}, "n: 3\nlist: x\nname: f.txt\nwait: 5s\ncolor: red\n")
	if err != nil {
		t.Fatal(err)
	}
	if v.N != 7 || !v.On || strings.Join(v.List, ",") != "x" || v.Name != "dir/f.txt" || v.Wait != 5*time.Second || v.Color != "" {
		t.Errorf("got %+v", v)
	}
	if s.Given.Where("n") != "--n" || s.Given.Where("list") != "dir/c.yaml:2: list" {
		t.Errorf("given %v", s.Given)
	}
	v, _, _ = load(t, nil, "")
	if v.N != 7 || strings.Join(v.List, ",") != "a,b" || v.Wait != time.Minute {
		t.Errorf("defaults: %+v", v)
	}
}

func TestErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		file string
		want string
	}{
		{[]string{"--n", "x"}, "", `--n: "x" is not a whole number`},
		{[]string{"--wait", "soon"}, "", `--wait: "soon" is not a duration`},
		{[]string{"--name", ""}, "", "--name: is empty"},
		{nil, "n: [1]", "dir/c.yaml:1: n: want a single value, not a list"},
		{nil, "n:\n", "dir/c.yaml:1: n: is empty"},
		{nil, "name: a\nname: b\n", "dir/c.yaml:2: name: given twice (first on line 1)"},
		{nil, "nme: a\n", "dir/c.yaml:1: nme: unknown key (did you mean name?)"},
		{nil, "- a\n", "dir/c.yaml:1: want a mapping"},
		{nil, "a: 1\n---\nb: 2\n", "dir/c.yaml:2: a second YAML document"},
	} {
		_, _, err := load(t, c.args, c.file)
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%v %q: got %v, want %q...", c.args, c.file, err, c.want)
		}
	}
}

func TestValuesAndDuplicateKey(t *testing.T) {
	m := &table[5].Meta
	c := "green"
	if err := CheckValue(m, &c, true, "--color"); err == nil || err.Error() != `--color: "green" is not one of [red blue]` {
		t.Errorf("enum: %v", err)
	}
	f, _ := ParseFile("k.yaml", []byte("a:\n  b: 1\n  b: 2\n"))
	if err := DuplicateKey(f.Root); err == nil || err.Error() != "line 3: b is given twice (first on line 2)" {
		t.Errorf("nested duplicate: %v", err)
	}
	if got := strings.Join(SplitList([]string{"a, b", "", "c,"}), "|"); got != "a|b|c" {
		t.Errorf("SplitList: %s", got)
	}
}

// expiry is a setting given three ways, as a token's is.
type expiry struct {
	TTL    time.Duration
	Expire string
	Never  bool
}

var expiryTable = Table[expiry]{
	{Meta: Meta{Name: "ttl", OneOf: "expiry", Config: true, Commands: []string{"c"}, Default: "1h"}, Field: func(v *expiry) any { return &v.TTL }},
	{Meta: Meta{Name: "expires", OneOf: "expiry", Config: true, Commands: []string{"c"}}, Field: func(v *expiry) any { return &v.Expire }},
	{Meta: Meta{Name: "never", OneOf: "expiry", Config: true, Commands: []string{"c"}}, Field: func(v *expiry) any { return &v.Never }},
}

// levels loads the expiry from flags, then a config file (Apply), then a
// node's keys (ApplyOver), and checks it.
func levels(t *testing.T, args []string, file, node string) (*expiry, *Set, error) {
	t.Helper()
	v, s, err := parsed(expiryTable, args)
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range []struct {
		text  string
		apply func(*File, *yaml.Node) error
	}{{file, s.Apply}, {node, s.ApplyOver}} {
		if doc.text == "" {
			continue
		}
		f, err := ParseFile("f.yaml", []byte(doc.text))
		if err != nil {
			t.Fatal(err)
		}
		if err := doc.apply(f, nil); err != nil {
			return nil, nil, err
		}
	}
	s.Defaults()
	return v, s, Check(s.Bindings(), s.Given)
}

// TestOneOf: options that give one setting different ways (a token's
// expiry: a duration or a time) exclude each other at one level, and one
// given at a higher level replaces another given lower.
func TestOneOf(t *testing.T) {
	// The command line's ttl wins over the file's expires.
	v, s, err := levels(t, []string{"--ttl", "2h"}, "expires: x\n", "")
	if err != nil || v.TTL != 2*time.Hour || v.Expire != "" || s.Given.Has("expires") {
		t.Errorf("flag over file: %+v %v %v", v, s, err)
	}
	// A file's expires replaces nothing the command line did not give.
	v, _, err = levels(t, nil, "expires: x\n", "")
	if err != nil || v.Expire != "x" || v.TTL != time.Hour {
		t.Errorf("file: %+v %v", v, err)
	}
	// A node's ttl replaces the command line's expires, and its default.
	v, s, err = levels(t, []string{"--expires", "y"}, "", "ttl: 3h\n")
	if err != nil || v.TTL != 3*time.Hour || v.Expire != "" || s.Given.Has("expires") {
		t.Errorf("node over flag: %+v %v %v", v, s.Given, err)
	}
	// Two ways at one level are errors.
	if _, _, err := levels(t, nil, "ttl: 1h\nexpires: x\n", ""); err == nil || !strings.Contains(err.Error(), "f.yaml:2: expires: ttl (line 1) says the same another way") {
		t.Errorf("two in a file: %v", err)
	}
	if _, _, err := levels(t, []string{"--ttl", "1h", "--expires", "x"}, "", ""); err == nil || !strings.Contains(err.Error(), "--ttl, --expires: exclude each other") {
		t.Errorf("two flags: %v", err)
	}
}

// TestOneOfSwitchOff: a switch of a setting set to false gives no setting:
// it replaces nothing and excludes nothing.
func TestOneOfSwitchOff(t *testing.T) {
	for _, c := range []struct {
		args       []string
		file, node string
		ttl        time.Duration
		never      bool
	}{
		{[]string{"--ttl", "2h", "--never=false"}, "", "", 2 * time.Hour, false},
		{nil, "ttl: 3h\nnever: false\n", "", 3 * time.Hour, false},
		{nil, "ttl: 3h\n", "never: false\n", 3 * time.Hour, false},
		{[]string{"--ttl", "2h"}, "", "never: false\n", 2 * time.Hour, false},
		{[]string{"--ttl", "2h"}, "", "never: true\n", time.Hour, true},
	} {
		v, _, err := levels(t, c.args, c.file, c.node)
		if err != nil || v.TTL != c.ttl || v.Never != c.never {
			t.Errorf("%v %q %q: got %+v, %v; want ttl %s, never %v", c.args, c.file, c.node, v, err, c.ttl, c.never)
		}
	}
}
