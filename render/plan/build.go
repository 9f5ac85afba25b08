package plan

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/kubebake/kubebake/embed"
	"github.com/kubebake/kubebake/internal/joinconfig"
	"github.com/kubebake/kubebake/internal/kubeconfig"
	kubeletv1beta1 "github.com/kubebake/kubebake/internal/kubeletconfig"
	"github.com/kubebake/kubebake/render/cache"
	"github.com/kubebake/kubebake/render/spec"
	"github.com/kubebake/kubebake/templates"
	toml "github.com/pelletier/go-toml/v2"
	"k8s.io/utils/ptr"
)

// Paths on the node.
const (
	KubeletConfigPath      = "/var/lib/kubelet/config.yaml"
	ContainerdConfigPath   = "/etc/containerd/config.toml"
	SysctlPath             = "/etc/sysctl.d/90-kubebake.conf"
	DockerDaemonConfigPath = "/etc/docker/daemon.json"
	ResolvConfPath         = "/run/kubebake/resolv.conf"
	ModulesPath            = "/etc/modules-load.d/kubebake.conf"
	ZramGeneratorPath      = "/etc/systemd/zram-generator.conf"
	HostnamePath           = "/etc/hostname"
	containerdEndpoint     = "unix:///run/containerd/containerd.sock"
	criDockerdEndpoint     = "unix:///run/cri-dockerd.sock"
	kubeletUnit            = "kubelet.service"
	joinUnit               = "kubebake-join.service"
	swapoffUnit            = "kubebake-swapoff.service"
	resolvConfUnit         = "kubebake-resolvconf.service"
	cleanupPath            = "kubebake-cleanup.path"
	cleanupUnit            = "kubebake-cleanup.service"
	// 90-: after a distribution's own drop-ins (kubeadm's package ships
	// 10-kubeadm.conf), so that ours decides ExecStart.
	dropinName = "90-kubebake.conf"
)

const (
	// KubeletFlagsPath is the kubelet's per-node flags, an environment file
	// the kubelet's drop-in reads (as kubeadm's kubeadm-flags.env beside
	// config.yaml). It differs from node to node, so it goes with the boot
	// part (PerNode), the token's part: a node that has the token to join
	// with has its labels too. Written only when the node has such flags.
	KubeletFlagsPath = "/var/lib/kubelet/kubebake-flags.env"
	// kubeletNodeArgs is its variable, the drop-in's last kubelet argument.
	kubeletNodeArgs = "KUBELET_NODE_ARGS"
)

// Build turns a spec into the node plan. agent is the kubebake-join binary
// to embed; it is used only with --join-binary embedded.
func Build(s *spec.Spec, agent *embed.Agent) (*Plan, error) {
	p := &Plan{Spec: s, User: s.Merge}
	paths := joinconfig.DefaultPaths()
	useAgent := s.JoinBinary != spec.JoinNone

	// The token, alone in its own file: the boot part (--part boot) is this
	// file, and everything else holds no secret and may go into an image.
	p.add(File{Path: joinconfig.DefaultTokenFile, Mode: 0o600, Contents: []byte(s.Token.Value()), Secret: true})

	// The CA bundle the kubelet trusts, and, without the agent, the
	// bootstrap kubeconfig, which names the token's file (client-go reads
	// it). The agent writes both itself once the cluster has proved its
	// identity: the pinned CAs it verified, and a kubeconfig built from
	// join.yaml.
	p.add(File{Path: paths.CACert, Mode: 0o644, Contents: s.CABundle})
	if !useAgent {
		kc, err := kubeconfig.Bootstrap(noAgentServer(s), s.CABundle, kubeconfig.AuthInfo{TokenFile: joinconfig.DefaultTokenFile})
		if err != nil {
			return nil, err
		}
		p.add(File{Path: paths.BootstrapKubeconfig, Mode: 0o600, Contents: kc})
	}

	kubeletConfig, err := kubeletConfigYAML(s, paths.CACert)
	if err != nil {
		return nil, err
	}
	p.add(File{Path: KubeletConfigPath, Mode: 0o644, Contents: kubeletConfig})
	if err := hostPlan(s, p); err != nil {
		return nil, err
	}

	// The container runtime.
	runtimeUnits, endpoint, err := runtimePlan(s, p)
	if err != nil {
		return nil, err
	}
	if ep, ok := s.KubeletConfig["containerRuntimeEndpoint"].(string); ok && ep != "" {
		endpoint = ep
	}

	// The agent.
	if useAgent {
		if err := agentPlan(s, p, paths, agent); err != nil {
			return nil, err
		}
	}
	if err := kubeletPlan(s, p, paths, runtimeUnits, endpoint); err != nil {
		return nil, err
	}
	// The token's cleanup watches before anything can join, so that it runs
	// in the boot that joins whatever else fails.
	if err := cleanupPlan(p, paths, p.AgentPath); err != nil {
		return nil, err
	}
	if useAgent {
		p.StartNoWait = append(p.StartNoWait, joinUnit)
	} else {
		p.Start = append(p.Start, kubeletUnit)
	}
	stockPlan(s, p)
	p.sort()
	return p, nil
}

