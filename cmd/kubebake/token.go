package main

import (
	"os"

	"github.com/kubebake/kubebake/internal/token"
)

func init() {
	register(command{name: "token", summary: "bootstrap tokens: generate, list, delete, prune (token --help)", run: runToken})
}

const tokenUsage = `token generate [-o FILE]
       kubebake token list [--kubeconfig FILE] [--format text|json]
       kubebake token delete ID... [--kubeconfig FILE]
       kubebake token prune [--dry-run] [--watch] [--kubeconfig FILE] [--format text|json]

generate prints a new random bootstrap token, <id>.<secret>, read from
crypto/rand, or writes it to FILE with mode 0600, atomically (never through
the umask). An existing FILE is kept (nodes may use its token) unless --force.

list, delete and prune talk to the cluster (see kubebake token list --help).

Examples:
  kubebake token generate -o token
  kubebake render --ca ca.crt --token-file token --api-server 10.0.0.10 -o worker.ign
  kubebake token list --kubeconfig admin.conf
  kubebake token prune --watch

Flags of generate:`

func runToken(env *cliEnv, args []string) error {
	if len(args) > 0 {
		if sub, ok := tokenCommands[args[0]]; ok {
			return sub(env, args[1:])
		}
	}
	opts, err := parseCmd(env, cmdToken, tokenUsage, args)
	if err != nil {
		return err
	}
	if len(opts.args) != 1 || opts.args[0] != "generate" {
		return usageErrorf("want `kubebake token generate [-o FILE]`, or token list, delete or prune")
	}
	output := opts.co.Output
	if fi, err := os.Stat(output); err == nil && !opts.co.Force && !stdoutPath(output) && fi.Mode().IsRegular() {
		return usageErrorf("--output: %s exists (it may hold a token nodes use): give --force to replace it, or name another file", output)
	}
	t, err := token.Generate()
	if err != nil {
		return err
	}
	return writeOutput(env, output, []byte(t.Value()+"\n"), 0o600, "")
}
