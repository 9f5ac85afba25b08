package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/kubebake/kubebake/render/spec"
	"github.com/kubebake/kubebake/render/write"
)

// The reports of check and apply: typed values, marshalled as JSON, or
// written as text.

// Marshal is a report as --format says: v as indented JSON and a newline
// for "json", else what text writes.
func Marshal(format string, v any, text func(w io.Writer)) ([]byte, error) {
	if format == "json" {
		out, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return nil, err
		}
		return append(out, '\n'), nil
	}
	var b strings.Builder
	text(&b)
	return []byte(b.String()), nil
}

// WriteText writes the report as a checklist, a fix under every failure.
func (r *Report) WriteText(w io.Writer) {
	for _, c := range r.Checks {
		mark := map[Status]string{Pass: "✓", Fail: "✗", Skip: "-", Warn: "!"}[c.Status]
		fmt.Fprintf(w, "%s %s: %s\n", mark, c.ID, c.Message)
		if c.Fix != "" {
			fmt.Fprintf(w, "    fix: %s\n", c.Fix)
		}
	}
	if r.OK {
		fmt.Fprintln(w, "ready: nodes baked with this token and CA can join")
	}
}

// TokenReport is check's report of one token of a fleet.
type TokenReport struct {
	Token string   `json:"token"`
	Nodes []string `json:"nodes"`
	*Report
}

// FleetReport is check's report of every token of a fleet.
type FleetReport struct {
	OK     bool          `json:"ok"`
	Tokens []TokenReport `json:"tokens"`
	// Checks and Failed count the checks of every token, and the failed.
	Checks int `json:"-"`
	Failed int `json:"-"`
}

// CheckFleet checks every pool's token and endpoints with s. Each request
// has its own deadline (s.Timeout for an endpoint): a slow endpoint must
// not starve the rest.
func CheckFleet(ctx context.Context, api API, s CheckSpec, pools []*Pool) *FleetReport {
	fr := &FleetReport{OK: true}
	for _, p := range pools {
		s.Token, s.Endpoints = p.Token, p.Endpoints
		r := Check(ctx, api, s)
		fr.Tokens = append(fr.Tokens, TokenReport{Token: p.Token.ID(), Nodes: p.Nodes, Report: r})
		fr.OK = fr.OK && r.OK
		for _, ch := range r.Checks {
			fr.Checks++
			if ch.Status == Fail {
				fr.Failed++
			}
		}
	}
	return fr
}

// FailedTokens are the ids of the tokens not ready.
func (fr *FleetReport) FailedTokens() []string {
	var ids []string
	for _, r := range fr.Tokens {
		if !r.OK {
			ids = append(ids, r.Token)
		}
	}
	return ids
}

// Document is what check prints: the one token's report, or with fleet
// (a nodes file) every token's.
func (fr *FleetReport) Document(fleet bool) any {
	if fleet {
		return fr
	}
	return fr.Tokens[0].Report
}

// Err is what check exits 1 with when a token is not ready; nil when
// every one is.
func (fr *FleetReport) Err(fleet bool) error {
	failed := fr.FailedTokens()
	switch {
	case len(failed) == 0:
		return nil
	case fleet:
		return fmt.Errorf("%d of %d tokens of the fleet are not ready: %s", len(failed), len(fr.Tokens), strings.Join(failed, ", "))
	}
	return fmt.Errorf("%d of %d checks failed: the cluster is not ready for nodes with token %s", fr.Failed, fr.Checks, failed[0])
}

// WriteText writes every token's checklist, each under a line naming the
// token and its nodes when fleet is set.
func (fr *FleetReport) WriteText(w io.Writer, fleet bool) {
	for i, r := range fr.Tokens {
		if fleet {
			fmt.Fprintf(w, "%stoken %s (%s: %s)\n", map[bool]string{true: "\n"}[i > 0], r.Token, write.Plural(len(r.Nodes), "node"), write.ShortList(r.Nodes, 5))
		}
		r.WriteText(w)
	}
}

// ApplyReport is what apply did; in JSON it holds the error too, so that
// automation reading only the report sees the failure.
type ApplyReport struct {
	Server  string   `json:"server"`
	DryRun  bool     `json:"dryRun"`
	Changes []Change `json:"changes"`
	Error   string   `json:"error,omitempty"`
}

// WriteText writes a change a line.
func (r *ApplyReport) WriteText(w io.Writer) {
	for _, ch := range r.Changes {
		fmt.Fprintf(w, "%s%s\n", ch, map[bool]string{true: " (dry run)"}[r.DryRun])
	}
}

// FixCommand is the kubebake apply command line check's fixes suggest: the
// same inputs as the command line gave them (a config or nodes file gives
// apply the rest), the token by file only (a secret on a command line ends
// in shell history). kubeconfig is the --kubeconfig given, if any.
func FixCommand(kubeconfig string, in *spec.Inputs) string {
	parts := []string{"kubebake apply"}
	if in.Nodes != "" {
		parts = append(parts, "--nodes "+in.Nodes)
	}
	if in.ConfigFile != "" {
		parts = append(parts, "--config "+in.ConfigFile)
	}
	files := in.ConfigFile != "" || in.Nodes != ""
	byFlag := func(name string) bool {
		return !files || in.Given.Has(name) && strings.HasPrefix(in.Given.Where(name), "--")
	}
	if kubeconfig != "" && byFlag("kubeconfig") {
		parts = append(parts, "--kubeconfig "+kubeconfig)
	}
	switch {
	case in.TokenFile == "" && !files:
		parts = append(parts, "--token-file FILE")
	case in.TokenFile != "" && byFlag("token-file"):
		parts = append(parts, "--token-file "+in.TokenFile)
	}
	for _, a := range in.CA {
		if byFlag("ca") {
			parts = append(parts, "--ca "+a)
		}
	}
	if len(in.APIServer) == 0 && !files {
		parts = append(parts, "--api-server ADDRESS")
	}
	for _, a := range in.APIServer {
		if byFlag("api-server") {
			parts = append(parts, "--api-server "+a)
		}
	}
	return strings.Join(parts, " ")
}