// hostPlan adds the host prerequisites kubeadm checks (modules, sysctls,
// no swap), the hostname and the resolv.conf the kubelet gives pods.
func hostPlan(s *spec.Spec, p *Plan) error {
	p.add(File{Path: ModulesPath, Mode: 0o644, Contents: []byte("# Rendered by kubebake: container networking needs these at boot.\noverlay\nbr_netfilter\n")})
	p.add(File{Path: SysctlPath, Mode: 0o644, Contents: sysctlConf(map[string]string{
		"net.bridge.bridge-nf-call-iptables":  "1",
		"net.bridge.bridge-nf-call-ip6tables": "1",
		"net.ipv4.ip_forward":                 "1",
	})})
	p.add(File{Path: ZramGeneratorPath, Mode: 0o644, Contents: []byte("# Rendered by kubebake: no zram swap device; the kubelet wants swap off.\n")})
	if s.Hostname != "" {
		// The kubelet names its Node after the hostname.
		p.Hostname = s.Hostname
		p.add(File{Path: HostnamePath, Mode: 0o644, Contents: []byte(s.Hostname + "\n"), PerNode: true})
	}
	swapoff, err := templates.Execute("kubebake-swapoff.service", nil)
	if err != nil {
		return err
	}
	resolv, err := templates.Execute(resolvConfUnit, struct{ Path string }{ResolvConfPath})
	if err != nil {
		return err
	}
	p.Units = append(p.Units,
		Unit{Name: swapoffUnit, Contents: swapoff, Enabled: true},
		Unit{Name: resolvConfUnit, Contents: resolv, Enabled: true})
	p.Start = append(p.Start, "systemd-modules-load.service", "systemd-sysctl.service", swapoffUnit, resolvConfUnit)
	return nil
}

