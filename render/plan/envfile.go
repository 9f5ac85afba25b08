package plan

import (
	"bytes"
	"fmt"
	"strings"
)

// envVar is one assignment of a systemd environment file (EnvironmentFile=):
// a variable whose value is a list of words. A unit's command line that
// names it unbraced ($NAME) gets the words as separate arguments (systemd
// splits the value at white space), and none when the file or the variable
// is missing.
type envVar struct {
	Name  string
	Words []string
}

// maxArgString is the longest string Linux passes to a program, as an
// argument or as an environment entry (MAX_ARG_STRLEN, 32 pages, with its
// NUL): the kubelet gets each variable in its environment and each word as
// an argument, so no assignment may be longer.
const maxArgString = 32*4096 - 1

// marshalEnvFile writes vars as a systemd environment file after comment
// lines, each value double-quoted as kubeadm writes kubeadm-flags.env (a
// shell reads it the same). systemd reads such a file whole, with no line
// length limit (unlike a unit file's 2,048 bytes a line).
//
// Only what needs no escaping in systemd's parser, in a shell, or when
// systemd splits the value into arguments is written: names of letters,
// digits and underscores, words of letters, digits and -_.,/=:@+ (what
// labels, paths and flags are made of). Anything else, an empty word, or an
// assignment too long for the kernel is refused: the values were validated
// before they got here, so a refusal is a bug to report, never output.
func marshalEnvFile(comment string, vars []envVar) ([]byte, error) {
	var b bytes.Buffer
	for _, line := range strings.Split(comment, "\n") {
		if strings.IndexFunc(line, func(r rune) bool { return r < ' ' || r == 0x7f }) >= 0 {
			return nil, fmt.Errorf("environment file comment %q holds a control character", line)
		}
		b.WriteString("# " + line + "\n")
	}
	seen := map[string]bool{}
	for _, v := range vars {
		if !envName(v.Name) {
			return nil, fmt.Errorf("environment variable name %q: want letters, digits and _, not starting with a digit", v.Name)
		}
		if seen[v.Name] {
			return nil, fmt.Errorf("environment variable %s given twice", v.Name)
		}
		seen[v.Name] = true
		for _, w := range v.Words {
			if w == "" {
				return nil, fmt.Errorf("%s: an empty word would be lost when systemd splits the value", v.Name)
			}
			if i := strings.IndexFunc(w, func(r rune) bool { return !envWordRune(r) }); i >= 0 {
				return nil, fmt.Errorf("%s: %q holds %q, which an environment file would need to escape", v.Name, w, w[i:i+1])
			}
		}
		value := strings.Join(v.Words, " ")
		// The kubelet's environment holds NAME=value.
		if n := len(v.Name) + 1 + len(value); n > maxArgString {
			return nil, fmt.Errorf("%s: %d bytes, more than Linux passes to a program in one string (%d)", v.Name, n, maxArgString)
		}
		b.WriteString(v.Name + `="` + value + `"` + "\n")
	}
	return b.Bytes(), nil
}

func envName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

func envWordRune(r rune) bool {
	return r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.,/=:@+", r)
}
