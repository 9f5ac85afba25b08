// Package completion writes shell completion scripts for kubebake from its
// commands' flags and the option model's values.
package completion

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/kubebake/kubebake/internal/options"
	"github.com/spf13/pflag"
)

// Flag is one flag as completion sees it.
type Flag struct {
	Long, Short, Help string
	TakesArg          bool
	Values            []string
}

// Model is what a script completes: the commands (in order, the last one
// "help") and each command's flags.
type Model struct {
	Commands []string
	Flags    map[string][]Flag
	values   map[string][]string
}

// NewModel starts a model of commands from the options' metadata: the
// values of each command's flags (the allowed ones, then suggestions).
func NewModel(commands []string, metas []*options.Meta) *Model {
	m := &Model{Commands: commands, Flags: map[string][]Flag{}, values: map[string][]string{}}
	for _, o := range metas {
		for _, c := range o.Commands {
			m.values[c+" "+o.Name] = append(slices.Clone(o.Values), o.Suggest...)
		}
	}
	return m
}

// AddFlags adds the flags of command cmd.
func (m *Model) AddFlags(cmd string, fs *pflag.FlagSet) {
	fs.VisitAll(func(f *pflag.Flag) {
		arg, help := pflag.UnquoteUsage(f)
		m.Flags[cmd] = append(m.Flags[cmd], Flag{Long: f.Name, Short: f.Shorthand, Help: firstClause(help),
			TakesArg: arg != "" && f.NoOptDefVal == "", Values: m.values[cmd+" "+f.Name]})
	})
}

// Script is the completion script for shell (bash, zsh or fish); false
// for another shell.
func (m *Model) Script(shell string) ([]byte, bool) {
	var b bytes.Buffer
	switch shell {
	case "bash":
		m.writeBash(&b)
	case "zsh":
		b.WriteString("#compdef kubebake\n# zsh runs the bash completion through bashcompinit.\nautoload -U +X bashcompinit && bashcompinit\n")
		m.writeBash(&b)
	case "fish":
		m.writeFish(&b)
	default:
		return nil, false
	}
	return b.Bytes(), true
}

func firstClause(s string) string {
	if i := strings.IndexAny(s, ";(:"); i > 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}

func (m *Model) flagCommands() []string {
	var names []string
	for n := range m.Flags {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (m *Model) writeBash(w io.Writer) {
	cmds := m.Commands
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
	for _, n := range m.flagCommands() {
		var fl []string
		var valueCases []string
		for _, f := range m.Flags[n] {
			fl = append(fl, "--"+f.Long)
			if f.Short != "" {
				fl = append(fl, "-"+f.Short)
			}
			if len(f.Values) > 0 {
				valueCases = append(valueCases, fmt.Sprintf("            --%s) COMPREPLY=($(compgen -W %q -- \"$cur\")); return;;", f.Long, strings.Join(f.Values, " ")))
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

func (m *Model) writeFish(w io.Writer) {
	fmt.Fprintln(w, "# fish completion for kubebake (kubebake completion fish)")
	fmt.Fprintln(w, "complete -c kubebake -f -n __fish_use_subcommand -a "+fishQuote(strings.Join(m.Commands, " ")))
	fmt.Fprintln(w, "complete -c kubebake -f -n '__fish_seen_subcommand_from token' -a generate")
	fmt.Fprintln(w, "complete -c kubebake -f -n '__fish_seen_subcommand_from completion' -a 'bash zsh fish'")
	for _, n := range m.flagCommands() {
		for _, f := range m.Flags[n] {
			line := "complete -c kubebake -n " + fishQuote("__fish_seen_subcommand_from "+n) + " -l " + f.Long
			if f.Short != "" {
				line += " -s " + f.Short
			}
			if f.TakesArg {
				line += " -r"
			}
			if len(f.Values) > 0 {
				line += " -f -a " + fishQuote(strings.Join(f.Values, " "))
			}
			line += " -d " + fishQuote(f.Help)
			fmt.Fprintln(w, line)
		}
	}
}

func fishQuote(s string) string {
	return "'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", `\'`) + "'"
}