// kubeletPlan adds the kubelet's unit and its drop-in: ordered after the
// host units and the runtime's, talking to endpoint.
func kubeletPlan(s *spec.Spec, p *Plan, paths joinconfig.Paths, runtimeUnits []string, endpoint string) error {
	kubelet, err := templates.Execute("kubelet.service", struct{ KubeletPath string }{s.KubeletPath})
	if err != nil {
		return err
	}
	args := []string{
		"--bootstrap-kubeconfig=" + paths.BootstrapKubeconfig,
		"--kubeconfig=" + paths.KubeletKubeconfig,
		"--config=" + KubeletConfigPath,
		// Also in config.yaml (containerRuntimeEndpoint); the flag keeps
		// kubelets older than 1.27, which ignored the field, working. It
		// wins over the file, so it follows the user's --kubelet-config.
		"--container-runtime-endpoint=" + endpoint,
	}
	// The node's own flags come from its flags file, whose variable is the
	// last argument: the drop-in is then the same on every node of a fleet,
	// and no unit line grows with the labels (systemd and Ignition refuse a
	// unit line over 2,048 bytes).
	args = append(args, "$"+kubeletNodeArgs)
	flags, err := kubeletFlags(s)
	if err != nil {
		return err
	}
	if flags != nil {
		p.add(File{Path: KubeletFlagsPath, Mode: 0o644, Contents: flags, PerNode: true})
	}
	after := append([]string{swapoffUnit, resolvConfUnit}, runtimeUnits...)
	// Not ordered after the join (see kubebake-join.service): the kubelet is
	// gated on its credentials existing, which only the join provides.
	dropinData := struct {
		KubeletPath string
		Wants       []string
		After       []string
		Credentials []string
		JoinUnit    string
		AgentPath   string
		FlagsFile   string
		Args        []string
	}{KubeletPath: s.KubeletPath, Wants: after, After: after, Args: args, FlagsFile: KubeletFlagsPath,
		Credentials: []string{paths.KubeletKubeconfig, paths.BootstrapKubeconfig}}
	if p.AgentPath != "" {
		dropinData.JoinUnit = joinUnit
		dropinData.AgentPath = p.AgentPath
	}
	dropin, err := templates.Execute("kubelet-dropin.conf", dropinData)
	if err != nil {
		return err
	}
	p.Units = append(p.Units, Unit{Name: kubeletUnit, Contents: kubelet, Dropins: []Dropin{{Name: dropinName, Contents: dropin}}, Enabled: true})
	return nil
}

// kubeletFlags is the kubelet's flags file for s: the flags that differ
// from node to node (--node-labels), or nil when s has none.
func kubeletFlags(s *spec.Spec) ([]byte, error) {
	if len(s.NodeLabels) == 0 {
		return nil, nil
	}
	return marshalEnvFile("Rendered by kubebake: this node's kubelet flags (kubelet.service.d/"+dropinName+").",
		[]envVar{{Name: kubeletNodeArgs, Words: []string{"--node-labels=" + strings.Join(s.NodeLabels, ",")}}})
}

// cleanupPlan removes every file holding the token once the node has its
// own kubeconfig (the agent's installed copy included), as kubeadm join
// removes the bootstrap kubeconfig. With the agent (agentPath), it also
// has the agent record the join (status.json, Cluster API's sentinel, the
// console line: internal/status).
func cleanupPlan(p *Plan, paths joinconfig.Paths, agentPath string) error {
	files := []string{paths.BootstrapKubeconfig}
	for _, f := range p.Files {
		if f.Secret && f.Path != paths.BootstrapKubeconfig {
			files = append(files, f.Path)
		}
	}
	sort.Strings(files)
	data := struct {
		KubeletKubeconfig string
		Files             []string
		AgentPath         string
	}{paths.KubeletKubeconfig, files, agentPath}
	watch, err := templates.Execute(cleanupPath, data)
	if err != nil {
		return err
	}
	svc, err := templates.Execute(cleanupUnit, data)
	if err != nil {
		return err
	}
	p.Units = append(p.Units,
		Unit{Name: cleanupPath, Contents: watch, Enabled: true},
		Unit{Name: cleanupUnit, Contents: svc})
	p.Start = append(p.Start, cleanupPath)
	return nil
}

func (p *Plan) add(f File) { p.Files = append(p.Files, f) }

