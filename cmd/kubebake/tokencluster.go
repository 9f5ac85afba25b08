package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/kubebake/kubebake/cluster"
	"github.com/kubebake/kubebake/internal/options"
)

// The token subcommands that talk to the cluster, as option tables name
// them.
const (
	cmdTokenList   = "token list"
	cmdTokenDelete = "token delete"
	cmdTokenPrune  = "token prune"
)

var tokenCommands = map[string]func(*cliEnv, []string) error{
	"list":   runTokenList,
	"delete": runTokenDelete,
	"prune":  runTokenPrune,
}

// tokenOpts are the token subcommands' own options (not in --config: what
// to print and whether to change anything are said each time).
type tokenOpts struct {
	Format string
	DryRun bool
	Watch  bool
}

var tokenOptions = options.Table[tokenOpts]{
	{Meta: options.Meta{Name: "format", Arg: "FORMAT", Commands: []string{cmdTokenList, cmdTokenDelete, cmdTokenPrune}, Default: "text", Values: []string{"text", "json"},
		NotInConfig: "what to print is said each time", Help: "text, or json for automation"},
		Field: func(o *tokenOpts) any { return &o.Format }},
	{Meta: options.Meta{Name: "dry-run", Commands: []string{cmdTokenPrune}, NotInConfig: "say it on the command line, each time",
		Help: "say what would be deleted, and delete nothing"},
		Field: func(o *tokenOpts) any { return &o.DryRun }},
	{Meta: options.Meta{Name: "watch", Commands: []string{cmdTokenPrune}, NotInConfig: "say it on the command line, each time",
		Help: "keep pruning: watch CertificateSigningRequests and delete a token seconds after the approval that reached its max-joins (until interrupted)"},
		Field: func(o *tokenOpts) any { return &o.Watch }},
}

const tokenListUsage = `token list [--kubeconfig FILE] [--format text|json]

Lists the cluster's bootstrap tokens as kubeadm token list does, without
their secrets, and for each: whether kubebake made it, its description, expiry,
usages, groups, its joins (the distinct nodes whose kubelet client
certificate was approved for a request made with the token) and last join,
and its max-joins. The controller manager deletes approved CSRs after an
hour, so joins older than that are not counted (kubebake token prune --watch
counts every join it sees).

Flags:`

const tokenDeleteUsage = `token delete ID... [--kubeconfig FILE]

Deletes the tokens with these ids (the 6 characters before the dot), made
by kubebake or not. Nodes that joined keep working: kubelets renew with their
own certificates. Nothing is deleted when one id does not exist.

Flags:`

const tokenPruneUsage = `token prune [--dry-run] [--watch] [--kubeconfig FILE] [--format text|json]

Deletes the tokens kubebake made whose joins reached their max-joins
(kubebake manifests/apply --max-joins, or max-joins: in a nodes file), and
says for every token what it did and why. A token kubebake did not make is
never pruned (delete it by name). With --watch it keeps running, watching
CertificateSigningRequests, and deletes a token seconds after the approval
that reached its limit. A limit cannot stop nodes that join at the same time
as the last allowed one: see the README.

Its rights: list and delete Secrets in kube-system, list and watch
CertificateSigningRequests. kubebake manifests --pruner-image IMAGE prints a
ServiceAccount, that least RBAC and a Deployment running it in the cluster.

Flags:`

// tokenCmd parses a token subcommand's flags.
func tokenCmd(env *cliEnv, name, usage string, args []string, wantArgs bool) (*clusterOpts, *tokenOpts, []string, error) {
	fs := newFlagSet(env, name, usage)
	co, to := &clusterOpts{}, &tokenOpts{}
	set := options.NewSet(name, nil, options.Bind(clusterOptions, co, name), options.Bind(tokenOptions, to, name))
	set.AddFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return nil, nil, nil, err
	}
	if !wantArgs {
		if err := noArgs(fs); err != nil {
			return nil, nil, nil, err
		}
	}
	set.FromFlags(fs)
	if err := set.Defaults(); err != nil {
		return nil, nil, nil, err
	}
	if err := options.Check(set.Bindings(), set.Given); err != nil {
		return nil, nil, nil, asUsage(err)
	}
	return co, to, fs.Args(), nil
}

