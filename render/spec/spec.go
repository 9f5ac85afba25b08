package spec

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/kubebake/kubebake/internal/certs"
	"github.com/kubebake/kubebake/internal/endpoint"
	"github.com/kubebake/kubebake/internal/inputs"
	"github.com/kubebake/kubebake/internal/joinconfig"
	kubeletv1beta1 "github.com/kubebake/kubebake/internal/kubeletconfig"
	"github.com/kubebake/kubebake/internal/options"
	"github.com/kubebake/kubebake/internal/pin"
	"github.com/kubebake/kubebake/internal/token"
	"github.com/kubebake/kubebake/render/cache"
	yamlv3 "gopkg.in/yaml.v3"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	kubeletapis "k8s.io/kubelet/pkg/apis"
	"sigs.k8s.io/yaml"
)

// Inputs are the render inputs as the user gives them, on the command line
// or in a --config YAML file whose keys are the flag names. Each field is
// declared as an option in Options (options.go), which makes its flag, its
// config key, its default and its rules; the CLI fills Inputs through that
// table.
type Inputs struct {
	ConfigFile         string
	CA                 []string
	CACertHash         []string
	Token              string
	TokenFile          string
	APIServer          []string
	Format             string
	Variant            string
	Runtime            string
	Arch               string
	JoinBinary         string
	NodeLabels         []string
	RegisterWithTaints []string
	ClusterDNS         []string
	ClusterDomain      string
	MaxPods            int32
	KubeletPath        string
	KubeletConfig      string
	CRIDockerdPath     string
	KubeletServer      string
	// A stock image's downloads (stock.go).
	KubeletURL     string
	KubeletHash    string
	KubeletFile    string
	CRIDockerdURL  string
	CRIDockerdHash string
	Sysext         []string
	Hostname       string
	// Gzip compresses the whole (cloud-init) output; MaxSize is the
	// --max-size the output must fit (see size.go).
	Gzip    bool
	MaxSize string
	// Nodes is a fleet's nodes file, OutDir where render writes it.
	Nodes  string
	OutDir string
	// Part, Merge and MergePart are --part, --merge and --merge-part
	// (part.go).
	Part      string
	Merge     string
	MergePart string
	// Strict makes the --merge file's warnings errors (mergereport.go).
	Strict bool
	// Pointer and PointerCA are --pointer and --pointer-ca (pointer.go).
	Pointer   string
	PointerCA string
	// TokenEnv is $KUBEBAKE_TOKEN; never read from a file.
	TokenEnv string
	// Given says which options the user set, and where (a flag, or a
	// config file's line): a value equal to the default still counts as
	// set, and errors name the place it came from.
	Given options.Given
}

// Defaults are the values used when neither a flag nor the config file sets
// one, from the Default of each entry in Options.
var Defaults = func() Inputs {
	var in Inputs
	for i := range Options {
		options.SetDefault(&Options[i].Meta, Options[i].Field(&in))
	}
	return in
}()

// WithYAML returns in with the options of the YAML mapping m (a config
// file's top level, or one node's map in a fleet file) set over it, as for
// keys are option names, and errors name file:line: key.
// Options given on the command line (in.Given "--name") keep their values.
func (in Inputs) WithYAML(f *options.File, m *yamlv3.Node) (Inputs, error) {
	out := in
	out.Given = in.Given.Clone()
	set := options.NewSet(anyCommand, AllOptions(), options.BindAll(Options, &out))
	set.Given = out.Given
	if err := set.Apply(f, m); err != nil {
		return Inputs{}, err
	}
	return out, nil
}

// WithDefaults sets every option that was not given to its default.
func (in Inputs) WithDefaults() Inputs {
	out := in
	for _, b := range options.BindAll(Options, &out) {
		if !in.Given.Has(b.Name) {
			options.SetDefault(b.Meta, b.Ptr)
		}
	}
	return out
}

// extraOptions are options of other tables (the cluster commands') that a
// config file shared with render may hold.
var extraOptions []*options.Meta

