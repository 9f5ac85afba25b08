package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"

	"github.com/kubebake/kubebake/embed"
	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets testscript run this binary as the `kubebake` command.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"kubebake": func() {
			main()
		},
	})
}

// TestScript runs the CLI scenarios in testdata/script/*.txtar. Each file
// names what it proves; the files are the CLI's specification.
func TestScript(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// maxsize FILE N checks that a file has at most N bytes.
			"maxsize": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 2 || neg {
					ts.Fatalf("usage: maxsize file bytes")
				}
				fi, err := os.Stat(ts.MkAbs(args[0]))
				ts.Check(err)
				max, err := strconv.ParseInt(args[1], 10, 64)
				ts.Check(err)
				if fi.Size() > max {
					ts.Fatalf("%s has %d bytes, more than %d", args[0], fi.Size(), max)
				}
			},
			// mode FILE 0600 checks a file's permission bits.
			"mode": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 2 {
					ts.Fatalf("usage: mode file 0600")
				}
				fi, err := os.Stat(ts.MkAbs(args[0]))
				ts.Check(err)
				got := fmt.Sprintf("%04o", fi.Mode().Perm())
				if (got == args[1]) == neg {
					ts.Fatalf("%s has mode %s, want %s%s", args[0], got, map[bool]string{true: "not ", false: ""}[neg], args[1])
				}
			},
			// filetype FILE regular|symlink|chardev|fifo checks what is at
			// a path, without following a symlink.
			"filetype": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 2 {
					ts.Fatalf("usage: filetype file regular|symlink|chardev|fifo")
				}
				fi, err := os.Lstat(ts.MkAbs(args[0]))
				ts.Check(err)
				m := fi.Mode()
				got := map[bool]string{true: "regular"}[m.IsRegular()]
				switch {
				case m&os.ModeSymlink != 0:
					got = "symlink"
				case m&os.ModeCharDevice != 0:
					got = "chardev"
				case m&os.ModeNamedPipe != 0:
					got = "fifo"
				}
				if (got == args[1]) == neg {
					ts.Fatalf("%s is a %s file", args[0], got)
				}
			},
			// status N PROG ARGS... runs PROG and requires exit status N,
			// keeping its stdout and stderr for the next assertions.
			"status": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) < 2 {
					ts.Fatalf("usage: status N program [args...]")
				}
				want, err := strconv.Atoi(args[0])
				if err != nil {
					ts.Fatalf("status: %v", err)
				}
				got := 0
				if err := ts.Exec(args[1], args[2:]...); err != nil {
					var ee *exec.ExitError
					if !errors.As(err, &ee) {
						ts.Fatalf("status: %v", err)
					}
					got = ee.ExitCode()
				}
				if got != want {
					ts.Fatalf("exit status %d, want %d", got, want)
				}
			},
		},
		Condition: func(cond string) (bool, error) {
			switch cond {
			case "root":
				return os.Geteuid() == 0, nil
			case "embedded":
				// The agents are in embed/dist (make embed has run).
				_, err := embed.Load("amd64")
				return err == nil, nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Setup: func(e *testscript.Env) error {
			// The sample CA and token of testdata/, for scripts that render.
			// git checks the token out 0644; kubebake warns about a token
			// file others can read, so make it what a token file should be.
			e.Setenv("TESTDATA", mustAbs("../../testdata"))
			if err := os.Chmod(mustAbs("../../testdata/token"), 0o600); err != nil {
				return err
			}
			return nil
		},
	})
}

func mustAbs(p string) string {
	wd, err := os.Getwd()
	if err != nil {
		panic(err)
	}
	return wd + "/" + p
}
