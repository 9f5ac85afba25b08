package spec

import (
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/kubebake/kubebake/internal/joinconfig"
	"github.com/kubebake/kubebake/internal/options"
	"github.com/kubebake/kubebake/internal/pin"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Variant is the Butane variant, which fixes the Ignition spec version.
type Variant string

const (
	VariantFCOS    Variant = "fcos"    // Butane fcos 1.6.0 → Ignition 3.5.0
	VariantFlatcar Variant = "flatcar" // Butane flatcar 1.1.0 → Ignition 3.4.0
)

var Variants = []Variant{VariantFCOS, VariantFlatcar}

// Runtime is the container runtime the kubelet talks to.
type Runtime string

const (
	RuntimeDocker     Runtime = "docker" // docker + cri-dockerd
	RuntimeContainerd Runtime = "containerd"
)

var Runtimes = []Runtime{RuntimeDocker, RuntimeContainerd}

// JoinMode says how kubebake-join reaches the node.
type JoinMode string

const (
	// JoinEmbedded puts the agent binary into the output.
	JoinEmbedded JoinMode = "embedded"
	// JoinBaked expects the agent in the image already; the output stays small.
	JoinBaked JoinMode = "baked"
	// JoinNone runs no agent: the kubelet trusts the baked CA directly.
	JoinNone JoinMode = "none"
)

var JoinModes = []JoinMode{JoinEmbedded, JoinBaked, JoinNone}

// Arches are the architectures kubebake-join is built for.
var Arches = []string{"amd64", "arm64"}

// ClusterOptions are the options that name the cluster and the token
// rather than the node: the CLI's commands that act on the cluster
// (manifests, apply, check) take them as well as render. Which command takes
// which option is the CLI's to say; this says what the options are about.
var ClusterOptions = []string{"config", "ca", "token-file", "token", "api-server", "nodes"}

// anyCommand is the command spec reads its options for: all of them. Which
// command takes which option is the CLI's to say.
const anyCommand = ""

// Options declares every render option once: its flag, config-file key,
// default, help, README text and rules all come from its entry here.
// Adding an option is adding a field to Inputs and an entry here. The
// output (-o) is the CLI's: where bytes go is not the renderer's business.
var Options = options.Table[Inputs]{
	{Meta: options.Meta{Name: "config", Arg: "FILE", NotInConfig: "a config file does not name another",
		Help: "YAML file of options keyed by flag name (ca: [ca.crt], api-server: [...]); flags win over it, relative paths in it are relative to its folder. One file may serve render, manifests, apply, check and token list, delete and prune: each takes the keys it knows"},
		Field: func(in *Inputs) any { return &in.ConfigFile }},
	{Meta: options.Meta{Name: "ca", Arg: "FILE", Config: true, Path: true,
		Help: "PEM file with the cluster CA certificate(s); repeatable (the whole bundle during a CA rotation)",
		Doc:  "PEM with the cluster CA certificate(s); repeatable. Each must be a CA; kubebake warns when one expires within 30 days. Give the whole bundle during a CA rotation: an expired CA in it (the old one, after a rotation) is left out of the bundle and the pins, with a warning naming it; a bundle with no valid CA is an error."},
		Field: func(in *Inputs) any { return &in.CA }},
	{Meta: options.Meta{Name: "ca-cert-hash", Arg: "sha256:HEX", Config: true, DefaultHelp: "the pins of the --ca certificates",
		Help: "extra CA pin (e.g. the next CA's, so the image survives a rotation); repeatable",
		Validate: func(v any) error {
			for _, p := range v.([]string) {
				if _, err := pin.Normalize(p); err != nil {
					return err
				}
			}
			return nil
		}},
		Field: func(in *Inputs) any { return &in.CACertHash }},
	{Meta: options.Meta{Name: "token-file", Arg: "FILE", Config: true, Path: true,
		Help: "file holding the bootstrap token id.secret (kubebake token generate -o FILE); - reads stdin. Exactly one of --token-file, --token, $KUBEBAKE_TOKEN",
		Doc:  "file holding the bootstrap token (`kubebake token generate -o FILE`); `-` reads stdin. Exactly one of `--token-file`, `--token`, `$KUBEBAKE_TOKEN`: prefer the file, a `--token` value shows in the process list to every user of the machine."},
		Field: func(in *Inputs) any { return &in.TokenFile }},
	{Meta: options.Meta{Name: "token", Arg: "TOKEN",
		NotInConfig: "the token itself stays out of files that get copied around; name a token-file instead",
		Help:        "the bootstrap token id.secret (visible to other users in the process list: prefer --token-file or $KUBEBAKE_TOKEN)"},
		Field: func(in *Inputs) any { return &in.Token }},
	{Meta: options.Meta{Name: "api-server", Arg: "ADDRESS", Config: true,
		Help: "API server address: host:port, [ipv6]:port or https://host:port (port 6443 when absent; IPv6 always in brackets); repeatable, tried in order at boot (HA); cluster-info names the first"},
		Field: func(in *Inputs) any { return &in.APIServer }},
	// Help and Values: the formats registered (RegisterFormat).
	{Meta: options.Meta{Name: "format", Arg: "FORMAT", Config: true, Default: "ignition", Required: true},
		Field: func(in *Inputs) any { return &in.Format }},
	{Meta: options.Meta{Name: "variant", Arg: "VARIANT", Config: true, Default: string(VariantFCOS), Required: true,
		Help:   "Butane variant: fcos (Ignition 3.5.0) or flatcar (Ignition 3.4.0); Ignition and Butane only",
		Values: options.Strings(Variants)},
		Field: func(in *Inputs) any { return &in.Variant }},
	{Meta: options.Meta{Name: "runtime", Arg: "RUNTIME", Config: true, Default: string(RuntimeDocker), Required: true,
		Help:   "container runtime: docker (with cri-dockerd) or containerd",
		Doc:    "`docker` (`/etc/docker/daemon.json` with `bridge: none`, `iptables: false`, `ip-masq: false`, plus cri-dockerd's units, since kubelet ≥ 1.24 has no dockershim) or `containerd`",
		Values: options.Strings(Runtimes)},
		Field: func(in *Inputs) any { return &in.Runtime }},
	{Meta: options.Meta{Name: "arch", Arg: "ARCH", Config: true, Default: "amd64", Required: true,
		Help:   "architecture of the embedded kubebake-join: amd64 or arm64 (--join-binary embedded only)",
		Values: options.Strings(Arches)},
		Field: func(in *Inputs) any { return &in.Arch }},
	{Meta: options.Meta{Name: "join-binary", Arg: "MODE", Config: true, Default: string(JoinEmbedded), Required: true,
		Help:   "embedded (kubebake-join inside the output), baked (already in the image: small output, see kubebake join-binary) or none (no first-boot verification: the kubelet trusts the baked CA)",
		Doc:    "`embedded` (the agent inside the output, gzip-compressed, sha512-verified by Ignition), `baked` (the image already has it, so the output stays small; `kubebake join-binary --arch A -o FILE` writes it for your image build), `none` (no first-boot verification: the kubelet trusts the baked CA directly; kubebake warns)",
		Values: options.Strings(JoinModes)},
		Field: func(in *Inputs) any { return &in.JoinBinary }, Rule: joinBinaryRule},
	{Meta: options.Meta{Name: "kubelet-server", Arg: "SERVER", Config: true, Default: joinconfig.ServerClusterInfo,
		Help: "the API server the kubelet talks to: cluster-info (the server the cluster's signed cluster-info names, as kubeadm join), discovered (the --api-server endpoint that answered kubebake-join) or an address such as a load balancer's",
		Doc:  "which API server the kubelet talks to: `cluster-info` (as `kubeadm join`: the server named in the cluster's signed `cluster-info`), `discovered` (the `--api-server` endpoint that answered kubebake-join), or an address such as a load balancer's. See [High availability](#high-availability).",
		Validate: func(v any) error {
			_, err := kubeletServer(v.(string))
			return err
		},
		Suggest: []string{joinconfig.ServerClusterInfo, joinconfig.ServerDiscovered}},
		Field: func(in *Inputs) any { return &in.KubeletServer }},
	{Meta: options.Meta{Name: "node-labels", Arg: "LABELS", Config: true, AllowEmpty: true,
		Help:     "node labels key=value[,key=value]; repeatable. Labels the kubelet may not set itself (node-role.kubernetes.io/*) are refused; an empty list sets none (a node of a --nodes file clears the defaults' labels so)",
		Validate: func(v any) error { _, err := parseLabels(v.([]string)); return err }},
		Field: func(in *Inputs) any { return &in.NodeLabels }},
	{Meta: options.Meta{Name: "register-with-taints", Arg: "TAINTS", Config: true, AllowEmpty: true,
		Help:     "taints key[=value]:Effect[,...] the node registers with; repeatable; one taint per key and effect; an empty list sets none",
		Validate: func(v any) error { _, err := parseTaints(v.([]string)); return err }},
		Field: func(in *Inputs) any { return &in.RegisterWithTaints }},
	{Meta: options.Meta{Name: "cluster-dns", Arg: "IP", Config: true, Default: "10.96.0.10",
		Help:     "cluster DNS service IPs, comma-separated or repeated",
		Validate: func(v any) error { _, err := parseClusterDNS(v.([]string)); return err }},
		Field: func(in *Inputs) any { return &in.ClusterDNS }},
	{Meta: options.Meta{Name: "cluster-domain", Arg: "DOMAIN", Config: true, Default: "cluster.local", Required: true,
		Help: "cluster domain",
		Validate: func(v any) error {
			if errs := validation.IsDNS1123Subdomain(v.(string)); len(errs) > 0 {
				return fmt.Errorf("%q: %s", v, ValidationMessage(errs))
			}
			return nil
		}},
		Field: func(in *Inputs) any { return &in.ClusterDomain }},
	{Meta: options.Meta{Name: "max-pods", Arg: "N", Config: true, Default: "110",
		Help: "maximum pods on the node",
		Validate: func(v any) error {
			if n := v.(int32); n < 1 {
				return fmt.Errorf("%d: want a positive number", n)
			}
			return nil
		}},
		Field: func(in *Inputs) any { return &in.MaxPods }},
	{Meta: options.Meta{Name: "kubelet-path", Arg: "PATH", Config: true, DefaultHelp: "/usr/bin/kubelet; /opt/bin/kubelet on flatcar",
		Help: "path of the kubelet binary on the node", Validate: cleanPath},
		Field: func(in *Inputs) any { return &in.KubeletPath }},
	{Meta: options.Meta{Name: "cri-dockerd-path", Arg: "PATH", Config: true, DefaultHelp: "/usr/bin/cri-dockerd; /opt/bin/cri-dockerd on flatcar",
		Help: "path of cri-dockerd on the node (--runtime docker only)", Validate: cleanPath},
		Field: func(in *Inputs) any { return &in.CRIDockerdPath }},
	{Meta: options.Meta{Name: "kubelet-url", Arg: "URL", Config: true,
		Help:     "fetch the kubelet at boot from URL (http or https) to --kubelet-path, for a stock image that has none; needs --kubelet-hash: the node runs it only once the hash matched",
		Doc:      "fetch the kubelet at boot from `URL` (`http` or `https`; a mirror over plain http is fine, the hash is what is trusted) to `--kubelet-path`, for a stock image that has none; needs `--kubelet-hash`. Ignition and Butane: a remote file with `verification.hash`; cloud-init and tar: `kubebake-join fetch` before the join. See [Stock images](#stock-images-the-kubelet-from-a-mirror-verified)",
		Validate: validURL},
		Field: func(in *Inputs) any { return &in.KubeletURL }, Rule: kubeletURLRule},
	{Meta: options.Meta{Name: "kubelet-hash", Arg: "HASH", Config: true,
		Help:     "sha512-HEX or sha256-HEX of the --kubelet-url file (Ignition's spelling; sha512sum prints the HEX)",
		Validate: validHash},
		Field: func(in *Inputs) any { return &in.KubeletHash }, Rule: kubeletHashRule},
	{Meta: options.Meta{Name: "kubelet-file", Arg: "FILE", Config: true, Path: true,
		Help: "put this kubelet binary into the output at --kubelet-path (--format tar only: a golden image's layer)"},
		Field: func(in *Inputs) any { return &in.KubeletFile }, Rule: kubeletFileRule},
	{Meta: options.Meta{Name: "cri-dockerd-url", Arg: "URL", Config: true,
		Help:     "fetch cri-dockerd at boot from URL to --cri-dockerd-path, verified as --kubelet-url (--runtime docker only); needs --cri-dockerd-hash",
		Validate: validURL},
		Field: func(in *Inputs) any { return &in.CRIDockerdURL }, Rule: criDockerdURLRule},
	{Meta: options.Meta{Name: "cri-dockerd-hash", Arg: "HASH", Config: true,
		Help:     "sha512-HEX or sha256-HEX of the --cri-dockerd-url file",
		Validate: validHash},
		Field: func(in *Inputs) any { return &in.CRIDockerdHash }, Rule: criDockerdHashRule},
	{Meta: options.Meta{Name: "sysext", Arg: "URL=HASH", Config: true,
		Help:     "a system extension image (Flatcar's sysext bakery: kubernetes-vX.Y.Z-x86-64.raw) fetched at boot, verified, laid down as /opt/extensions/NAME/FILE with the link /etc/extensions/NAME.raw and merged before the kubelet starts; HASH as --kubelet-hash; repeatable",
		Doc:      "a system extension image fetched at boot from `URL`, verified against `HASH` (as `--kubelet-hash`; split at the last `=`), laid down as Flatcar documents it (`/opt/extensions/NAME/FILE`, link `/etc/extensions/NAME.raw`; NAME is the file name up to `-v<digit>`) and merged by systemd-sysext before the kubelet starts; repeatable. See [Stock images](#stock-images-the-kubelet-from-a-mirror-verified)",
		Validate: validSysexts},
		Field: func(in *Inputs) any { return &in.Sysext }},
	{Meta: options.Meta{Name: "kubelet-config", Arg: "FILE", Config: true, Path: true,
		Help: "KubeletConfiguration file whose fields override kubebake's, merged field by field; unknown fields are errors, and so is a field that a flag (--max-pods, --cluster-dns, ...) sets too"},
		Field: func(in *Inputs) any { return &in.KubeletConfig }},
	{Meta: options.Meta{Name: "hostname", Arg: "NAME", Config: true, DefaultHelp: "what the OS or the cloud sets",
		Help:     "the node's hostname, written to /etc/hostname (the kubelet names its Node after it); in a --nodes file, a key of each node",
		Validate: checkHostname},
		Field: func(in *Inputs) any { return &in.Hostname }},
	{Meta: options.Meta{Name: "nodes", Arg: "FILE", NotInConfig: "give it on the command line",
		Help: "YAML file listing nodes (a name and any render option keyed as in --config, relative to its folder) and their defaults: render writes one output per node into --out-dir; manifests, apply and check act on every distinct token the nodes use, each with the terms (ttl, expires, no-expiry, groups, description, max-joins) its nodes give"},
		Field: func(in *Inputs) any { return &in.Nodes }},
	{Meta: options.Meta{Name: "out-dir", Arg: "DIR", NotInConfig: "give it on the command line",
		Help: "with --nodes: the directory that gets <node>.<ext> (0600) and index.json; replaced whole, or left as it was on an error"},
		Field: func(in *Inputs) any { return &in.OutDir }},
	{Meta: options.Meta{Name: "part", Arg: "PART", Config: true, Default: string(PartAll),
		Help:   "all (everything), image (everything but the token: no secret, the same bytes whatever the token, for a golden image) or boot (only the token, a few hundred bytes of user-data for a machine built from the image part)",
		Doc:    "`all`, `image` (everything but the token: holds no secret in any encoding and does not change when the token does, so its sha256 identifies the image; needs no token) or `boot` (only `/etc/kubebake/token`: the user-data, under 1 KB, for a machine built from the image part; kubebake-join waits for it). See [Golden images](#golden-images-no-secret-inside)",
		Values: options.Strings(Parts)},
		Field: func(in *Inputs) any { return &in.Part }},
	{Meta: options.Meta{Name: "pointer", Arg: "URL", Config: true,
		Help:     "with --part boot --format ignition: write as the user-data a pointer, an Ignition config whose ignition.config.merge fetches the boot part from URL (https://, s3://, gs:// or arn:aws:s3:...) and checks its sha512; the boot part itself goes to --boot-output, for you to upload there. The pointer holds no secret",
		Doc:      "with `--part boot --format ignition`: the user-data becomes a pointer, an Ignition config whose `ignition.config.merge` fetches the boot part from `URL` (`https://`, `s3://`, `gs://` or `arn:aws:s3:...`) and verifies its sha512; the boot part itself is written to `--boot-output` for you to upload. The pointer holds no secret. See [The token out of the metadata service](#the-token-out-of-the-metadata-service-ignition-pointer)",
		Validate: pointerURL},
		Field: func(in *Inputs) any { return &in.Pointer }, Rule: pointerRule},
	{Meta: options.Meta{Name: "pointer-ca", Arg: "FILE", Config: true, Path: true,
		Help: "PEM CA certificate(s) Ignition trusts, besides the system's, when it fetches an https --pointer (ignition.security.tls.certificateAuthorities)"},
		Field: func(in *Inputs) any { return &in.PointerCA }, Rule: pointerCARule},
	{Meta: options.Meta{Name: "merge", Arg: "FILE", Config: true, Path: true,
		Help: "the user's own config to merge into the output: Butane or Ignition (merged as Ignition merges configs) for ignition and butane, #cloud-config, a script or MIME multipart for cloud-init (a MIME multipart out); a path or unit kubebake writes is an error"},
		Field: func(in *Inputs) any { return &in.Merge }, Rule: mergeFormat},
	{Meta: options.Meta{Name: "merge-part", Arg: "PART", Config: true, Default: string(PartBoot),
		Help:   "with --merge and --part image or boot: the part the --merge file goes into: boot (the per-node user-data: applied at each node's first boot, as without --part) or image (baked once into the golden image, shared by every node built from it: it must hold no secret)",
		Doc:    "with `--merge` and `--part image` or `boot`: the part your config goes into. `boot` (the per-node user-data: applied at each node's first boot, exactly as without `--part`; your SSH keys and secrets stay out of the image) or `image` (baked once into the golden image and shared by every node built from it: a `runcmd` runs once at image build; it must hold no secret, as the image part holds none). Give the same `--merge-part` to the image and the boot render: the `configHash` of both reflects it. See [Your own config](#your-own-config---merge)",
		Values: []string{string(PartBoot), string(PartImage)}},
		Field: func(in *Inputs) any { return &in.MergePart }, Rule: mergePartRule},
	{Meta: options.Meta{Name: "strict", Config: true,
		Help: "as butane --strict: a warning of Butane's or Ignition's about the --merge file (an unknown key, a mode written in decimal) is an error (exit 2, nothing written)"},
		Field: func(in *Inputs) any { return &in.Strict }},
	{Meta: options.Meta{Name: "gzip", Config: true,
		Help: "gzip the whole cloud-init user-data (cloud-init reads gzipped user-data; about half the size); --format cloud-init only"},
		Field: func(in *Inputs) any { return &in.Gzip },
		Rule: func(in *Inputs, _ options.Given) error {
			if f, _ := LookupFormat(Format(in.Format)); in.Gzip && !f.Gzip {
				return errors.New("only cloud-init reads gzipped user-data; Ignition does not on most clouds (use --join-binary baked for a small Ignition config)")
			}
			return nil
		}},
	{Meta: options.Meta{Name: "max-size", Arg: "BYTES|CLOUD", Config: true,
		Help: "fail (exit 2, nothing written) when the output is larger than BYTES, or than a cloud's user-data limit: " + strings.Join(cloudNames(), ", "),
		Doc:  "fail (exit 2, nothing written) when the output is larger than `BYTES`, or than a cloud's user-data limit: `aws` 16384 (16 KB raw), `azure` 65535 (64 KB), `openstack` 49149 (Nova takes 65535 bytes of base64), `gcp` 262144 (256 KB). The size of `--join-binary baked` or `none` output is always printed on stderr.",
		Validate: func(v any) error {
			_, err := parseMaxSize(v.(string))
			return err
		},
		Suggest: cloudNames()},
		Field: func(in *Inputs) any { return &in.MaxSize }},
}

// SafePath reports whether p is a clean absolute path of letters, digits
// and ._+-/: one word to a shell and to a unit file, with nothing to expand.
func SafePath(p string) bool { return safePath.MatchString(p) && path.Clean(p) == p }

func cleanPath(v any) error {
	p := v.(string)
	if !SafePath(p) {
		return fmt.Errorf("%q is not a clean absolute path of letters, digits and ._+-/", p)
	}
	return nil
}
