package inspect

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"sigs.k8s.io/yaml"
)

// tokenPattern is a bootstrap token, "<id>.<secret>", anywhere in a text,
// also touching other word characters (TOKEN_<id>.<secret>, which \b
// missed): a false positive costs a digest, a miss prints a secret.
var tokenPattern = regexp.MustCompile(`([a-z0-9]{6})\.[a-z0-9]{16}`)

// SecretMarker stands where a token's secret was.
const SecretMarker = "<secret>"

// Redact replaces the secret half of every bootstrap token in s with
// SecretMarker, keeping the public id.
func Redact(s string) string {
	return tokenPattern.ReplaceAllString(s, "${1}."+SecretMarker)
}

// holdsToken reports whether a text holds a token. Binary files are not
// searched: they are never printed, and a regular expression over
// megabytes of an agent binary is slow.
func holdsToken(b []byte) bool { return isText(b) && tokenPattern.Match(b) }

// maxShown is the largest text file shown in full.
const maxShown = 64 << 10

// Text prints the node: a summary (format, endpoints, pins, tokens,
// enablement, start order), then every entry in path order with its mode,
// size and SHA-256 and, for text, its contents. A file that holds a token
// has its digest withheld (it would change with every token) and its
// secret replaced by SecretMarker; nothing printed depends on the secret.
func (n *Node) Text() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "format: %s\n", n.Format)
	n.summary(&b)
	fmt.Fprintf(&b, "enabled: %s\n", list(n.Enabled))
	if len(n.Masked) > 0 {
		fmt.Fprintf(&b, "masked: %s\n", list(n.Masked))
	}
	if len(n.Start) > 0 {
		fmt.Fprintf(&b, "start: %s\n", strings.Join(n.Start, " "))
	}
	paths := sortedKeys(n.Entries)
	fmt.Fprintf(&b, "\nentries (%d):\n", len(paths))
	for _, p := range paths {
		fmt.Fprintf(&b, "  %s\n", n.line(p))
	}
	for _, p := range paths {
		e := n.Entries[p]
		if e.Target != "" || e.Source != "" {
			continue
		}
		fmt.Fprintf(&b, "\n--- %s\n", p)
		switch {
		case !isText(e.Data):
			fmt.Fprintf(&b, "(binary, %d bytes: not shown)\n", len(e.Data))
		case len(e.Data) > maxShown:
			fmt.Fprintf(&b, "(text, %d bytes: too long to show)\n", len(e.Data))
		default:
			s := Redact(string(e.Data))
			b.WriteString(s)
			if s != "" && !strings.HasSuffix(s, "\n") {
				b.WriteString("\n(no newline at the end)\n")
			}
		}
	}
	if len(n.Commands) > 0 {
		b.WriteString("\ncommands:\n")
		for _, c := range n.Commands {
			fmt.Fprintf(&b, "%s\n", indent(Redact(c)))
		}
	}
	if len(n.Extra) > 0 {
		b.WriteString("\nother settings:\n")
		for _, x := range n.Extra {
			fmt.Fprintf(&b, "%s\n", indent(Redact(x)))
		}
	}
	return b.Bytes()
}

// line is an entry's one-line description.
func (n *Node) line(p string) string {
	e := n.Entries[p]
	switch {
	case e.Target != "":
		return fmt.Sprintf("%s -> %s", p, e.Target)
	case e.Source != "":
		hash := "no verification hash: whatever the server sends is installed"
		if e.Hash != "" {
			hash = "verified against " + e.Hash
		}
		return fmt.Sprintf("%s %04o from %s, %s (not fetched)", p, e.Mode, Redact(e.Source), hash)
	case holdsToken(e.Data):
		return fmt.Sprintf("%s %04o %d bytes, holds a bootstrap token (digest not shown)", p, e.Mode, len(e.Data))
	}
	sum := sha256.Sum256(e.Data)
	return fmt.Sprintf("%s %04o %d bytes sha256:%s", p, e.Mode, len(e.Data), hex.EncodeToString(sum[:]))
}

// summary prints what a reviewer looks for first: where the node joins,
// which CAs it trusts, which tokens it carries, how the kubelet is set up.
func (n *Node) summary(b *bytes.Buffer) {
	var endpoints, servers, pins, tokenFiles []string
	tokens := map[string]bool{}
	for _, p := range sortedKeys(n.Entries) {
		e := n.Entries[p]
		if holdsToken(e.Data) {
			tokenFiles = append(tokenFiles, p)
			for _, m := range tokenPattern.FindAllSubmatch(e.Data, -1) {
				tokens[string(m[1])+"."+SecretMarker] = true
			}
		}
		var doc struct {
			Kind         string   `json:"kind"`
			Endpoints    []string `json:"endpoints"`
			CACertHashes []string `json:"caCertHashes"`
			Clusters     []struct {
				Cluster struct {
					Server string `json:"server"`
				} `json:"cluster"`
			} `json:"clusters"`
		}
		if !isText(e.Data) || yaml.Unmarshal(e.Data, &doc) != nil {
			continue
		}
		switch doc.Kind {
		case "JoinConfiguration":
			endpoints = append(endpoints, doc.Endpoints...)
			pins = append(pins, doc.CACertHashes...)
		case "Config":
			for _, c := range doc.Clusters {
				servers = append(servers, c.Cluster.Server)
			}
		}
	}
	if len(endpoints) == 0 {
		// No agent: the kubelet's bootstrap kubeconfig names the server.
		endpoints = servers
	}
	fmt.Fprintf(b, "endpoints: %s\n", list(dedupe(endpoints)))
	fmt.Fprintf(b, "pins: %s\n", list(dedupe(pins)))
	fmt.Fprintf(b, "tokens: %s\n", list(sortedSet(tokens)))
	fmt.Fprintf(b, "token files: %s\n", list(tokenFiles))
	var kubelet []string
	for _, p := range sortedKeys(n.Entries) {
		if bytes.Contains(n.Entries[p].Data, []byte("kind: KubeletConfiguration")) {
			kubelet = append(kubelet, p)
		}
	}
	fmt.Fprintf(b, "kubelet configuration: %s\n", list(kubelet))
}

func list(l []string) string {
	if len(l) == 0 {
		return "(none)"
	}
	return strings.Join(l, ", ")
}

func dedupe(l []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range l {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// isText reports whether b is UTF-8 without NUL bytes.
func isText(b []byte) bool {
	return utf8.Valid(b) && !bytes.ContainsRune(b, 0)
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(s, "\n", "\n  ")
}
