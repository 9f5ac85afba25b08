// Package inputs reads the inputs every kubebake command that touches a
// cluster shares: the bootstrap token, the CA certificates and the API server
// addresses. render, manifests, apply and check all use it, so a flag means
// the same and fails the same way everywhere. Every error is an *Error naming
// the flag; none quotes a token secret.
package inputs

import (
	"crypto/x509"
	"errors"
	"fmt"
	"github.com/kubebake/kubebake/internal/atomicfile"
	"io"
	"io/fs"
	"net"
	"os"
	"strings"
	"time"

	"github.com/kubebake/kubebake/internal/certs"
	"github.com/kubebake/kubebake/internal/endpoint"
	"github.com/kubebake/kubebake/internal/token"
)

// Error is a problem with one input: Field names the flag (or variable or
// config key), Msg says what is wrong and how to fix it.
type Error struct {
	Field string
	Msg   string
}

func (e *Error) Error() string { return e.Field + ": " + e.Msg }

// Errorf makes an *Error.
func Errorf(field, format string, a ...any) error {
	return &Error{Field: field, Msg: fmt.Sprintf(format, a...)}
}

// ReadFile is how inputs reads files (os.ReadFile, or a stand-in in tests).
type ReadFile func(name string) ([]byte, error)

// MaxInput is the most kubebake reads of any file a user names: far more
// than a CA bundle, a nodes file of a hundred thousand nodes or a merged
// config holds, and a bound for /dev/zero or a wrong path to a disk image.
const MaxInput = 64 << 20

var errTooLarge = fmt.Errorf("larger than %d MiB, more than any input of kubebake's holds: is it the right file?", MaxInput>>20)

// ReadBounded is os.ReadFile for a file a user named, refusing one larger
// than MaxInput instead of reading it whole.
func ReadBounded(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadAllBounded(f, name)
}

// ReadNamed reads the file a user named (ReadBounded); "-" reads stdin,
// which only one input may be: *stdinRead records that it was read.
func ReadNamed(name string, stdin io.Reader, stdinRead *bool) ([]byte, error) {
	if name != "-" {
		return ReadBounded(name)
	}
	if *stdinRead {
		return nil, errors.New("-: stdin was read already; only one input may be -")
	}
	*stdinRead = true
	data, err := ReadAllBounded(stdin, "-")
	var pe *os.PathError
	if errors.As(err, &pe) {
		return nil, fmt.Errorf("-: stdin: %v", pe.Err)
	} else if err != nil {
		return nil, fmt.Errorf("-: reading stdin: %v", err)
	}
	return data, nil
}

// ReadAllBounded reads r (the file name, or stdin) up to MaxInput.
func ReadAllBounded(r io.Reader, name string) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxInput+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxInput {
		return nil, &os.PathError{Op: "read", Path: name, Err: errTooLarge}
	}
	return data, nil
}

// EnvToken is the environment variable that may hold the token.
const EnvToken = "KUBEBAKE_TOKEN"

// TokenSource is where the token may come from: exactly one must be set.
type TokenSource struct {
	File  string // --token-file
	Value string // --token
	Env   string // $KUBEBAKE_TOKEN
}

