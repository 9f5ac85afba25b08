package main

import (
	"fmt"
	"os"

	"github.com/kubebake/kubebake/internal/atomicfile"
	"github.com/kubebake/kubebake/internal/certs"
	"github.com/kubebake/kubebake/internal/pin"
)

func init() {
	register(command{name: "hash", summary: "print the sha256 pin of each CA certificate in a PEM file", run: runHash})
}

func runHash(env *cliEnv, args []string) error {
	fs := newFlagSet(env, "hash", "hash ca.crt [more.crt...]\n\nPrints sha256:<hex>, the SHA-256 of each certificate's SubjectPublicKeyInfo, one\nline per certificate: the value of kubeadm's --discovery-token-ca-cert-hash and\nof kubebake render --ca-cert-hash.")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usageErrorf("name at least one PEM file (e.g. /etc/kubernetes/pki/ca.crt)")
	}
	for _, name := range fs.Args() {
		data, err := os.ReadFile(name)
		if err != nil {
			return usageErrorf("%v", err)
		}
		all, err := certs.ParsePEM(data)
		if err != nil {
			return usageErrorf("%s %v", name, err)
		}
		for _, c := range all {
			fmt.Fprintln(env.stdout, pin.Hash(c))
		}
	}
	return nil
}

func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	return atomicfile.WriteFile(path, data, perm)
}