// runtimePlan adds the runtime's units and config and returns the units the
// kubelet starts after and its CRI endpoint.
func runtimePlan(s *spec.Spec, p *Plan) ([]string, string, error) {
	switch s.Runtime {
	case spec.RuntimeContainerd:
		conf, err := containerdConfig()
		if err != nil {
			return nil, "", err
		}
		p.add(File{Path: ContainerdConfigPath, Mode: 0o644, Contents: conf})
		dropin, err := templates.Execute("containerd-dropin.conf", struct{ ConfigPath string }{ContainerdConfigPath})
		if err != nil {
			return nil, "", err
		}
		p.Units = append(p.Units, Unit{Name: "containerd.service", Dropins: []Dropin{{Name: dropinName, Contents: dropin}}, Enabled: true})
		p.Start = append(p.Start, "containerd.service")
		return []string{"containerd.service"}, containerdEndpoint, nil
	default:
		// The flags of REFERENCE §3 go into daemon.json, which every docker
		// reads, rather than into a drop-in that replaces ExecStart: dockerd
		// is /usr/sbin/dockerd on Debian's docker.io, and FCOS and Flatcar
		// pass flags of their own (SELinux, their containerd) that such a
		// drop-in would drop. No exec-opts: the cgroup driver must match
		// the kubelet's (systemd), and docker's default on cgroup v2 is
		// systemd; a kubelet ≥ 1.35 refuses cgroup v1 hosts unless told
		// otherwise (failCgroupV1), and FCOS and Flatcar pass the driver on
		// dockerd's command line, which dockerd refuses given twice. One
		// daemon.json for every format keeps the plan the same for all.
		daemon := dockerDaemonConfig{Bridge: "none", IPTables: false, IPMasq: false}
		conf, err := json.MarshalIndent(daemon, "", "  ")
		if err != nil {
			return nil, "", err
		}
		p.add(File{Path: DockerDaemonConfigPath, Mode: 0o644, Contents: append(conf, '\n')})
		svc, err := templates.Execute("cri-docker.service", struct{ CRIDockerdPath string }{s.CRIDockerdPath})
		if err != nil {
			return nil, "", err
		}
		sock, err := templates.Execute("cri-docker.socket", nil)
		if err != nil {
			return nil, "", err
		}
		p.Units = append(p.Units,
			Unit{Name: "docker.service", Enabled: true},
			Unit{Name: "cri-docker.service", Contents: svc, Enabled: true},
			Unit{Name: "cri-docker.socket", Contents: sock, Enabled: true},
		)
		p.Start = append(p.Start, "docker.service", "cri-docker.socket", "cri-docker.service")
		return []string{"docker.service", "cri-docker.socket", "cri-docker.service"}, criDockerdEndpoint, nil
	}
}

func agentPlan(s *spec.Spec, p *Plan, paths joinconfig.Paths, agent *embed.Agent) error {
	p.AgentPath = s.AgentPath()
	jc := &joinconfig.Config{
		APIVersion:   joinconfig.APIVersion,
		Kind:         joinconfig.Kind,
		Endpoints:    s.Endpoints,
		CACertHashes: s.Pins,
		TokenFile:    joinconfig.DefaultTokenFile,
		Timeout:      joinconfig.DefaultTimeout.String(),
		Server:       s.KubeletServer,
		Paths:        paths,
	}
	key, err := json.Marshal(jc)
	if err != nil {
		return err
	}
	data, err := cache.Get(s.Cache(), "join.yaml", string(key), maxShapes, jc.Marshal)
	if err != nil {
		return fmt.Errorf("building %s: %v", joinconfig.DefaultPath, err)
	}
	p.add(File{Path: joinconfig.DefaultPath, Mode: 0o644, Contents: data})
	if s.JoinBinary == spec.JoinEmbedded {
		if agent == nil {
			return embed.ErrMissing
		}
		p.add(File{Path: p.AgentPath, Mode: 0o755, Gzip: agent.Gzip, SHA512: agent.SHA512})
	}
	unit, err := templates.Execute("kubebake-join.service", struct {
		AgentPath, ConfigPath, KubeletKubeconfig string
	}{p.AgentPath, joinconfig.DefaultPath, paths.KubeletKubeconfig})
	if err != nil {
		return err
	}
	p.Units = append(p.Units, Unit{Name: joinUnit, Contents: unit, Enabled: true})
	return nil
}

// maxShapes bounds the documents of each kind a fleet keeps: a fleet of
// many shapes makes them again rather than grow without bound.
const maxShapes = 16 << 10

// dockerDaemonConfig is the part of /etc/docker/daemon.json kubebake sets:
// a CNI plugin, not docker, does pod networking.
type dockerDaemonConfig struct {
	Bridge   string `json:"bridge"`
	IPTables bool   `json:"iptables"`
	IPMasq   bool   `json:"ip-masq"`
}