// RegisterConfigKeys declares option keys that belong to another table, so
// that a config file shared between commands may hold them.
func RegisterConfigKeys(m ...*options.Meta) { extraOptions = append(extraOptions, m...) }

// AllOptions lists every option a config file may name, for any command.
func AllOptions() []*options.Meta { return append(Options.Metas(), extraOptions...) }

// Spec is the validated render input: everything the plan is built from.
type Spec struct {
	// cache holds what the nodes of a fleet have in common.
	cache *cache.Cache

	CAs      []*x509.Certificate
	CABundle []byte // the CA certificates, re-encoded as PEM
	Pins     []string
	Token    token.Token
	// Endpoints are "host:port", in the order given.
	Endpoints []string
	// KubeletServer is the server the kubelet's bootstrap kubeconfig names:
	// joinconfig.ServerClusterInfo, joinconfig.ServerDiscovered, or
	// "https://host:port".
	KubeletServer string

	Format Format
	// Part is the part of the configuration to emit (--part).
	Part Part
	// Merge is the user's own config to merge into the output (--merge).
	Merge *UserConfig
	// MergePart is the part that holds Merge when Part is not PartAll
	// (--merge-part): PartBoot or PartImage.
	MergePart  Part
	Variant    Variant
	Runtime    Runtime
	Arch       string
	JoinBinary JoinMode

	NodeLabels     []string // "key=value", validated
	Taints         []corev1.Taint
	ClusterDNS     []string
	ClusterDomain  string
	MaxPods        int32
	KubeletPath    string
	CRIDockerdPath string
	// KubeletConfig is the user's KubeletConfiguration as a JSON object,
	// merged over ours field by field.
	KubeletConfig map[string]any
	// Hostname is /etc/hostname ("": the OS or cloud decides).
	Hostname string
	// Downloads are what the node fetches and verifies at boot (a stock
	// image's kubelet, cri-dockerd, system extensions); KubeletFile is the
	// kubelet binary a tar layer carries (--kubelet-file). See stock.go.
	Downloads   []Download
	KubeletFile []byte
	// Gzip compresses the whole output (cloud-init only).
	Gzip bool
	// Pointer, when set, is where the boot part will be fetched from: the
	// user-data is an Ignition config merging it from there (pointer.go).
	Pointer string
	// PointerCA is the PEM of the CAs Ignition trusts for an https Pointer
	// besides the system's (--pointer-ca).
	PointerCA []byte
	// MaxSize is the largest output allowed, in bytes (0: no limit), and
	// what the user named it ("aws", "20000").
	MaxSize     int
	MaxSizeName string
}

// A Warning is something the user should know that does not stop rendering.
type Warning string

// NewSpec validates in, reading the files it names through c (which may
// be cache.New(os.ReadFile, time.Now()) for one node). Every error is an
// *inputs.Error naming the flag, or the config file, line and key the value
// came from.
func NewSpec(in Inputs, c *cache.Cache) (*Spec, []Warning, error) {
	s, warns, err := newSpec(in, c)
	return s, warns, in.Given.Locate(err)
}

// Cache is the cache the spec was made with: the plan and the emitters
// use it too.
func (s *Spec) Cache() *cache.Cache { return s.cache }

func newSpec(in Inputs, c *cache.Cache) (*Spec, []Warning, error) {
	if c == nil {
		c = cache.New(inputs.ReadBounded, time.Now())
	}
	if len(formats) == 0 {
		return nil, nil, errors.New("internal error: no output format registered (import github.com/kubebake/kubebake/render/emit)")
	}
	if err := options.Check(options.BindAll(Options, &in), in.Given); err != nil {
		return nil, nil, err
	}
	s := enums(in, c)
	warns, err := trust(s, in, c)
	if err != nil {
		return nil, nil, err
	}
	// Each stage reads the options of one concern, in the order errors
	// are reported.
	for _, stage := range []func(*Spec, Inputs, *cache.Cache) error{
		partAndMerge, pointer, tokenOf, endpoints, nodeOptions, outputOptions,
		func(s *Spec, in Inputs, _ *cache.Cache) error { return stockSpec(s, in) }, kubeletConfigFile,
	} {
		if err := stage(s, in, c); err != nil {
			return nil, nil, err
		}
	}
	if s.JoinBinary == JoinNone && len(s.Endpoints) > 1 && !strings.HasPrefix(s.KubeletServer, "https://") {
		warns = append(warns, Warning(fmt.Sprintf("--join-binary none: the kubelet's kubeconfig holds one server, %s; the other --api-server addresses are not used (for HA, name a load balancer with --kubelet-server)", s.Endpoints[0])))
	}
	mergeWarns, err := mergeReport(s, in.Strict)
	if err != nil {
		return nil, nil, err
	}
	warns = append(warns, mergeWarns...)
	warns = append(warns, uselessOptions(in, s)...)
	return s, warns, nil
}

