package options

import (
	"errors"
	"testing"

	"github.com/kubebake/kubebake/internal/inputs"
)

// ruled is a table with a cross-option rule (wait only with on), a rule
// naming another flag, and Required options.
type ruled struct {
	On    bool
	Wait  string
	Color string
	Shape string
	Other string
}

var calls int

var ruledTable = Table[ruled]{
	{Meta: Meta{Name: "on", Config: true, Commands: []string{"c"}}, Field: func(v *ruled) any { return &v.On }},
	{Meta: Meta{Name: "wait", Config: true, Commands: []string{"c"}, Validate: func(v any) error {
		if v.(string) == "bad" {
			return errors.New("is bad")
		}
		return nil
	}}, Field: func(v *ruled) any { return &v.Wait },
		Rule: func(v *ruled, g Given) error {
			calls++
			if v.Wait != "" && !v.On {
				return errors.New("only with --on")
			}
			return nil
		}},
	{Meta: Meta{Name: "color", Config: true, Commands: []string{"c"}, Required: true, Values: []string{"red", "blue"}}, Field: func(v *ruled) any { return &v.Color }},
	{Meta: Meta{Name: "shape", Config: true, Commands: []string{"c"}, Required: true}, Field: func(v *ruled) any { return &v.Shape }},
	{Meta: Meta{Name: "other", Config: true, Commands: []string{"c"}}, Field: func(v *ruled) any { return &v.Other },
		Rule: func(v *ruled, g Given) error {
			if v.Other == "x" {
				return inputs.Errorf("--wait", "other says x")
			}
			return nil
		}},
}

func checkRuled(t *testing.T, args []string, file string) error {
	t.Helper()
	_, s, err := parsed(ruledTable, args)
	if err != nil {
		t.Fatal(err)
	}
	if file != "" {
		f, err := ParseFile("dir/c.yaml", []byte(file))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Apply(f, nil); err != nil {
			t.Fatal(err)
		}
	}
	s.Defaults()
	return Check(s.Bindings(), s.Given)
}

// TestRule: an option's Rule runs once, in Check, after every value passed
// its own checks; its error is put where the option was set (a flag, a
// config file's line), or where the flag it names was set.
func TestRule(t *testing.T) {
	base := []string{"--color", "red", "--shape", "round"}
	for _, c := range []struct {
		args  []string
		file  string
		want  string
		calls int
	}{
		{append(base, "--wait", "1m", "--on"), "", "", 1},
		{append(base, "--wait", "1m"), "", "--wait: only with --on", 1},
		{base, "wait: 1m\n", "dir/c.yaml:1: wait: only with --on", 1},
		{append(base, "--wait", "bad"), "", "--wait: is bad", 0},
		{base, "on: true\nwait: 1m\nother: x\n", "dir/c.yaml:2: wait: other says x", 1},
	} {
		calls = 0
		err := checkRuled(t, c.args, c.file)
		got := ""
		if err != nil {
			got = err.Error()
			var ie *inputs.Error
			if !errors.As(err, &ie) {
				t.Errorf("%v %q: %T is not an *inputs.Error", c.args, c.file, err)
			}
		}
		if got != c.want || calls != c.calls {
			t.Errorf("%v %q: error %q after %d rule calls, want %q after %d", c.args, c.file, got, calls, c.want, c.calls)
		}
	}
}

// TestRequired: a Required option with no value is an error even when not
// given; with Values, the error lists them.
func TestRequired(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--shape", "round"}, "--color: is empty: want one of [red blue]"},
		{[]string{"--color", "blue"}, "--shape: is empty"},
		{[]string{"--color", "blue", "--shape", ""}, "--shape: is empty: give a value, or leave it out for the default"},
	} {
		if err := checkRuled(t, c.args, ""); err == nil || err.Error() != c.want {
			t.Errorf("%v: got %v, want %q", c.args, err, c.want)
		}
	}
}
