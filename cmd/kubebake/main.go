// Command kubebake renders the first-boot configuration of Kubernetes worker
// nodes (Ignition, Butane, cloud-init) and prepares the cluster side of
// token discovery. Run `kubebake help` for the commands.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/kubebake/kubebake/internal/options"
	"github.com/spf13/pflag"
)

// version is set by the Makefile with -ldflags "-X main.version=...".
var version = "dev"

// A command is one subcommand. Each lives in its own file and registers
// itself in an init function.
type command struct {
	name    string
	summary string
	// run runs the command with the arguments after its name.
	run func(env *cliEnv, args []string) error
}

var commands = map[string]command{}

func register(c command) {
	if _, dup := commands[c.name]; dup {
		panic("duplicate command " + c.name)
	}
	commands[c.name] = c
}

// cliEnv is what a command may touch: streams and the environment, so tests
// can run commands in process.
type cliEnv struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
}

// usageError is an error in what the user asked for: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, a ...any) error {
	return &usageError{msg: fmt.Sprintf(format, a...)}
}

func main() {
	os.Exit(run(&cliEnv{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}, os.Args[1:]))
}

func run(env *cliEnv, args []string) int {
	if len(args) == 0 {
		printUsage(env.stderr)
		return 2
	}
	name := args[0]
	switch name {
	case "help", "-h", "--help":
		if len(args) > 1 {
			if c, ok := commands[args[1]]; ok {
				return exitCode(env, c.name, c.run(env, []string{"--help"}))
			}
		}
		printUsage(env.stdout)
		return 0
	case "version", "--version":
		fmt.Fprintln(env.stdout, "kubebake", version)
		return 0
	}
	c, ok := commands[name]
	if !ok {
		fmt.Fprintf(env.stderr, "kubebake: unknown command %q; run `kubebake help` for the list\n", name)
		return 2
	}
	return exitCode(env, c.name, c.run(env, args[1:]))
}

func exitCode(env *cliEnv, name string, err error) int {
	if err == nil || errors.Is(err, pflag.ErrHelp) {
		return 0
	}
	fmt.Fprintf(env.stderr, "kubebake %s: %v\n", name, err)
	var ue *usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "kubebake renders what a Kubernetes worker needs to join its cluster at first boot.")
	fmt.Fprintln(w, "\nUsage: kubebake COMMAND [flags]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "  version      print kubebake's version")
	fmt.Fprintln(w, "\nRun `kubebake COMMAND --help` for a command's flags.")
}

// newFlagSet returns a flag set whose errors are returned, not printed, and
// whose --help prints the usage to stdout.
func newFlagSet(env *cliEnv, name, usage string) *pflag.FlagSet {
	fs := pflag.NewFlagSet("kubebake "+name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.SortFlags = false
	fs.Usage = func() {
		fmt.Fprintf(env.stdout, "Usage: kubebake %s\n\n", usage)
		fs.SetOutput(env.stdout)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return fs
}

// parseFlags parses args, turning flag errors into usage errors.
func parseFlags(fs *pflag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return err // pflag has printed the usage
		}
		return usageErrorf("%v", options.FlagError(err))
	}
	return nil
}

// noArgs refuses positional arguments.
func noArgs(fs *pflag.FlagSet) error {
	if fs.NArg() > 0 {
		return usageErrorf("unexpected argument %q (all inputs are flags; see --help)", strings.Join(fs.Args(), " "))
	}
	return nil
}
