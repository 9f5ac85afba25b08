package main

import (
	"fmt"

	"github.com/kubebake/kubebake/internal/inputs"
	"github.com/kubebake/kubebake/internal/pin"
)

func init() {
	register(command{name: "hash", summary: "print the sha256 pin of each CA certificate in a PEM file", run: runHash})
}

const hashUsage = `hash ca.crt [more.crt...]

Prints sha256:<hex>, the SHA-256 of each certificate's SubjectPublicKeyInfo,
one line per certificate: the value of kubeadm's
--discovery-token-ca-cert-hash and of kubebake render --ca-cert-hash.
"-" reads stdin. The files are PEM (a DER file gets the openssl command
that converts it).

Examples:
  kubebake hash /etc/kubernetes/pki/ca.crt
  ssh cp1 cat /etc/kubernetes/pki/ca.crt | kubebake hash -
`

func runHash(env *cliEnv, args []string) error {
	fs := newFlagSet(env, "hash", hashUsage)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usageErrorf("name at least one PEM file (e.g. /etc/kubernetes/pki/ca.crt)")
	}
	for _, name := range fs.Args() {
		data, err := env.readFile(name)
		if err != nil {
			return usageErrorf("%v", inputs.FileError(err))
		}
		all, err := inputs.ParseCAFile(name, data)
		if err != nil {
			return usageErrorf("%v", err)
		}
		for _, c := range all {
			fmt.Fprintln(env.stdout, pin.Hash(c))
		}
	}
	return nil
}
