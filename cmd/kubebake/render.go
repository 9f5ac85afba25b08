package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/kubebake/kubebake/embed"
	"github.com/kubebake/kubebake/render"
	"github.com/spf13/pflag"
)

func init() {
	register(command{name: "render", summary: "render a worker's Ignition, Butane or cloud-init", run: runRender})
}

const renderUsage = `render --ca ca.crt --token-file token --api-server HOST:PORT [flags]

Renders what a worker needs to join the cluster at first boot: the bootstrap
kubeconfig, the kubelet unit and config, the container runtime's units, host
prerequisites, and kubebake-join, which proves the cluster's identity (its CA
pin and the token's JWS signature) before the kubelet may send the token.

The output holds the bootstrap token: it is written with mode 0600. Every
flag may also be given in a YAML file with --config, keyed by flag name
(ca: [ca.crt], api-server: [...], ...); flags win over the file.

Flags:`

func runRender(env *cliEnv, args []string) error {
	fs := newFlagSet(env, "render", renderUsage)
	var in render.Inputs
	var configFile, output string
	fs.StringVar(&configFile, "config", "", "YAML `file` with any of these flags, keyed by flag name")
	fs.StringArrayVar(&in.CA, "ca", nil, "PEM `file` with the cluster CA certificate(s); repeatable (a bundle during CA rotation)")
	fs.StringArrayVar(&in.CACertHash, "ca-cert-hash", nil, "extra CA pin `sha256:HEX` (e.g. the next CA's, so the image survives a rotation); repeatable. Default: the pins of the --ca certificates")
	fs.StringVar(&in.TokenFile, "token-file", "", "`file` holding the bootstrap token (preferred: a --token value is visible to other users in the process list)")
	fs.StringVar(&in.Token, "token", "", "the bootstrap `token` id.secret (prefer --token-file or $KUBEBAKE_TOKEN)")
	fs.StringArrayVar(&in.APIServer, "api-server", nil, "API server `address`: host:port, [ipv6]:port or https://host:port (port 6443 when absent); repeatable, tried in order")
	fs.StringVar(&in.Format, "format", "", "output `format`: ignition, butane, cloud-init, or plan (what the node gets, as JSON) (default ignition)")
	fs.StringVar(&in.Variant, "variant", "", "Butane `variant`: fcos (Ignition 3.5.0) or flatcar (Ignition 3.4.0) (default fcos)")
	fs.StringVar(&in.Runtime, "runtime", "", "container `runtime`: docker (with cri-dockerd) or containerd (default docker)")
	fs.StringVar(&in.Arch, "arch", "", "node `architecture` of the embedded kubebake-join: amd64 or arm64 (default amd64)")
	fs.StringVar(&in.JoinBinary, "join-binary", "", "`mode`: embedded (kubebake-join inside the output), baked (already in the image; small output, see `kubebake join-binary`), or none (no first-boot verification: the kubelet trusts the baked CA) (default embedded)")
	fs.StringArrayVar(&in.NodeLabels, "node-labels", nil, "node `labels` key=value[,key=value]; repeatable")
	fs.StringArrayVar(&in.RegisterWithTaints, "register-with-taints", nil, "`taints` key[=value]:Effect[,...] the node registers with; repeatable")
	fs.StringArrayVar(&in.ClusterDNS, "cluster-dns", nil, "cluster DNS service `IP`s (default 10.96.0.10)")
	fs.StringVar(&in.ClusterDomain, "cluster-domain", "", "cluster `domain` (default cluster.local)")
	fs.Int32Var(&in.MaxPods, "max-pods", 0, "maximum pods on the node (default 110)")
	fs.StringVar(&in.KubeletPath, "kubelet-path", "", "`path` of the kubelet binary on the node (default /usr/bin/kubelet; /opt/bin/kubelet on flatcar)")
	fs.StringVar(&in.CRIDockerdPath, "cri-dockerd-path", "", "`path` of cri-dockerd on the node (default /usr/bin/cri-dockerd; /opt/bin/cri-dockerd on flatcar)")
	fs.StringVar(&in.KubeletServer, "kubelet-server", "", "API server the kubelet talks to: cluster-info (the server the cluster's signed cluster-info names, as kubeadm join), discovered (the --api-server endpoint that answered kubebake-join), or an `address` such as a load balancer's (default cluster-info)")
	fs.StringVar(&in.KubeletConfig, "kubelet-config", "", "KubeletConfiguration `file` whose fields override kubebake's")
	fs.StringVarP(&output, "output", "o", "", "write to `file` (mode 0600, atomically) instead of stdout")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	in.TokenEnv = env.getenv("KUBEBAKE_TOKEN")
	if configFile != "" {
		data, err := os.ReadFile(configFile)
		if err != nil {
			return usageErrorf("--config: %v", err)
		}
		fileIn, err := render.ParseInputsFile(data)
		if err != nil {
			return usageErrorf("--config: %s: %v", configFile, err)
		}
		in = mergeInputs(fs, in, fileIn)
	}
	in = withDefaults(in)

	spec, warns, err := render.NewSpec(in, render.Env{ReadFile: os.ReadFile, Now: time.Now})
	if err != nil {
		return asUsage(err)
	}
	for _, w := range warns {
		fmt.Fprintln(env.stderr, "kubebake render: warning:", w)
	}
	if spec.JoinBinary == render.JoinNone {
		fmt.Fprintln(env.stderr, "kubebake render: warning: --join-binary none: the node does no first-boot verification; the kubelet sends the token to whatever answers at the API server address, trusting only the baked CA")
	}
	var agent *embed.Agent
	if spec.JoinBinary == render.JoinEmbedded {
		a, err := embed.Load(spec.Arch)
		if err != nil {
			return err
		}
		agent = &a
	}
	out, err := render.Render(spec, agent)
	if err != nil {
		return err
	}
	return writeOutput(env, output, out, 0o600)
}