// enums starts the spec with the options that are one of a list (the
// table checked them: Values, Required).
func enums(in Inputs, c *cache.Cache) *Spec {
	return &Spec{
		cache:         c,
		Format:        Format(in.Format),
		Variant:       Variant(in.Variant),
		Runtime:       Runtime(in.Runtime),
		Arch:          in.Arch,
		JoinBinary:    JoinMode(in.JoinBinary),
		ClusterDomain: in.ClusterDomain,
		MaxPods:       in.MaxPods,
	}
}

// trust reads the CA certificates and sets the pins: the CAs' and the
// extra --ca-cert-hash ones.
func trust(s *Spec, in Inputs, c *cache.Cache) ([]Warning, error) {
	cas, caWarns, err := cas(c, in.CA)
	if err != nil {
		return nil, err
	}
	var warns []Warning
	for _, w := range caWarns {
		warns = append(warns, Warning(w))
	}
	s.CAs = cas
	s.CABundle = certs.EncodePEM(s.CAs)
	seen := map[string]bool{}
	for _, c := range s.CAs {
		if h := pin.Hash(c); !seen[h] {
			seen[h] = true
			s.Pins = append(s.Pins, h)
		}
	}
	for _, p := range in.CACertHash {
		n, _ := pin.Normalize(p) // checked by the option's Validate
		if !seen[n] {
			seen[n] = true
			s.Pins = append(s.Pins, n)
		}
	}
	return warns, nil
}

// tokenOf reads the token: exactly one source (none for the image part,
// which holds no token).
func tokenOf(s *Spec, in Inputs, c *cache.Cache) error {
	if s.Part == PartImage && in.TokenFile == "" && in.Token == "" && in.TokenEnv == "" {
		return nil
	}
	var err error
	s.Token, err = inputs.Token(inputs.TokenSource{File: in.TokenFile, Value: in.Token, Env: in.TokenEnv}, c.ReadFile)
	return err
}

// endpoints sets the API server addresses and the kubelet's server.
func endpoints(s *Spec, in Inputs, _ *cache.Cache) error {
	if len(in.APIServer) == 0 {
		return inputs.Errorf("--api-server", "at least one API server address is required, e.g. --api-server 10.0.0.10:6443")
	}
	var err error
	if s.Endpoints, err = inputs.Endpoints(in.APIServer); err != nil {
		var ie *inputs.Error
		if errors.As(err, &ie) && slices.ContainsFunc(in.APIServer, func(a string) bool { return strings.Contains(a, ",") }) {
			ie.Msg += " (give each address its own --api-server, or a list in --config: api-server: [a, b])"
		}
		return err
	}
	if s.KubeletServer, err = kubeletServer(in.KubeletServer); err != nil {
		return inputs.Errorf("--kubelet-server", "%v", err)
	}
	return nil
}

// nodeOptions sets what the node's kubelet is told: labels, taints, DNS,
// domain, pods, paths, hostname. The table checked every one (their
// options' Validate), so parsing them cannot fail.
func nodeOptions(s *Spec, in Inputs, _ *cache.Cache) error {
	s.NodeLabels, _ = parseLabels(in.NodeLabels)
	s.Taints, _ = parseTaints(in.RegisterWithTaints)
	s.ClusterDNS, _ = parseClusterDNS(in.ClusterDNS)
	s.KubeletPath = orDefault(in.KubeletPath, defaultPath(s, "kubelet"))
	s.CRIDockerdPath = orDefault(in.CRIDockerdPath, defaultPath(s, "cri-dockerd"))
	s.Hostname = in.Hostname
	return nil
}

