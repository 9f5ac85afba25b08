package cluster

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// The token commands' reports: typed values marshalled as JSON
// (--format json), or text.

// WriteJSON writes v as indented JSON and a newline.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// WriteTokenList writes token list's report: a table as kubeadm token list
// prints it, or {"tokens": [...]} with format json.
func WriteTokenList(w io.Writer, format string, list []TokenInfo, now time.Time) error {
	if format == "json" {
		return WriteJSON(w, struct {
			Tokens []TokenInfo `json:"tokens"`
		}{list})
	}
	writeTokenTable(w, list, now)
	return nil
}

// writeTokenTable prints tokens as kubeadm token list does, with
// kubebake's columns after its own.
func writeTokenTable(w io.Writer, list []TokenInfo, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTTL\tEXPIRES\tUSAGES\tDESCRIPTION\tEXTRA GROUPS\tKUBEBAKE\tJOINS\tMAX JOINS\tLAST JOIN")
	dash := func(s string) string {
		if s == "" {
			return "<none>"
		}
		return s
	}
	for _, t := range list {
		ttl, exp := "<forever>", "<never>"
		if t.Expires != nil {
			exp = t.Expires.Format(time.RFC3339)
			ttl = "<expired>"
			if !t.Expired {
				ttl = shortDuration(t.Expires.Sub(now))
			}
		}
		maxJoins, last, made := "-", "-", "no"
		if t.MaxJoins > 0 {
			maxJoins = fmt.Sprint(t.MaxJoins)
		}
		if t.LastJoin != nil {
			last = t.LastJoin.Format(time.RFC3339)
		}
		if t.Kubebake {
			made = "yes"
		}
		desc := strings.ReplaceAll(dash(t.Description), "\t", " ")
		if t.Problem != "" {
			desc += " (" + t.Problem + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", t.ID, ttl, exp, dash(strings.Join(t.Usages, ",")), desc,
			strings.Join(t.Groups[1:], ","), made, t.Joins, maxJoins, last)
	}
	tw.Flush()
}

// shortDuration is 23h, 6d, 45m: as kubeadm shows a TTL.
func shortDuration(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	case d >= time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	case d >= time.Minute:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	}
	return fmt.Sprintf("%ds", int(d.Seconds()))
}

// WriteDeleted writes token delete's report: the ids deleted (one line
// each), or {"deleted": [...], "error": ...} with format json.
func WriteDeleted(w io.Writer, format string, deleted []string, err error) error {
	if format == "json" {
		if deleted == nil {
			deleted = []string{}
		}
		return WriteJSON(w, struct {
			Deleted []string `json:"deleted"`
			Error   string   `json:"error,omitempty"`
		}{deleted, errString(err)})
	}
	for _, id := range deleted {
		fmt.Fprintf(w, "deleted %s\n", id)
	}
	return nil
}

// WritePruned writes token prune's report: a decision a line, or
// {"dryRun": ..., "decisions": [...], "error": ...} with format json.
func WritePruned(w io.Writer, format string, dryRun bool, ds []Decision, err error) error {
	if format == "json" {
		if ds == nil {
			ds = []Decision{}
		}
		return WriteJSON(w, struct {
			DryRun    bool       `json:"dryRun"`
			Decisions []Decision `json:"decisions"`
			Error     string     `json:"error,omitempty"`
		}{dryRun, ds, errString(err)})
	}
	for _, d := range ds {
		fmt.Fprintln(w, d)
	}
	return nil
}

// DecisionReporter is token prune --watch's report of each decision as it
// changes: the time and the decision a line, or one JSON object a line
// with format json.
func DecisionReporter(w io.Writer, format string) func(Decision) {
	enc := json.NewEncoder(w)
	return func(d Decision) {
		if format == "json" {
			enc.Encode(struct {
				Time time.Time `json:"time"`
				Decision
			}{time.Now().UTC(), d})
			return
		}
		fmt.Fprintf(w, "%s %s\n", time.Now().UTC().Format(time.RFC3339), d)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
