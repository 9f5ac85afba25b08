package main

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

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

// complFlag is one flag as completion sees it.
type complFlag struct {
	long, short, help string
	takesArg          bool
	values            []string
}

func runCompletion(env *cliEnv, args []string) error {
	fs := newFlagSet(env, "completion", completionUsage)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageErrorf("name the shell: kubebake completion bash|zsh|fish")
	}
	cmds, flags := completionModel()
	var b bytes.Buffer
	switch fs.Arg(0) {
	case "bash":
		writeBash(&b, cmds, flags)
	case "zsh":
		b.WriteString("#compdef kubebake\n# zsh runs the bash completion through bashcompinit.\nautoload -U +X bashcompinit && bashcompinit\n")
		writeBash(&b, cmds, flags)
	case "fish":
		writeFish(&b, cmds, flags)
	default:
		return usageErrorf("%q: want bash, zsh or fish", fs.Arg(0))
	}
	_, err := env.stdout.Write(b.Bytes())
	return err
}

// completionModel collects every command's flags by asking each for its
// help with a collecting environment, and the option tables' values.
func completionModel() ([]string, map[string][]complFlag) {
	values := map[string][]string{}
	for _, m := range spec.AllOptions() {
		for _, c := range m.Commands {
			values[c+" "+m.Name] = append(slices.Clone(m.Values), m.Suggest...)
		}
	}
	env := &cliEnv{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard,
		getenv: func(string) string { return "" }, flagSets: map[string]*pflag.FlagSet{}}
	var names []string
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	out := map[string][]complFlag{}
	for _, n := range names {
		commands[n].run(env, []string{"--help"})
		fs := env.flagSets[n]
		if fs == nil {
			continue
		}
		fs.VisitAll(func(f *pflag.Flag) {
			arg, help := pflag.UnquoteUsage(f)
			out[n] = append(out[n], complFlag{long: f.Name, short: f.Shorthand, help: firstClause(help),
				takesArg: arg != "" && f.NoOptDefVal == "", values: values[n+" "+f.Name]})
		})
	}
	return append(names, "help"), out
}

func firstClause(s string) string {
	if i := strings.IndexAny(s, ";(:"); i > 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}

func writeBash(w io.Writer, cmds []string, flags map[string][]complFlag) {
	fmt.Fprintf(w, `# bash completion for kubebake (kubebake completion bash)
_kubebake() {
    local cur prev cmd flags
    cur="${COMP_WORDS[COMP_CWORD]}"
    prev="${COMP_WORDS[COMP_CWORD-1]}"
    cmd="${COMP_WORDS[1]}"
    if [ "$COMP_CWORD" -eq 1 ]; then
        COMPREPLY=($(compgen -W %q -- "$cur"))
        return
    fi
    if [ "$COMP_CWORD" -eq 2 ]; then
        case "$cmd" in
            token) COMPREPLY=($(compgen -W "generate" -- "$cur")); return;;
            completion) COMPREPLY=($(compgen -W "bash zsh fish" -- "$cur")); return;;
        esac
    fi
    case "$cmd" in
`, strings.Join(cmds, " "))
	var names []string
	for n := range flags {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		var fl []string
		var valueCases []string
		for _, f := range flags[n] {
			fl = append(fl, "--"+f.long)
			if f.short != "" {
				fl = append(fl, "-"+f.short)
			}
			if len(f.values) > 0 {
				valueCases = append(valueCases, fmt.Sprintf("            --%s) COMPREPLY=($(compgen -W %q -- \"$cur\")); return;;", f.long, strings.Join(f.values, " ")))
			}
		}
		fmt.Fprintf(w, "        %s)\n            flags=%q\n", n, strings.Join(fl, " "))
		if len(valueCases) > 0 {
			fmt.Fprintf(w, "            case \"$prev\" in\n%s\n            esac\n", strings.ReplaceAll(strings.Join(valueCases, "\n"), "            --", "                --"))
		}
		fmt.Fprintln(w, "            ;;")
	}
	fmt.Fprintf(w, `        help)
            COMPREPLY=($(compgen -W %q -- "$cur"))
            return;;
    esac
    if [[ "$cur" == -* ]]; then
        COMPREPLY=($(compgen -W "$flags" -- "$cur"))
    else
        COMPREPLY=($(compgen -f -- "$cur"))
    fi
}
complete -o default -F _kubebake kubebake
`, strings.Join(cmds[:len(cmds)-1], " "))
}

func writeFish(w io.Writer, cmds []string, flags map[string][]complFlag) {
	fmt.Fprintln(w, "# fish completion for kubebake (kubebake completion fish)")
	fmt.Fprintln(w, "complete -c kubebake -f -n __fish_use_subcommand -a "+fishQuote(strings.Join(cmds, " ")))
	fmt.Fprintln(w, "complete -c kubebake -f -n '__fish_seen_subcommand_from token' -a generate")
	fmt.Fprintln(w, "complete -c kubebake -f -n '__fish_seen_subcommand_from completion' -a 'bash zsh fish'")
	var names []string
	for n := range flags {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		for _, f := range flags[n] {
			line := "complete -c kubebake -n " + fishQuote("__fish_seen_subcommand_from "+n) + " -l " + f.long
			if f.short != "" {
				line += " -s " + f.short
			}
			if f.takesArg {
				line += " -r"
			}
			if len(f.values) > 0 {
				line += " -f -a " + fishQuote(strings.Join(f.values, " "))
			}
			line += " -d " + fishQuote(f.help)
			fmt.Fprintln(w, line)
		}
	}
}

func fishQuote(s string) string {
	return "'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", `\'`) + "'"
}
