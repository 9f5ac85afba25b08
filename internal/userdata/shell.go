package userdata

import "strings"

// ShellJoin is argv as one line of sh: each word as it is when the shell
// would read it back unchanged, else in single quotes. Both the commands
// kubebake's cloud-init output runs and `kubebake inspect`'s account of
// any runcmd are written with it.
func ShellJoin(argv []string) string {
	out := make([]string, len(argv))
	for i, a := range argv {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$`;&|<>*?()[]{}#~") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}

// kubebake's cloud-init output starts a node's units with a bootcmd entry
// `sh -c StartGuard DONE systemd-run --unit=StartUnit ... /bin/sh -ec
// SCRIPT`; `kubebake inspect` reads it back by these two.
const (
	// StartUnit is the transient service's name.
	StartUnit = "kubebake-start"
	// StartGuard runs its arguments unless the file $0 exists.
	StartGuard = `test -e "$0" || exec "$@"`
)
