package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
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

// tokenOptions are the token subcommands' own options (not in --config:
// what to print and whether to change anything are said each time).
var tokenOptions = options.Table[clusterOpts]{
	{Meta: options.Meta{Name: "format", Arg: "FORMAT", Commands: []string{cmdTokenList, cmdTokenDelete, cmdTokenPrune}, Default: "text", Values: []string{"text", "json"},
		NotInConfig: "what to print is said each time", Help: "text, or json for automation"},
		Field: func(o *clusterOpts) any { return &o.Format }},
	{Meta: options.Meta{Name: "dry-run", Commands: []string{cmdTokenPrune}, NotInConfig: "say it on the command line, each time",
		Help: "say what would be deleted, and delete nothing"},
		Field: func(o *clusterOpts) any { return &o.DryRun }},
	{Meta: options.Meta{Name: "watch", Commands: []string{cmdTokenPrune}, NotInConfig: "say it on the command line, each time",
		Help: "keep pruning: watch CertificateSigningRequests and delete a token seconds after the approval that reached its max-joins (until interrupted)"},
		Field: func(o *clusterOpts) any { return &o.Watch }},
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

func tokenAPI(env *cliEnv, o *cmdOptions) (cluster.TokenAPI, error) {
	c, err := client(env, o)
	if err != nil {
		return nil, err
	}
	return c.TokenAPI(), nil
}

func runTokenList(env *cliEnv, args []string) error {
	opts, err := parseCmd(env, cmdTokenList, tokenListUsage, args)
	if err != nil {
		return err
	}
	co := &opts.co
	api, err := tokenAPI(env, opts)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), co.Timeout)
	defer cancel()
	list, err := cluster.ListTokens(ctx, api, time.Now())
	if err != nil {
		return clusterError(err, co.Timeout)
	}
	return cluster.WriteTokenList(env.stdout, co.Format, list, time.Now())
}

func runTokenDelete(env *cliEnv, args []string) error {
	opts, err := parseCmd(env, cmdTokenDelete, tokenDeleteUsage, args)
	if err != nil {
		return err
	}
	co, ids := &opts.co, opts.args
	if len(ids) == 0 {
		return usageErrorf("give the ids of the tokens to delete (kubebake token list shows them)")
	}
	if err := cluster.CheckTokenIDs(ids); err != nil {
		return usageErrorf("%v", err)
	}
	api, err := tokenAPI(env, opts)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), co.Timeout)
	defer cancel()
	deleted, err := cluster.DeleteTokens(ctx, api, ids)
	if nst := (*cluster.NoSuchTokenError)(nil); errors.As(err, &nst) {
		return usageErrorf("%v", err)
	}
	if werr := cluster.WriteDeleted(env.stdout, co.Format, deleted, err); werr != nil {
		return werr
	}
	if err != nil {
		return clusterError(err, co.Timeout)
	}
	return nil
}

func runTokenPrune(env *cliEnv, args []string) error {
	opts, err := parseCmd(env, cmdTokenPrune, tokenPruneUsage, args)
	if err != nil {
		return err
	}
	co := &opts.co
	api, err := tokenAPI(env, opts)
	if err != nil {
		return err
	}
	if co.Watch {
		return pruneWatch(env, api, co)
	}
	ctx, cancel := context.WithTimeout(context.Background(), co.Timeout)
	defer cancel()
	ds, err := cluster.Prune(ctx, api, cluster.PruneOptions{DryRun: co.DryRun})
	if werr := cluster.WritePruned(env.stdout, co.Format, co.DryRun, ds, err); werr != nil {
		return werr
	}
	if err != nil {
		return clusterError(err, co.Timeout)
	}
	return nil
}

// pruneWatch runs until SIGINT or SIGTERM, printing each decision as it
// changes (one JSON object a line with --format json).
func pruneWatch(env *cliEnv, api cluster.TokenAPI, co *clusterOpts) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	warn := func(err error) {
		fmt.Fprintf(env.stderr, "kubebake token prune: %v\n", clusterError(err, co.Timeout))
	}
	return cluster.PruneWatch(ctx, api, cluster.WatchOptions{
		PruneOptions: cluster.PruneOptions{DryRun: co.DryRun}, Report: cluster.DecisionReporter(env.stdout, co.Format), Warn: warn,
	})
}
