package main

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"

	"github.com/kubebake/kubebake/internal/atomicfile"
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
		n := 0
		for rest := data; ; {
			var b *pem.Block
			if b, rest = pem.Decode(rest); b == nil {
				break
			}
			if b.Type != "CERTIFICATE" {
				return usageErrorf("%s holds a %q PEM block: want certificates only", name, b.Type)
			}
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return usageErrorf("%s: certificate %d does not parse: %v", name, n+1, err)
			}
			fmt.Fprintln(env.stdout, pin.Hash(c))
			n++
		}
		if n == 0 {
			return usageErrorf("%s holds no PEM certificate", name)
		}
	}
	return nil
}

func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	return atomicfile.WriteFile(path, data, perm)
}
