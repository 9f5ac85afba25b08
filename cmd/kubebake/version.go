package main

import (
	"fmt"

	"github.com/kubebake/kubebake/embed"
	"github.com/kubebake/kubebake/internal/joinconfig"
)

func init() {
	register(command{name: "version", summary: "print kubebake's version, the join.yaml schema and the embedded agents' sha256", run: runVersion})
}

const versionUsage = `version

Prints kubebake's version, the join.yaml schema (apiVersion and kind) the
agent must read, and the sha256 of each embedded kubebake-join, so that an
image's agent can be matched to the renderer that expects it:

  sha256sum /usr/local/bin/kubebake-join    # on the image
  kubebake-join --version                   # prints the same sha256 and schema

Examples:
  kubebake version
  kubebake version | grep kubebake-join

Flags:`

func runVersion(env *cliEnv, args []string) error {
	fs := newFlagSet(env, "version", versionUsage)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	fmt.Fprintln(env.stdout, "kubebake", version)
	fmt.Fprintf(env.stdout, "join.yaml schema: %s %s\n", joinconfig.APIVersion, joinconfig.Kind)
	lines, err := embed.Versions()
	for _, l := range lines {
		fmt.Fprintln(env.stdout, l)
	}
	return err
}
