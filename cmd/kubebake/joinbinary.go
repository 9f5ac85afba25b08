package main

import (
	"github.com/kubebake/kubebake/embed"
)

func init() {
	register(command{name: "join-binary", summary: "write the kubebake-join binary, for images built with --join-binary baked", run: runJoinBinary})
}

func runJoinBinary(env *cliEnv, args []string) error {
	opts, err := parseCmd(env, cmdJoinBinary, "join-binary --arch amd64|arm64 -o FILE\n\nWrites the kubebake-join agent this kubebake embeds, for an image build that\ninstalls it at /usr/local/bin/kubebake-join (/opt/bin on Flatcar) and renders\nwith --join-binary baked.\n\nExamples:\n  kubebake join-binary --arch amd64 -o rootfs/usr/local/bin/kubebake-join\n  kubebake join-binary --arch arm64 -o - | ssh builder 'cat > kubebake-join'\n\nFlags:", args)
	if err != nil {
		return err
	}
	if opts.co.Output == "" {
		return usageErrorf("--output: name the file to write (or - for a pipe)")
	}
	a, err := embed.Load(opts.co.Arch)
	if err != nil {
		return err
	}
	bin, err := a.Binary()
	if err != nil {
		return err
	}
	return writeOutput(env, opts.co.Output, bin, 0o755, "is a binary")
}