// outputOptions sets --gzip and --max-size (the table checked both).
func outputOptions(s *Spec, in Inputs, _ *cache.Cache) error {
	s.Gzip = in.Gzip
	if in.MaxSize != "" {
		s.MaxSize, _ = parseMaxSize(in.MaxSize)
		s.MaxSizeName = in.MaxSize
	}
	return nil
}

// kubeletConfigFile reads --kubelet-config: the user's KubeletConfiguration.
func kubeletConfigFile(s *Spec, in Inputs, c *cache.Cache) error {
	if in.KubeletConfig == "" {
		return nil
	}
	data, err := c.ReadFile(in.KubeletConfig)
	if err != nil {
		return inputs.Errorf("--kubelet-config", "%v", inputs.FileError(err))
	}
	if s.KubeletConfig, err = parseKubeletConfig(data); err != nil {
		return inputs.Errorf("--kubelet-config", "%s: %v", in.KubeletConfig, err)
	}
	// A flag and the file setting the same field: refuse rather than let
	// one silently lose.
	for _, f := range []struct {
		flag, field string
		set         bool
	}{
		{"--max-pods", "maxPods", in.Given.Has("max-pods")},
		{"--cluster-dns", "clusterDNS", in.Given.Has("cluster-dns")},
		{"--cluster-domain", "clusterDomain", in.Given.Has("cluster-domain")},
		{"--register-with-taints", "registerWithTaints", len(in.RegisterWithTaints) > 0},
	} {
		if _, inFile := s.KubeletConfig[f.field]; inFile && f.set {
			return inputs.Errorf(f.flag, "%s sets %s too; keep one of them", in.KubeletConfig, f.field)
		}
	}
	return nil
}

// uselessOptions warns about options the user set that do nothing in this
// combination, naming where they were set.
func uselessOptions(in Inputs, s *Spec) []Warning {
	var warns []Warning
	for _, c := range []struct {
		name    string
		useless bool
		why     string
	}{
		{"variant", !s.Info().Variant, fmt.Sprintf("only applies to Ignition and Butane output; %s ignores it", s.Format)},
		{"arch", s.JoinBinary != JoinEmbedded, fmt.Sprintf("picks the embedded kubebake-join; with --join-binary %s there is none (pass --arch to kubebake join-binary for the image)", s.JoinBinary)},
		{"cri-dockerd-path", s.Runtime != RuntimeDocker, fmt.Sprintf("only applies to --runtime docker; with %s there is no cri-dockerd", s.Runtime)},
		{"strict", s.Merge == nil || !s.Info().Variant, "only applies to a --merge file of Ignition or Butane output (Butane's and Ignition's warnings about it)"},
		{"ca-cert-hash", s.JoinBinary == JoinNone, "pins are checked by kubebake-join; with --join-binary none nothing checks them, and the kubelet trusts only the --ca bundle (a rotation pin does nothing)"},
	} {
		if c.useless && in.Given.Has(c.name) {
			warns = append(warns, Warning(in.Given.Where(c.name)+": "+c.why))
		}
	}
	return warns
}

// binDir is where binaries that are not part of the OS live: /usr is
// read-only on Flatcar (and on Fedora CoreOS /usr/local is /var/usrlocal).
func binDir(v Variant) string {
	if v == VariantFlatcar {
		return "/opt/bin"
	}
	return "/usr/local/bin"
}

func defaultPath(s *Spec, name string) string {
	if s.Variant == VariantFlatcar && s.Info().Variant {
		return "/opt/bin/" + name
	}
	return "/usr/bin/" + name
}

// AgentPath is where kubebake-join is installed (or expected, when baked).
func (s *Spec) AgentPath() string {
	if !s.Info().Variant {
		return binDir(VariantFCOS) + "/kubebake-join"
	}
	return binDir(s.Variant) + "/kubebake-join"
}

