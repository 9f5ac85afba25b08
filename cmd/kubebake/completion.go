package main

import (
	"io"
	"strings"

	"github.com/kubebake/kubebake/internal/completion"
	"github.com/kubebake/kubebake/render/spec"
	"github.com/spf13/pflag"
)

func init() {
	register(command{name: "completion", summary: "print a shell completion script (bash, zsh or fish)", run: runCompletion})
}

const completionUsage = `completion bash|zsh|fish

Prints a script that completes kubebake's commands, flags and the values of
flags that take one of a few words (--format, --runtime, ...).

Examples:
  source <(kubebake completion bash)
  kubebake completion zsh > "${fpath[1]}/_kubebake"
  kubebake completion fish > ~/.config/fish/completions/kubebake.fish

Flags:`

func runCompletion(env *cliEnv, args []string) error {
	fs := newFlagSet(env, "completion", completionUsage)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageErrorf("name the shell: kubebake completion bash|zsh|fish")
	}
	script, ok := completionModel().Script(fs.Arg(0))
	if !ok {
		return usageErrorf("%q: want bash, zsh or fish", fs.Arg(0))
	}
	_, err := env.stdout.Write(script)
	return err
}

// completionModel collects every command's flags by asking each for its
// help with a collecting environment, and the option tables' values.
func completionModel() *completion.Model {
	env := &cliEnv{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard,
		getenv: func(string) string { return "" }, flagSets: map[string]*pflag.FlagSet{}}
	names := commandNames()
	m := completion.NewModel(append(names, "help"), spec.AllOptions())
	for _, n := range names {
		commands[n].run(env, []string{"--help"})
		if fs := env.flagSets[n]; fs != nil {
			m.AddFlags(n, fs)
		}
	}
	return m
}