// mergeInputs fills what the command line left unset from the config file.
func mergeInputs(fs *pflag.FlagSet, flags, file render.Inputs) render.Inputs {
	out := file
	out.TokenEnv = flags.TokenEnv
	set := func(name string) bool { return fs.Changed(name) }
	if set("ca") {
		out.CA = flags.CA
	}
	if set("ca-cert-hash") {
		out.CACertHash = flags.CACertHash
	}
	if set("token") || set("token-file") {
		out.Token, out.TokenFile = flags.Token, flags.TokenFile
	}
	if set("api-server") {
		out.APIServer = flags.APIServer
	}
	for _, f := range []struct {
		name      string
		dst, from *string
	}{
		{"format", &out.Format, &flags.Format}, {"variant", &out.Variant, &flags.Variant},
		{"runtime", &out.Runtime, &flags.Runtime}, {"arch", &out.Arch, &flags.Arch},
		{"join-binary", &out.JoinBinary, &flags.JoinBinary}, {"cluster-domain", &out.ClusterDomain, &flags.ClusterDomain},
		{"kubelet-path", &out.KubeletPath, &flags.KubeletPath}, {"cri-dockerd-path", &out.CRIDockerdPath, &flags.CRIDockerdPath},
		{"kubelet-config", &out.KubeletConfig, &flags.KubeletConfig},
		{"kubelet-server", &out.KubeletServer, &flags.KubeletServer},
	} {
		if set(f.name) {
			*f.dst = *f.from
		}
	}
	if set("node-labels") {
		out.NodeLabels = flags.NodeLabels
	}
	if set("register-with-taints") {
		out.RegisterWithTaints = flags.RegisterWithTaints
	}
	if set("cluster-dns") {
		out.ClusterDNS = flags.ClusterDNS
	}
	if set("max-pods") {
		out.MaxPods = flags.MaxPods
	}
	return out
}

func withDefaults(in render.Inputs) render.Inputs {
	d := render.Defaults
	for _, f := range []struct {
		dst *string
		def string
	}{
		{&in.Format, d.Format}, {&in.Variant, d.Variant}, {&in.Runtime, d.Runtime},
		{&in.Arch, d.Arch}, {&in.JoinBinary, d.JoinBinary}, {&in.ClusterDomain, d.ClusterDomain},
	} {
		if *f.dst == "" {
			*f.dst = f.def
		}
	}
	if len(in.ClusterDNS) == 0 {
		in.ClusterDNS = d.ClusterDNS
	}
	if in.MaxPods == 0 {
		in.MaxPods = d.MaxPods
	}
	return in
}

// asUsage makes input errors usage errors (exit 2).
func asUsage(err error) error {
	var ie *render.InputError
	if errors.As(err, &ie) {
		return &usageError{msg: ie.Error()}
	}
	return err
}

// writeOutput writes data to path atomically with perm, or to stdout when
// path is "" or "-".
func writeOutput(env *cliEnv, path string, data []byte, perm os.FileMode) error {
	if path == "" || path == "-" {
		_, err := env.stdout.Write(data)
		return err
	}
	if strings.HasSuffix(path, "/") {
		return usageErrorf("--output: %q is a directory; name a file", path)
	}
	if err := writeFileAtomic(path, data, perm); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
