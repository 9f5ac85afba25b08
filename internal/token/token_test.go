package token

import (
	"fmt"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	good := []string{"abcdef.0123456789abcdef", "07401b.f395accd246ae52d"}
	for _, s := range good {
		tok, err := Parse(s)
		if err != nil || tok.Value() != s || tok.ID() != s[:6] || tok.Secret() != s[7:] {
			t.Errorf("Parse(%q) = %v, %v", s, tok, err)
		}
	}
	bad := []string{"", "abcdef", "ABCDEF.0123456789abcdef", "abcdef.0123456789abcde", "abcdef.0123456789abcdef0",
		" abcdef.0123456789abcdef", "abcdef.0123456789abcdef\n", "abcde.f0123456789abcdef", "abcdef:0123456789abcdef"}
	for _, s := range bad {
		if _, err := Parse(s); err == nil {
			t.Errorf("Parse(%q) accepted", s)
		} else if len(s) > 10 && strings.Contains(err.Error(), s[7:]) {
			t.Errorf("Parse(%q) quotes the secret: %v", s, err)
		}
	}
}

func TestParseFile(t *testing.T) {
	for in, ok := range map[string]bool{
		"abcdef.0123456789abcdef\n":                            true,
		"abcdef.0123456789abcdef":                              true,
		"abcdef.0123456789abcdef\r\n":                          true,
		"abcdef.0123456789abcdef\n\n":                          true, // a trailing blank line (issue 17)
		"abcdef.0123456789abcdef\n \n\r\n":                     true,
		"\nabcdef.0123456789abcdef":                            false,
		"abcdef.0123456789abcdef\n\nabcdef.0123456789abcdef\n": false,
		"abcdef.0123456789abcdef\nx":                           false,
		"":                                                     false,
	} {
		if _, err := ParseFile([]byte(in)); (err == nil) != ok {
			t.Errorf("ParseFile(%q): err %v, want ok=%v", in, err, ok)
		}
	}
}

func TestNeverPrintsSecret(t *testing.T) {
	tok, _ := Parse("abcdef.0123456789abcdef")
	for _, s := range []string{tok.String(), fmt.Sprint(tok), fmt.Sprintf("%v %+v %#v %s", tok, tok, tok, tok)} {
		if strings.Contains(s, "0123456789abcdef") {
			t.Errorf("printed the secret: %s", s)
		}
	}
}

func TestGenerate(t *testing.T) {
	seen := map[string]bool{}
	counts := map[rune]int{}
	for i := 0; i < 2000; i++ {
		tok, err := Generate()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(tok.Value()); err != nil {
			t.Fatalf("generated %s does not parse: %v", tok, err)
		}
		if seen[tok.Value()] {
			t.Fatalf("generated the same token twice")
		}
		seen[tok.Value()] = true
		for _, r := range tok.Value() {
			counts[r]++
		}
		if !tok.Equal(tok) {
			t.Fatal("a token must equal itself")
		}
	}
	// 44,000 characters over 36 letters: each near 1,222; no character is missing or dominant.
	for _, r := range alphabet {
		if counts[r] < 900 || counts[r] > 1600 {
			t.Errorf("character %q drawn %d times: not uniform", r, counts[r])
		}
	}
}