// Token returns the token from exactly one source. More than one is an
// error, so that a forgotten variable never silently wins or loses.
func Token(src TokenSource, read ReadFile) (token.Token, error) {
	var set []string
	for _, s := range []struct{ name, v string }{{"--token-file", src.File}, {"--token", src.Value}, {EnvToken, src.Env}} {
		if s.v != "" {
			set = append(set, s.name)
		}
	}
	switch {
	case len(set) == 0:
		return token.Token{}, Errorf("--token-file", "a bootstrap token is required: --token-file FILE (kubebake token generate > FILE), --token or $%s", EnvToken)
	case len(set) > 1:
		return token.Token{}, Errorf(set[0], "give the token once: %s are all set", strings.Join(set, " and "))
	case src.File != "":
		if src.File != "-" {
			// A FIFO or file another user put there would feed the
			// token of their choosing.
			if err := atomicfile.CheckRead(src.File); err != nil {
				return token.Token{}, Errorf("--token-file", "%v", FileError(err))
			}
		}
		data, err := read(src.File)
		if err != nil {
			return token.Token{}, Errorf("--token-file", "%v", FileError(err))
		}
		t, err := token.ParseFile(data)
		if err != nil {
			return token.Token{}, Errorf("--token-file", "%s: %v", src.File, err)
		}
		return t, nil
	case src.Value != "":
		t, err := token.Parse(src.Value)
		if err != nil {
			return token.Token{}, Errorf("--token", "%v", err)
		}
		return t, nil
	}
	t, err := token.Parse(src.Env)
	if err != nil {
		return token.Token{}, Errorf(EnvToken, "%v", err)
	}
	return t, nil
}

// CAs reads --ca files: every certificate must be a CA that may sign
// certificates and is valid at now. Duplicates are dropped, order kept.
// The warnings name CAs that expire within 30 days.
func CAs(paths []string, read ReadFile, now time.Time) ([]*x509.Certificate, []string, error) {
	if len(paths) == 0 {
		return nil, nil, Errorf("--ca", "the cluster CA certificate is required (on a kubeadm control plane: /etc/kubernetes/pki/ca.crt)")
	}
	var out []*x509.Certificate
	var warns, expired []string
	seen := map[string]bool{}
	for _, name := range paths {
		data, err := read(name)
		if err != nil {
			return nil, nil, Errorf("--ca", "%v", FileError(err))
		}
		all, err := ParseCAFile(name, data)
		if err != nil {
			return nil, nil, Errorf("--ca", "%v", err)
		}
		for _, c := range all {
			desc := fmt.Sprintf("%s: certificate %q", name, c.Subject.String())
			switch {
			case !c.BasicConstraintsValid || !c.IsCA:
				return nil, nil, Errorf("--ca", "%s is not a CA certificate (basicConstraints CA:FALSE); give the cluster CA, not a leaf certificate", desc)
			case c.KeyUsage != 0 && c.KeyUsage&x509.KeyUsageCertSign == 0:
				return nil, nil, Errorf("--ca", "%s may not sign certificates (its key usage lacks keyCertSign)", desc)
			case now.Before(c.NotBefore):
				return nil, nil, Errorf("--ca", "%s is not valid before %s (check this machine's clock)", desc, c.NotBefore.UTC().Format(time.RFC3339))
			case now.After(c.NotAfter):
				expired = append(expired, fmt.Sprintf("%s expired on %s", desc, c.NotAfter.UTC().Format(time.RFC3339)))
				continue
			case c.NotAfter.Sub(now) < 30*24*time.Hour:
				warns = append(warns, fmt.Sprintf("%s expires on %s, within 30 days: nodes built now stop trusting the cluster then; rotate the CA and pin the next one with --ca-cert-hash", desc, c.NotAfter.UTC().Format(time.RFC3339)))
			}
			if !seen[string(c.Raw)] {
				seen[string(c.Raw)] = true
				out = append(out, c)
			}
		}
	}
	// An expired CA is of no use to a node; after a rotation the bundle
	// may still hold the old one. Leave it out and say so, unless nothing
	// valid is left.
	if len(out) == 0 && len(expired) > 0 {
		return nil, nil, Errorf("--ca", "%s; no valid CA is left", strings.Join(expired, "; "))
	}
	for _, e := range expired {
		warns = append(warns, e+": left out of the CA bundle and the pins")
	}
	return out, warns, nil
}

// Endpoints canonicalizes --api-server addresses to host:port, dropping
// duplicates and keeping the order.
func Endpoints(addrs []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, a := range addrs {
		if err := bareIPv6(a); err != nil {
			return nil, Errorf("--api-server", "%v", err)
		}
		ep, err := endpoint.Parse(a)
		if err != nil {
			return nil, Errorf("--api-server", "%v", err)
		}
		if err := reachableHost(a, endpoint.Host(ep)); err != nil {
			return nil, Errorf("--api-server", "%v", err)
		}
		if !seen[ep] {
			seen[ep] = true
			out = append(out, ep)
		}
	}
	return out, nil
}

