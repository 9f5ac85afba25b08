package spec

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"

	butane "github.com/coreos/butane/config"
	"github.com/coreos/butane/config/common"
	v34 "github.com/coreos/ignition/v2/config/v3_4"
	v35 "github.com/coreos/ignition/v2/config/v3_5"
	"github.com/coreos/vcontext/report"
	"github.com/kubebake/kubebake/internal/inputs"
)

// mergeReport reads the --merge file's own report, as butane (for a Butane
// config) or Ignition's parser (for Ignition JSON) makes it, on the user's
// file alone: every entry names that file's line and column. Warnings are
// returned (with strict, they are errors, as butane --strict has it);
// errors are one *inputs.Error, a line per entry. A file neither tool can
// read at all is left to the emitter, which says so.
func mergeReport(s *Spec, strict bool) ([]Warning, error) {
	u := s.Merge
	if u == nil || !s.Info().Variant { // only Ignition and Butane output merge Ignition
		return nil, nil
	}
	var rpt report.Report
	if bytes.HasPrefix(bytes.TrimSpace(u.Data), []byte("{")) {
		// At the version the emitter merges it at (see emit.mergeIgnition).
		if s.Variant == VariantFlatcar {
			_, rpt, _ = v34.ParseCompatibleVersion(u.Data)
		} else {
			_, rpt, _ = v35.ParseCompatibleVersion(u.Data)
		}
	} else {
		_, rpt, _ = butane.TranslateBytes(u.Data, common.TranslateBytesOptions{})
	}
	var warns []Warning
	var lines []string
	fatal := false
	for _, e := range rpt.Entries {
		kind := "warning"
		if e.Kind.IsFatal() || (strict && e.Kind == report.Warn) {
			kind, fatal = "error", true
		} else if e.Kind != report.Warn {
			continue // Ignition's info and deprecation notes
		}
		lines = append(lines, reportLine(u.Name, e, kind))
		if kind == "warning" {
			warns = append(warns, Warning(lines[len(lines)-1]))
		}
	}
	if !fatal {
		return warns, nil
	}
	if strict && !rpt.IsFatal() {
		lines = append(lines, "--strict: warnings about "+u.Name+" are errors")
	}
	// inputs.Error prints Field + ": " + Msg: the first entry's place is
	// the field; the rest of it, and every other entry a line each, the
	// message.
	field, msg, _ := strings.Cut(lines[0], ": ")
	return nil, &inputs.Error{Field: field, Msg: strings.Join(append([]string{msg}, lines[1:]...), "\n")}
}

// reportLine is one report entry as compilers write them:
// FILE:LINE:COL: KIND: MESSAGE (at PATH), the place in the user's file.
func reportLine(name string, e report.Entry, kind string) string {
	where := name
	if p := e.Marker.StartP; p != nil && p.Line > 0 {
		where = fmt.Sprintf("%s:%d:%d", name, p.Line, p.Column)
	}
	at := ""
	if e.Context.Len() > 0 {
		at = " (at " + e.Context.String() + ")"
	}
	return fmt.Sprintf("%s: %s: %s%s", where, kind, e.Message, at)
}

// Line is the warning as the CLI prints it after its "kubebake CMD: ": a
// report entry of a --merge file carries its place and kind already.
func (w Warning) Line() string {
	if reportWarning.MatchString(string(w)) {
		return string(w)
	}
	return "warning: " + string(w)
}

// reportWarning matches a warning made by reportLine.
var reportWarning = regexp.MustCompile(`^[^\n]*: warning: `)
