// Command kubebake renders the first-boot configuration of Kubernetes worker
// nodes (Ignition, Butane, cloud-init) and prepares the cluster side of
// token discovery. Run `kubebake help` for the commands.
package main

import (
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"sort"
	"strings"

	"github.com/kubebake/kubebake/internal/inputs"
	"github.com/kubebake/kubebake/render/spec"

	"github.com/kubebake/kubebake/internal/atomicfile"
	"github.com/kubebake/kubebake/internal/options"
	"github.com/spf13/pflag"
	"golang.org/x/term"
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
	// stdoutTTY says stdout is a terminal.
	stdoutTTY bool

	stdinRead bool
	// flagSets, when not nil, collects each command's flag set (for
	// shell completion).
	flagSets map[string]*pflag.FlagSet
}

// newCLIEnv is the environment of the real process.
func newCLIEnv() *cliEnv {
	return &cliEnv{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv,
		stdoutTTY: term.IsTerminal(int(os.Stdout.Fd()))}
}

// readFile reads a file a user named; "-" is stdin (once).
func (env *cliEnv) readFile(name string) ([]byte, error) {
	return inputs.ReadNamed(name, env.stdin, &env.stdinRead)
}

// errWriter remembers the first write error, so that every command
// reports one (kubebake hash ca.crt > /dev/full).
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	if err != nil {
		// Named, so that the command's one error line says what failed.
		err = fmt.Errorf("writing to stdout: %w", reason(err))
		e.err = err
	}
	return n, err
}

// usageError is an error in what the user asked for: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, a ...any) error {
	return &usageError{msg: fmt.Sprintf(format, a...)}
}

func main() {
	// No temporary file holding a token survives ^C or a kill; what a
	// SIGKILL left is removed by the next write there, which says so.
	atomicfile.CleanupOnSignal(os.Exit)
	atomicfile.Logf = func(format string, a ...any) { fmt.Fprintf(os.Stderr, "kubebake: "+format+"\n", a...) }
	os.Exit(run(newCLIEnv(), os.Args[1:]))
}

func run(env *cliEnv, args []string) int {
	out := &errWriter{w: env.stdout}
	env.stdout = out
	code := dispatch(env, args)
	if out.err != nil && code == 0 {
		// A command that failed has said why (its write's error names
		// stdout); one that ignored the error has not.
		fmt.Fprintf(env.stderr, "kubebake: %v\n", out.err)
		code = 1
	}
	return code
}

func dispatch(env *cliEnv, args []string) int {
	if len(args) == 0 {
		printUsage(env.stderr)
		return 2
	}
	name := args[0]
	switch name {
	case "help", "-h", "--help":
		if len(args) > 1 {
			c, ok := commands[args[1]]
			if !ok {
				fmt.Fprintf(env.stderr, "kubebake help: unknown command %q;%s run `kubebake help` for the list\n", args[1], didYouMean(args[1], commandNames()))
				return 2
			}
			return exitCode(env, c.name, c.run(env, []string{"--help"}))
		}
		printUsage(env.stdout)
		return 0
	case "--version":
		name = "version"
	}
	c, ok := commands[name]
	if !ok {
		fmt.Fprintf(env.stderr, "kubebake: unknown command %q;%s run `kubebake help` for the list\n", name, didYouMean(name, commandNames()))
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

func commandNames() []string {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// didYouMean is " did you mean X?" for the candidate closest to name.
func didYouMean(name string, candidates []string) string {
	if c := options.Closest(name, candidates); c != "" {
		return " did you mean " + c + "?"
	}
	return ""
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "kubebake renders what a Kubernetes worker needs to join its cluster at first boot.")
	fmt.Fprintln(w, "\nUsage: kubebake COMMAND [flags]\n\nCommands:")
	for _, n := range commandNames() {
		fmt.Fprintf(w, "  %-12s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun `kubebake COMMAND --help` for a command's flags.")
}

// newFlagSet returns a flag set whose errors are returned, not printed, and
// whose --help prints the usage to stdout.
func newFlagSet(env *cliEnv, name, usage string) *pflag.FlagSet {
	fs := pflag.NewFlagSet("kubebake "+name, pflag.ContinueOnError)
	if env.flagSets != nil {
		env.flagSets[name] = fs
	}
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
		msg := options.FlagError(err).Error()
		if name, ok := strings.CutPrefix(msg, "unknown flag: --"); ok {
			var flags []string
			fs.VisitAll(func(f *pflag.Flag) { flags = append(flags, f.Name) })
			if s := didYouMean(name, flags); s != "" {
				msg += ";" + strings.Replace(s, "mean ", "mean --", 1)
			}
		}
		return &usageError{msg: msg}
	}
	return nil
}

// ownInput refuses an -o naming a file the command reads (through any
// link): writing would destroy the input. files are flag names and their
// files.
func ownInput(output string, files ...string) error {
	if flag := inputs.FileOf(output, files...); flag != "" && !stdoutPath(output) {
		return usageErrorf("--output: %s is the file of --%s: writing would destroy that input; name another file", output, flag)
	}
	return nil
}

// renderInputs are the flags and files of in that a command reads.
func renderInputs(in *spec.Inputs) []string {
	files := []string{"config", in.ConfigFile, "token-file", in.TokenFile, "merge", in.Merge, "kubelet-config", in.KubeletConfig}
	for _, c := range in.CA {
		files = append(files, "ca", c)
	}
	return files
}

// noArgs refuses positional arguments.
func noArgs(fs *pflag.FlagSet) error {
	if fs.NArg() > 0 {
		return usageErrorf("unexpected argument %q (all inputs are flags; see --help)", strings.Join(fs.Args(), " "))
	}
	return nil
}

// reason strips the path wrapper from a write error: stdout has no name
// worth showing.
func reason(err error) error {
	var pe *iofs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// stdoutPath says whether an -o argument means stdout.
func stdoutPath(p string) bool {
	return p == "" || p == "-" || p == "/dev/stdout" || p == "/dev/fd/1" || p == "/proc/self/fd/1"
}

// writeOutput writes data to the -o path (see atomicfile.WriteTarget:
// atomic for files, direct for devices and FIFOs, through symlinks), or
// to stdout for "", "-" and /dev/stdout. secret output (it holds a token)
// or a binary is refused on a terminal: what is the point of 3 MB of
// JSON on a screen, and the token would stay in its scrollback.
func writeOutput(env *cliEnv, path string, data []byte, perm os.FileMode, what string) error {
	if stdoutPath(path) {
		if env.stdoutTTY && what != "" {
			return usageErrorf("stdout is a terminal and the output %s: write it to a file with -o FILE, or pipe it", what)
		}
		_, err := env.stdout.Write(data)
		return err
	}
	if err := atomicfile.WriteTarget(path, data, perm); err != nil {
		var pe *iofs.PathError
		if errors.As(err, &pe) {
			return usageErrorf("--output: %s: %v", pe.Path, pe.Err)
		}
		return usageErrorf("--output: %s: %v", path, err)
	}
	return nil
}