// splitList splits comma-separated values, so that a list flag may be given
// once with commas or several times.
func splitList(vals []string) []string { return options.SplitList(vals) }

// labelAllowed reports whether the kubelet accepts key in --node-labels: it
// refuses the kubernetes.io and k8s.io namespaces except its own labels
// (k8s.io/kubelet's IsKubeletLabel), and such a label would crash-loop the
// kubelet at first boot, so refuse it now.
func labelAllowed(key string) bool {
	ns, _, found := strings.Cut(key, "/")
	if !found {
		return true
	}
	restricted := func(d string) bool { return ns == d || strings.HasSuffix(ns, "."+d) }
	if !restricted("kubernetes.io") && !restricted("k8s.io") {
		return true
	}
	return kubeletapis.IsKubeletLabel(key)
}

// kubeletServer validates --kubelet-server: cluster-info (the default),
// discovered, or an address, returned as https://host:port.
func kubeletServer(v string) (string, error) {
	switch v {
	case "", joinconfig.ServerClusterInfo:
		return joinconfig.ServerClusterInfo, nil
	case joinconfig.ServerDiscovered:
		return v, nil
	}
	ep, err := endpoint.Parse(v)
	if err != nil {
		return "", fmt.Errorf("want %s, %s or an API server address (a load balancer's): %v", joinconfig.ServerClusterInfo, joinconfig.ServerDiscovered, err)
	}
	return "https://" + ep, nil
}

// parseLabels parses --node-labels: key=value, each key once, none the
// kubelet may not set itself.
func parseLabels(vals []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, l := range splitList(vals) {
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			return nil, fmt.Errorf("%q is not key=value", l)
		}
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			return nil, fmt.Errorf("label key %q: %s", k, ValidationMessage(errs))
		}
		if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
			return nil, fmt.Errorf("value of label %q: %s", k, ValidationMessage(errs))
		}
		if !labelAllowed(k) {
			return nil, fmt.Errorf("the kubelet may not set %q: labels in the kubernetes.io and k8s.io namespaces are limited to the kubelet's own (node-role.kubernetes.io/* is set by an admin or controller, not the kubelet); use your own prefix such as example.com/role", k)
		}
		if seen[k] {
			return nil, fmt.Errorf("label %q is given twice", k)
		}
		seen[k] = true
		out = append(out, k+"="+v)
	}
	if n := len(strings.Join(out, ",")); n > MaxNodeLabelBytes {
		return nil, fmt.Errorf("%d bytes of labels, more than the %d a kubelet can be given (Linux passes no argument over 128 KiB)", n, MaxNodeLabelBytes)
	}
	return out, nil
}

// MaxNodeLabelBytes bounds a node's labels, comma-joined: the kubelet gets
// them as one argument and in one environment variable (plan's flags file),
// and Linux refuses to start a program with either over 128 KiB.
const MaxNodeLabelBytes = 128<<10 - 1024

// parseTaints parses --register-with-taints: key[=value]:Effect.
func parseTaints(vals []string) ([]corev1.Taint, error) {
	var out []corev1.Taint
	for _, t := range splitList(vals) {
		kv, effect, ok := strings.Cut(t, ":")
		if !ok {
			return nil, fmt.Errorf("%q is not key[=value]:Effect", t)
		}
		k, v, _ := strings.Cut(kv, "=")
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			return nil, fmt.Errorf("taint key %q: %s", k, ValidationMessage(errs))
		}
		if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
			return nil, fmt.Errorf("value of taint %q: %s", k, ValidationMessage(errs))
		}
		out = append(out, corev1.Taint{Key: k, Value: v, Effect: corev1.TaintEffect(effect)})
	}
	return checkTaints(out)
}

// parseClusterDNS parses --cluster-dns: IP addresses pods can query, each
// once, in canonical form.
func parseClusterDNS(vals []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, d := range splitList(vals) {
		ip := net.ParseIP(d)
		switch {
		case ip == nil:
			return nil, fmt.Errorf("%q is not an IP address", d)
		case ip.IsUnspecified():
			return nil, fmt.Errorf("%s is not an address pods can send queries to; give the DNS Service's cluster IP (kubectl -n kube-system get svc kube-dns)", d)
		case seen[ip.String()]:
			return nil, fmt.Errorf("%s is given twice", d)
		}
		seen[ip.String()] = true
		out = append(out, ip.String())
	}
	return out, nil
}

