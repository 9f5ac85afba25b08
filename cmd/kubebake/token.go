package main

import (
	"fmt"

	"github.com/kubebake/kubebake/internal/token"
)

func init() {
	register(command{name: "token", summary: "generate a bootstrap token (token generate)", run: runToken})
}

func runToken(env *cliEnv, args []string) error {
	fs := newFlagSet(env, "token", "token generate\n\nPrints a new random bootstrap token, <id>.<secret>, read from crypto/rand.\nKeep it in a file readable only by you: kubebake token generate > token && chmod 600 token")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 || fs.Arg(0) != "generate" {
		return usageErrorf("want `kubebake token generate`")
	}
	t, err := token.Generate()
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(env.stdout, t.Value())
	return err
}
