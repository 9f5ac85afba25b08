package main

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The README's exit-status table, the unit's RestartPreventExitStatus= and
// --help agree on which statuses are final.
func TestExitStatusesAgree(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var final, all []string
	for _, m := range regexp.MustCompile(`(?m)^\| ([0-9]+) \| .* \| (final|restarted|done) \|$`).FindAllStringSubmatch(string(readme), -1) {
		all = append(all, m[1])
		if m[2] == "final" {
			final = append(final, m[1])
		}
	}
	if strings.Join(all, " ") != "0 1 2 3 4 78" {
		t.Fatalf("the README's exit-status table lists %v, want 0 to 4 and 78", all)
	}
	// Go exits 2 when it crashes: that must never be final.
	if slices.Contains(final, "2") {
		t.Errorf("exit 2, Go's status for a crash, is final")
	}
	unit, err := os.ReadFile("../../templates/units/kubebake-join.service")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^RestartPreventExitStatus=(.*)$`).FindStringSubmatch(string(unit))
	if m == nil {
		t.Fatal("the unit has no RestartPreventExitStatus=")
	}
	prevent := strings.Fields(m[1])
	slices.SortStableFunc(prevent, func(a, b string) int {
		if len(a) != len(b) {
			return len(a) - len(b)
		}
		return strings.Compare(a, b)
	})
	if strings.Join(prevent, " ") != strings.Join(final, " ") {
		t.Errorf("RestartPreventExitStatus=%s, but the README says %v are final", m[1], final)
	}
	for _, code := range all {
		re := regexp.MustCompile(`(?m)^  ` + code + ` +.*`)
		line := re.FindString(exitStatusHelp)
		if line == "" {
			t.Errorf("--help does not explain exit status %s", code)
			continue
		}
		entry := exitStatusHelp[strings.Index(exitStatusHelp, line):]
		if next := regexp.MustCompile(`(?m)^  [0-9]+ +`).FindAllStringIndex(entry, 2); len(next) == 2 {
			entry = entry[:next[1][0]]
		}
		if isFinal := slices.Contains(final, code); isFinal != strings.Contains(entry, "final") {
			t.Errorf("--help on exit %s (%q) disagrees with the README (final: %v)", code, entry, isFinal)
		}
	}
}