// FileError shortens an *fs.PathError to "path: reason".
func FileError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %v", pe.Path, pe.Err)
	}
	return err
}

// TokenFileWarning says, when the token file may be read by its group or
// by others, that it should not be; "" otherwise (and for "-", stdin).
func TokenFileWarning(name string) string {
	if name == "" || name == "-" {
		return ""
	}
	fi, err := os.Stat(name)
	if err != nil || fi.Mode().Perm()&0o077 == 0 {
		return ""
	}
	return fmt.Sprintf("--token-file: %s has mode %04o: other users can read the token; chmod 600 %s", name, fi.Mode().Perm(), name)
}

// ParseCAFile parses a CA file's PEM certificates; a DER certificate gets a
// hint on how to convert it. Errors start with the file name.
func ParseCAFile(name string, data []byte) ([]*x509.Certificate, error) {
	all, err := certs.ParsePEM(data)
	if err == nil {
		return all, nil
	}
	if _, derr := x509.ParseCertificate(data); derr == nil {
		return nil, fmt.Errorf("%s is a DER (binary) certificate; kubebake reads PEM: openssl x509 -inform DER -in %s -out ca.pem", name, name)
	}
	if errors.Is(err, certs.ErrPrivateKey) {
		return nil, fmt.Errorf("%s %w: give the CA certificate (ca.crt), never its key; a key does not belong on a node", name, err)
	}
	return nil, fmt.Errorf("%s %w", name, err)
}

// bareIPv6 refuses an IPv6 address without brackets: in 2001:db8::1:6443
// nothing says whether 6443 is the port or the address's last group.
func bareIPv6(a string) error {
	raw := strings.TrimSuffix(strings.TrimPrefix(a, "https://"), "/")
	if net.ParseIP(raw) == nil || !strings.Contains(raw, ":") {
		return nil
	}
	i := strings.LastIndex(raw, ":")
	if addr, port := raw[:i], raw[i+1:]; net.ParseIP(addr) != nil && port != "" && strings.Trim(port, "0123456789") == "" {
		return fmt.Errorf("%q: write an IPv6 address in brackets: [%s]:%s if %s is the port, [%s] for that address on port 6443", a, addr, port, port, raw)
	}
	return fmt.Errorf("%q: write an IPv6 address in brackets: [%s] (port 6443) or [%s]:PORT", a, raw, raw)
}

// reachableHost refuses hosts no node can reach the API server at: an
// unspecified address, and a dotted quad that is not an IPv4 address
// (10.0.0.300 would otherwise be looked up as a host name).
func reachableHost(a, host string) error {
	if ip := net.ParseIP(host); ip != nil {
		if ip.IsUnspecified() {
			return fmt.Errorf("%q: %s means \"any address\" to a server, not one a node can connect to; give the API server's or load balancer's address", a, host)
		}
		return nil
	}
	if strings.Trim(host, "0123456789.") == "" {
		return fmt.Errorf("%q: %s is not an IPv4 address (each of its four numbers is 0 to 255)", a, host)
	}
	return nil
}

// FileOf returns the flag, of files (flag names and their files; "" and
// "-" skipped), whose file is path's: the same device and inode, through
// any link. It is "" when none is, or path does not exist. A command
// refuses to write its output over one of its own inputs with it.
func FileOf(path string, files ...string) string {
	out, err := os.Stat(path)
	if err != nil {
		return ""
	}
	for i := 0; i+1 < len(files); i += 2 {
		if fi, err := os.Stat(files[i+1]); files[i+1] != "" && files[i+1] != "-" && err == nil && os.SameFile(out, fi) {
			return files[i]
		}
	}
	return ""
}
