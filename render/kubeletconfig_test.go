package render

import (
	"os"
	"strings"
	"testing"

	"github.com/kubebake/kubebake/render/cache"
	"github.com/kubebake/kubebake/render/spec"
)

// Issue 17 defect 6: a --kubelet-config the kubelet refuses at start is
// refused at render time, with the file, the key and the fix; the same keys
// set as the kubelet takes them pass. (Each bad case rendered before.)
func TestKubeletConfigChecks(t *testing.T) {
	const head = "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n"
	for _, c := range []struct{ body, want string }{
		{"featureGates: {NoSuchGate: true}", "featureGates NoSuchGate: the v1.37 kubelet has no such gate"},
		{"featureGates: {GracefulNodeShutdwn: true}", "did you mean GracefulNodeShutdown?"},
		{"featureGates: {NodeSwap: false}", "featureGates NodeSwap: false: the kubelet has this gate locked to true"},
		{"featureGates: {GracefulNodeShutdown: true}", ""},
		{"featureGates: {RotateKubeletServerCertificate: false}", "featureGates RotateKubeletServerCertificate: false: kubebake sets serverTLSBootstrap: true, which needs this gate"},
		{"featureGates: {RotateKubeletServerCertificate: false}\nserverTLSBootstrap: false", ""},
		{"tlsMinVersion: VersionTLS99", `tlsMinVersion "VersionTLS99": the kubelet takes one of VersionTLS10`},
		{"tlsMinVersion: VersionTLS13", ""},
		{"tlsCipherSuites: [TLS_FOO]", `tlsCipherSuites "TLS_FOO": not a cipher suite`},
		{"tlsCipherSuites: [TLS_RSA_WITH_RC4_128_SHA, TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305]", ""},
		{`evictionHard: {bogus.available: "1"}`, `evictionHard "bogus.available": not an eviction signal`},
		{`evictionHard: {memory.available: "1x"}`, `evictionHard memory.available "1x": want a quantity`},
		{`evictionHard: {memory.available: "101%"}`, "want a percentage from 0% to 100%"},
		{`evictionHard: {memory.available: "0"}`, "the kubelet wants a positive quantity"},
		{`evictionHard: {memory.available: 100Mi, pid.available: "5%"}`, ""},
		{`evictionSoft: {memory.available: 100Mi}`, "evictionSoft memory.available needs a grace period"},
		{"evictionSoft: {memory.available: 100Mi}\nevictionSoftGracePeriod: {memory.available: soon}", `evictionSoftGracePeriod memory.available "soon": want a duration`},
		{"evictionSoft: {memory.available: 100Mi}\nevictionSoftGracePeriod: {memory.available: 1m}", ""},
		{`evictionMinimumReclaim: {memory.available: "-1"}`, "the kubelet wants a positive quantity"},
		{"kubeReserved: {cpu: abc}", `kubeReserved cpu "abc": want a quantity that is not negative`},
		{"systemReserved: {memory: -1Gi}", `systemReserved memory "-1Gi"`},
		{`systemReserved: {gpu: "1"}`, `systemReserved "gpu": the kubelet reserves only cpu, memory, ephemeral-storage and pid`},
		{"kubeReserved: {cpu: 500m, memory: 1Gi, ephemeral-storage: 1Gi, pid: \"100\"}", ""},
		{"logging: {format: xml}", `logging.format "xml": the kubelet takes text or json`},
		{"logging: {format: json}", ""},
		{"enforceNodeAllocatable: [pods, system-reserved]", "enforceNodeAllocatable system-reserved needs systemReservedCgroup"},
		{"enforceNodeAllocatable: [kube-reserved-compressible]", "enforceNodeAllocatable kube-reserved-compressible needs kubeReservedCgroup"},
		{"enforceNodeAllocatable: [pods, pods]", `enforceNodeAllocatable "pods" is given twice`},
		{"enforceNodeAllocatable: [none, pods]", "enforceNodeAllocatable none cannot be given with other values"},
		{"enforceNodeAllocatable: [pods]\ncgroupsPerQOS: false", "enforceNodeAllocatable pods needs cgroupsPerQOS: true"},
		{"enforceNodeAllocatable: [system-reserved, system-reserved-compressible]\nsystemReservedCgroup: /system.slice", "give system-reserved or system-reserved-compressible, not both"},
		{"enforceNodeAllocatable: [pods, system-reserved]\nsystemReservedCgroup: /system.slice", ""},
		{"cgroupDriver: cgroupfs", `cgroupDriver "cgroupfs": kubebake sets up the container runtime with the systemd cgroup driver`},
		{"cgroupDriver: systemd", ""},
	} {
		files := map[string][]byte{"kc.yaml": []byte(head + c.body + "\n")}
		read := func(name string) ([]byte, error) {
			if b, ok := files[name]; ok {
				return b, nil
			}
			return os.ReadFile(name)
		}
		for _, runtime := range []string{"docker", "containerd"} {
			in := sampleInputs()
			in.KubeletConfig = "kc.yaml"
			in.Runtime = runtime
			_, _, err := spec.NewSpec(in, cache.New(read, goldenNow))
			switch {
			case c.want == "" && err != nil:
				t.Errorf("%s (%s): %v", c.body, runtime, err)
			case c.want != "" && (err == nil || !strings.HasPrefix(err.Error(), "--kubelet-config: kc.yaml: ") || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n")):
				t.Errorf("%s (%s): got %v, want one line naming kc.yaml and %q", c.body, runtime, err, c.want)
			}
		}
	}
}
