package main

import (
	"github.com/kubebake/kubebake/inspect"
)

func init() {
	register(command{name: "inspect", summary: "show what a rendered output lays down, secrets masked", run: runInspect})
}

const inspectUsage = `inspect FILE

Reads any output kubebake writes (Ignition, Butane, cloud-init plain,
gzipped or MIME multipart, tar; "-" reads stdin) and prints a stable,
readable view of the node it describes: the endpoints, CA pins and tokens
(each token's secret replaced by <secret>), the units enabled and started,
then every file and link with its mode, size and SHA-256, and the text of
every text file. A file holding a token shows no digest, so the view does
not change when only the token does: fit for reviews and golden tests.
` + "`--format plan`" + ` is its machine-readable sibling.

Examples:
  kubebake inspect worker.ign
  kubebake render --config pool.yaml -o - | kubebake inspect - | less
`

func runInspect(env *cliEnv, args []string) error {
	fs := newFlagSet(env, "inspect", inspectUsage)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageErrorf("want one FILE to inspect (see --help)")
	}
	name := fs.Arg(0)
	data, err := env.readFile(name)
	if err != nil {
		return usageErrorf("%v", err)
	}
	n, err := inspect.Read(data)
	if err != nil {
		return usageErrorf("%s: %s", name, inspect.Redact(err.Error())) // a parser may quote the file
	}
	_, err = env.stdout.Write(n.Text())
	return err
}