func tokenAPI(env *cliEnv, co *clusterOpts) (cluster.TokenAPI, error) {
	c, err := client(env, co)
	if err != nil {
		return nil, err
	}
	return c.TokenAPI(), nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func runTokenList(env *cliEnv, args []string) error {
	co, to, _, err := tokenCmd(env, cmdTokenList, tokenListUsage, args, false)
	if err != nil {
		return err
	}
	api, err := tokenAPI(env, co)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), co.Timeout)
	defer cancel()
	list, err := cluster.ListTokens(ctx, api, time.Now())
	if err != nil {
		return clusterError(err, co.Timeout)
	}
	if to.Format == "json" {
		return printJSON(env.stdout, struct {
			Tokens []cluster.TokenInfo `json:"tokens"`
		}{list})
	}
	writeTokenTable(env.stdout, list, time.Now())
	return nil
}

// writeTokenTable prints tokens as kubeadm token list does, with
// kubebake's columns after its own.
func writeTokenTable(w io.Writer, list []cluster.TokenInfo, now time.Time) {
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

func runTokenDelete(env *cliEnv, args []string) error {
	co, to, ids, err := tokenCmd(env, cmdTokenDelete, tokenDeleteUsage, args, true)
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		return usageErrorf("give the ids of the tokens to delete (kubebake token list shows them)")
	}
	if err := cluster.CheckTokenIDs(ids); err != nil {
		return usageErrorf("%v", err)
	}
	api, err := tokenAPI(env, co)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), co.Timeout)
	defer cancel()
	deleted, err := cluster.DeleteTokens(ctx, api, ids)
	if nst := (*cluster.NoSuchTokenError)(nil); errors.As(err, &nst) {
		return usageErrorf("%v", err)
	}
	if to.Format == "json" {
		if deleted == nil {
			deleted = []string{}
		}
		if werr := printJSON(env.stdout, struct {
			Deleted []string `json:"deleted"`
			Error   string   `json:"error,omitempty"`
		}{deleted, errString(err)}); werr != nil {
			return werr
		}
	} else {
		for _, id := range deleted {
			fmt.Fprintf(env.stdout, "deleted %s\n", id)
		}
	}
	if err != nil {
		return clusterError(err, co.Timeout)
	}
	return nil
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func runTokenPrune(env *cliEnv, args []string) error {
	co, to, _, err := tokenCmd(env, cmdTokenPrune, tokenPruneUsage, args, false)
	if err != nil {
		return err
	}
	api, err := tokenAPI(env, co)
	if err != nil {
		return err
	}
	if to.Watch {
		return pruneWatch(env, api, co, to)
	}
	ctx, cancel := context.WithTimeout(context.Background(), co.Timeout)
	defer cancel()
	ds, err := cluster.Prune(ctx, api, cluster.PruneOptions{DryRun: to.DryRun})
	if to.Format == "json" {
		if ds == nil {
			ds = []cluster.Decision{}
		}
		if werr := printJSON(env.stdout, struct {
			DryRun    bool               `json:"dryRun"`
			Decisions []cluster.Decision `json:"decisions"`
			Error     string             `json:"error,omitempty"`
		}{to.DryRun, ds, errString(err)}); werr != nil {
			return werr
		}
	} else {
		for _, d := range ds {
			fmt.Fprintln(env.stdout, d)
		}
	}
	if err != nil {
		return clusterError(err, co.Timeout)
	}
	return nil
}

// pruneWatch runs until SIGINT or SIGTERM, printing each decision as it
// changes (one JSON object a line with --format json).
func pruneWatch(env *cliEnv, api cluster.TokenAPI, co *clusterOpts, to *tokenOpts) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	enc := json.NewEncoder(env.stdout)
	report := func(d cluster.Decision) {
		if to.Format == "json" {
			enc.Encode(struct {
				Time time.Time `json:"time"`
				cluster.Decision
			}{time.Now().UTC(), d})
			return
		}
		fmt.Fprintf(env.stdout, "%s %s\n", time.Now().UTC().Format(time.RFC3339), d)
	}
	warn := func(err error) {
		fmt.Fprintf(env.stderr, "kubebake token prune: %v\n", clusterError(err, co.Timeout))
	}
	return cluster.PruneWatch(ctx, api, cluster.WatchOptions{
		PruneOptions: cluster.PruneOptions{DryRun: to.DryRun}, Report: report, Warn: warn,
	})
}
