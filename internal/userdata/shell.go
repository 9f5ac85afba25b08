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
