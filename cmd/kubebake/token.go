package main

import (
	"github.com/kubebake/kubebake/internal/token"
)

func init() {
	register(command{name: "token", summary: "generate a bootstrap token (token generate)", run: runToken})
}

const tokenUsage = `token generate [-o FILE]

Prints a new random bootstrap token, <id>.<secret>, read from crypto/rand,
or writes it to FILE with mode 0600, atomically (never through the umask).

Examples:
  kubebake token generate -o token
  kubebake render --ca ca.crt --token-file token --api-server 10.0.0.10 -o worker.ign

Flags:`

func runToken(env *cliEnv, args []string) error {
	fs := newFlagSet(env, "token", tokenUsage)
	output := fs.StringP("output", "o", "", "write the token to `FILE` (mode 0600, atomically) instead of stdout")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 || fs.Arg(0) != "generate" {
		return usageErrorf("want `kubebake token generate [-o FILE]`")
	}
	t, err := token.Generate()
	if err != nil {
		return err
	}
	return writeOutput(env, *output, []byte(t.Value()+"\n"), 0o600, "")
}
