package plan

import (
	"strings"
	"testing"
)

func TestMarshalEnvFile(t *testing.T) {
	out, err := marshalEnvFile("one\ntwo", []envVar{
		{Name: "KUBELET_NODE_ARGS", Words: []string{"--node-labels=example.com/a=b,c.d/e_f=g.h-i", "--x=1:2@3+4"}},
		{Name: "_EMPTY"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "# one\n# two\nKUBELET_NODE_ARGS=\"--node-labels=example.com/a=b,c.d/e_f=g.h-i --x=1:2@3+4\"\n_EMPTY=\"\"\n"
	if string(out) != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
	// A line far over a unit file's 2,048 bytes is fine in an environment file.
	long := "--node-labels=" + strings.Repeat("a", 100_000)
	if _, err := marshalEnvFile("c", []envVar{{Name: "A", Words: []string{long}}}); err != nil {
		t.Errorf("100 kB: %v", err)
	}
}

// TestMarshalEnvFileRefuses: whatever would need escaping in systemd's
// environment file parser, a shell, or systemd's splitting of $VAR into
// arguments is refused, never written.
func TestMarshalEnvFileRefuses(t *testing.T) {
	for _, c := range []struct {
		comment string
		v       envVar
	}{
		{v: envVar{Name: "", Words: []string{"a"}}},
		{v: envVar{Name: "1A", Words: []string{"a"}}},
		{v: envVar{Name: "A-B", Words: []string{"a"}}},
		{v: envVar{Name: "A=B", Words: []string{"a"}}},
		{v: envVar{Name: "A", Words: []string{""}}},
		{v: envVar{Name: "A", Words: []string{"a b"}}},
		{v: envVar{Name: "A", Words: []string{"a\tb"}}},
		{v: envVar{Name: "A", Words: []string{"a\nB=c"}}},
		{v: envVar{Name: "A", Words: []string{`a"b`}}},
		{v: envVar{Name: "A", Words: []string{"a'b"}}},
		{v: envVar{Name: "A", Words: []string{`a\b`}}},
		{v: envVar{Name: "A", Words: []string{"$B"}}},
		{v: envVar{Name: "A", Words: []string{"${B}"}}},
		{v: envVar{Name: "A", Words: []string{"a`b`"}}},
		{v: envVar{Name: "A", Words: []string{"a;b"}}},
		{v: envVar{Name: "A", Words: []string{"#a"}}},
		{v: envVar{Name: "A", Words: []string{"%n"}}},
		{v: envVar{Name: "A", Words: []string{"é"}}},
		{v: envVar{Name: "A", Words: []string{strings.Repeat("a", maxArgString)}}},
		{comment: "a\nb\rc", v: envVar{Name: "A"}},
	} {
		if out, err := marshalEnvFile(c.comment, []envVar{c.v}); err == nil {
			t.Errorf("%q %+v: written as %q, want refused", c.comment, c.v, out)
		}
	}
	if _, err := marshalEnvFile("", []envVar{{Name: "A"}, {Name: "A"}}); err == nil {
		t.Errorf("a variable given twice: want refused")
	}
	// The longest that fits: NAME=value is what the kubelet's environment holds.
	if _, err := marshalEnvFile("", []envVar{{Name: "A", Words: []string{strings.Repeat("a", maxArgString-2)}}}); err != nil {
		t.Errorf("the longest assignment: %v", err)
	}
}