// noAgentServer is the server of the bootstrap kubeconfig when no agent
// runs: --kubelet-server's address, or else the first endpoint.
func noAgentServer(s *spec.Spec) string {
	if strings.HasPrefix(s.KubeletServer, "https://") {
		return s.KubeletServer
	}
	return "https://" + s.Endpoints[0]
}

// kubeletConfigYAML is our KubeletConfiguration with the user's fields merged
// over it, checked against k8s.io/kubelet's type.
func kubeletConfigYAML(s *spec.Spec, caFile string) ([]byte, error) {
	endpoint := criDockerdEndpoint
	if s.Runtime == spec.RuntimeContainerd {
		endpoint = containerdEndpoint
	}
	kc := kubeletv1beta1.KubeletConfiguration{
		Authentication: kubeletv1beta1.KubeletAuthentication{
			Anonymous: kubeletv1beta1.KubeletAnonymousAuthentication{Enabled: ptr.To(false)},
			Webhook:   kubeletv1beta1.KubeletWebhookAuthentication{Enabled: ptr.To(true)},
			X509:      kubeletv1beta1.KubeletX509Authentication{ClientCAFile: caFile},
		},
		Authorization:            kubeletv1beta1.KubeletAuthorization{Mode: kubeletv1beta1.KubeletAuthorizationModeWebhook},
		CgroupDriver:             "systemd",
		ClusterDNS:               s.ClusterDNS,
		ClusterDomain:            s.ClusterDomain,
		ContainerRuntimeEndpoint: endpoint,
		MaxPods:                  s.MaxPods,
		RegisterWithTaints:       s.Taints,
		ResolverConfig:           ptr.To(ResolvConfPath),
		RotateCertificates:       true,
		ServerTLSBootstrap:       true,
		FailSwapOn:               ptr.To(true),
		StaticPodPath:            "",
	}
	kc.APIVersion = "kubelet.config.k8s.io/v1beta1"
	kc.Kind = "KubeletConfiguration"
	ours, err := json.Marshal(kc)
	if err != nil {
		return nil, err
	}
	if s.KubeletConfig != nil {
		var base map[string]any
		if err := json.Unmarshal(ours, &base); err != nil {
			return nil, err
		}
		merged, err := json.Marshal(mergeJSON(base, s.KubeletConfig))
		if err != nil {
			return nil, err
		}
		ours = merged
	}
	return cache.Get(s.Cache(), "kubelet config", string(ours), maxShapes, func() ([]byte, error) { return jsonToYAML(ours) })
}

// mergeJSON merges over onto base: objects merge key by key, anything else
// in over replaces what base has.
func mergeJSON(base, over map[string]any) map[string]any {
	out := make(map[string]any, len(base))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		if bm, ok := out[k].(map[string]any); ok {
			if om, ok := v.(map[string]any); ok {
				out[k] = mergeJSON(bm, om)
				continue
			}
		}
		out[k] = v
	}
	return out
}

func sysctlConf(kv map[string]string) []byte {
	var b strings.Builder
	b.WriteString("# Rendered by kubebake: what kubeadm's preflight checks for pod networking.\n")
	for _, k := range sortedKeys(kv) {
		fmt.Fprintf(&b, "%s = %s\n", k, kv[k])
	}
	return []byte(b.String())
}

// containerdConfig is a version 2 config (containerd 1.x, and 2.x migrates
// it): the systemd cgroup driver, matching the kubelet's.
func containerdConfig() ([]byte, error) {
	cri := map[string]any{
		"containerd": map[string]any{
			"default_runtime_name": "runc",
			"runtimes": map[string]any{
				"runc": map[string]any{
					"runtime_type": "io.containerd.runc.v2",
					"options":      map[string]any{"SystemdCgroup": true},
				},
			},
		},
		"cni": map[string]any{"bin_dir": "/opt/cni/bin", "conf_dir": "/etc/cni/net.d"},
	}
	conf := map[string]any{
		"version": 2,
		"plugins": map[string]any{"io.containerd.grpc.v1.cri": cri},
	}
	body, err := toml.Marshal(conf)
	if err != nil {
		return nil, err
	}
	return append([]byte("# Rendered by kubebake.\n"), body...), nil
}