// checkTaints refuses an unknown effect and two taints with the same key
// and effect: the API server refuses such a Node at registration.
func checkTaints(taints []corev1.Taint) ([]corev1.Taint, error) {
	seen := map[string]string{}
	for _, t := range taints {
		switch t.Effect {
		case corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
		default:
			return nil, fmt.Errorf("taint %q: effect %q is not NoSchedule, PreferNoSchedule or NoExecute", t.Key, t.Effect)
		}
		id := t.Key + ":" + string(t.Effect)
		if first, dup := seen[id]; dup {
			return nil, fmt.Errorf("taints %s and %s have the same key and effect; a Node may have one (the API server refuses the Node)", first, t.ToString())
		}
		seen[id] = t.ToString()
	}
	return taints, nil
}

// criEndpoint is a CRI socket address that may stand in ExecStart unquoted.
var criEndpoint = regexp.MustCompile(`^unix:///[A-Za-z0-9._+/-]+$`)

// safePath is what may stand in a unit file's ExecStart unquoted.
var safePath = regexp.MustCompile(`^/[A-Za-z0-9._+/-]+$`)

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func parseKubeletConfig(data []byte) (map[string]any, error) {
	// One document: a second one would be silently dropped.
	dec3 := yamlv3.NewDecoder(bytes.NewReader(data))
	var doc, extra yamlv3.Node
	if err := dec3.Decode(&doc); err != nil && err.Error() != "EOF" {
		return nil, fmt.Errorf("not YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if err := dec3.Decode(&extra); err == nil {
		return nil, fmt.Errorf("line %d: a second YAML document; give one KubeletConfiguration", extra.Line)
	}
	if err := options.DuplicateKey(&doc); err != nil {
		return nil, err
	}
	// Strict: a key given twice is an error, not the last one winning.
	j, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return nil, fmt.Errorf("not valid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, errors.New("want a KubeletConfiguration object (apiVersion: kubelet.config.k8s.io/v1beta1, kind: KubeletConfiguration)")
	}
	if av := m["apiVersion"]; av != "kubelet.config.k8s.io/v1beta1" {
		return nil, fmt.Errorf("apiVersion %s: want apiVersion: kubelet.config.k8s.io/v1beta1", quoteAny(av))
	}
	if k := m["kind"]; k != "KubeletConfiguration" {
		return nil, fmt.Errorf("kind %s: want kind: KubeletConfiguration", quoteAny(k))
	}
	// The runtime endpoint also goes on the kubelet's command line.
	if ep, ok := m["containerRuntimeEndpoint"]; ok {
		if str, _ := ep.(string); !criEndpoint.MatchString(str) {
			return nil, fmt.Errorf("containerRuntimeEndpoint %v: want unix:///path/to.sock", ep)
		}
	}
	// Unknown fields are errors now rather than a kubelet that refuses its
	// config at first boot.
	var check kubeletv1beta1.KubeletConfiguration
	dec = json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&check); err != nil {
		return nil, fmt.Errorf("not a KubeletConfiguration: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if err := validateKubeletConfig(m, &check); err != nil {
		return nil, err
	}
	return m, nil
}

func quoteAny(v any) string {
	if v == nil {
		return "missing"
	}
	return fmt.Sprintf("%q", fmt.Sprint(v))
}

// cas reads and checks the --ca files, once per list of files.
func cas(c *cache.Cache, paths []string) ([]*x509.Certificate, []string, error) {
	type result struct {
		certs []*x509.Certificate
		warns []string
	}
	r, err := cache.Get(c, "cas", strings.Join(paths, "\x00"), cache.Unbounded, func() (result, error) {
		certs, warns, err := inputs.CAs(paths, c.ReadFile, c.Now())
		return result{certs, warns}, err
	})
	return r.certs, r.warns, err
}
