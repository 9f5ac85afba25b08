package spec

import (
	"crypto/tls"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	kubeletv1beta1 "github.com/kubebake/kubebake/internal/kubeletconfig"
	"github.com/kubebake/kubebake/internal/options"
	"k8s.io/apimachinery/pkg/api/resource"
)

// The checks below repeat what the kubelet does at start, in code
// k8s.io/kubernetes keeps (pkg/kubelet/apis/config/validation,
// pkg/kubelet/eviction, cmd/kubelet/app) and kubebake cannot import; each
// names its source. Quantities and cipher suites use the modules the
// kubelet itself uses (apimachinery's resource, crypto/tls).

// checkNodeAllocatable is the kubelet's enforceNodeAllocatable validation
// (validation.go): known values, each once, none alone, a reserved cgroup
// for each reservation enforced, and cgroupsPerQOS.
func checkNodeAllocatable(_ map[string]any, kc *kubeletv1beta1.KubeletConfiguration) error {
	const key = "enforceNodeAllocatable"
	seen := map[string]bool{}
	for _, o := range kc.EnforceNodeAllocatable {
		if seen[o] {
			return fmt.Errorf("%s %q is given twice; give it once", key, o)
		}
		seen[o] = true
		switch o {
		case "pods":
		case "system-reserved", "system-reserved-compressible":
			if kc.SystemReservedCgroup == "" {
				return fmt.Errorf("%s %s needs systemReservedCgroup (the system daemons' cgroup, e.g. /system.slice); set it or drop %s", key, o, o)
			}
		case "kube-reserved", "kube-reserved-compressible":
			if kc.KubeReservedCgroup == "" {
				return fmt.Errorf("%s %s needs kubeReservedCgroup (the cgroup of the kubelet and runtime, e.g. /kube.slice); set it or drop %s", key, o, o)
			}
		case "none":
			if len(kc.EnforceNodeAllocatable) > 1 {
				return fmt.Errorf("%s none cannot be given with other values; give none alone", key)
			}
			continue
		default:
			return fmt.Errorf("%s %q: the kubelet takes pods, system-reserved, system-reserved-compressible, kube-reserved, kube-reserved-compressible or none", key, o)
		}
		if kc.CgroupsPerQOS != nil && !*kc.CgroupsPerQOS {
			return fmt.Errorf("%s %s needs cgroupsPerQOS: true; remove cgroupsPerQOS: false or drop %s", key, o, o)
		}
	}
	for _, p := range []string{"system-reserved", "kube-reserved"} {
		if seen[p] && seen[p+"-compressible"] {
			return fmt.Errorf("%s: give %s or %s-compressible, not both", key, p, p)
		}
	}
	return nil
}

// checkCgroupDriver: kubebake configures both runtimes with the systemd
// cgroup driver (render/plan: containerd's SystemdCgroup = true, docker's
// cgroup v2 default), and a kubelet whose driver differs fails its pods.
func checkCgroupDriver(_ map[string]any, kc *kubeletv1beta1.KubeletConfiguration) error {
	if kc.CgroupDriver != "" && kc.CgroupDriver != "systemd" {
		return fmt.Errorf("cgroupDriver %q: kubebake sets up the container runtime with the systemd cgroup driver and the kubelet's must match; remove cgroupDriver or set it to systemd", kc.CgroupDriver)
	}
	return nil
}

// gateLock says whether the kubelet lets a gate be set either way.
type gateLock int8

const (
	gateOpen      gateLock = iota
	gateLockedOn           // locked to true
	gateLockedOff          // locked to false
)

// checkFeatureGates is the kubelet's SetFromMap: a gate it does not know,
// or a locked gate set the other way, stops it at start.
func checkFeatureGates(_ map[string]any, kc *kubeletv1beta1.KubeletConfiguration) error {
	for _, name := range slices.Sorted(maps.Keys(kc.FeatureGates)) {
		on := kc.FeatureGates[name]
		lock, ok := kubeletGates[name]
		if !ok {
			hint := "remove it"
			if best := options.Closest(name, slices.Collect(maps.Keys(kubeletGates))); best != "" {
				hint = "did you mean " + best + "?"
			}
			return fmt.Errorf("featureGates %s: the v1.37 kubelet has no such gate and would refuse to start; %s", name, hint)
		}
		if (lock == gateLockedOn && !on) || (lock == gateLockedOff && on) {
			return fmt.Errorf("featureGates %s: %v: the kubelet has this gate locked to %v; remove it", name, on, !on)
		}
	}
	return nil
}

// checkTLS is cmd/kubelet's use of component-base's cliflag.TLSCipherSuites:
// the names of crypto/tls's suites, secure and insecure, and two aliases.
// (tlsMinVersion is in kubeletEnums.)
func checkTLS(_ map[string]any, kc *kubeletv1beta1.KubeletConfiguration) error {
	known := map[string]bool{
		"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305":   true,
		"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305": true,
	}
	for _, cs := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		known[cs.Name] = true
	}
	for _, name := range kc.TLSCipherSuites {
		if !known[name] {
			return fmt.Errorf("tlsCipherSuites %q: not a cipher suite Go's crypto/tls knows; give names such as TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, or remove tlsCipherSuites", name)
		}
	}
	return nil
}

// evictionSignals are the kubelet's eviction signals (pkg/kubelet/eviction/api).
var evictionSignals = []string{"memory.available", "nodefs.available", "nodefs.inodesFree", "imagefs.available", "imagefs.inodesFree", "containerfs.available", "containerfs.inodesFree", "pid.available", "allocatableMemory.available"}

// checkEviction is pkg/kubelet/eviction's ParseThresholdConfig: known
// signals; thresholds a positive quantity or a percentage of 0 to 100 %; a
// grace period for each soft threshold; minimum reclaims not negative.
func checkEviction(_ map[string]any, kc *kubeletv1beta1.KubeletConfiguration) error {
	for _, f := range []struct {
		key     string
		m       map[string]string
		reclaim bool
	}{{"evictionHard", kc.EvictionHard, false}, {"evictionSoft", kc.EvictionSoft, false}, {"evictionMinimumReclaim", kc.EvictionMinimumReclaim, true}} {
		for _, sig := range slices.Sorted(maps.Keys(f.m)) {
			if err := checkSignal(f.key, sig); err != nil {
				return err
			}
			if err := checkThreshold(f.key, sig, f.m[sig], f.reclaim); err != nil {
				return err
			}
		}
	}
	for _, sig := range slices.Sorted(maps.Keys(kc.EvictionSoftGracePeriod)) {
		if err := checkSignal("evictionSoftGracePeriod", sig); err != nil {
			return err
		}
		if d, err := time.ParseDuration(kc.EvictionSoftGracePeriod[sig]); err != nil || d < 0 {
			return fmt.Errorf("evictionSoftGracePeriod %s %q: want a duration such as 1m30s", sig, kc.EvictionSoftGracePeriod[sig])
		}
	}
	for _, sig := range slices.Sorted(maps.Keys(kc.EvictionSoft)) {
		if _, ok := kc.EvictionSoftGracePeriod[sig]; !ok {
			return fmt.Errorf("evictionSoft %s needs a grace period: add evictionSoftGracePeriod: {%s: 1m30s}", sig, sig)
		}
	}
	return nil
}

func checkSignal(key, sig string) error {
	if !slices.Contains(evictionSignals, sig) {
		return fmt.Errorf("%s %q: not an eviction signal; the kubelet's are %s", key, sig, strings.Join(evictionSignals, ", "))
	}
	return nil
}

// checkThreshold: a percentage (0 to 100 %, above 0 for a reclaim) or a
// quantity (above 0 for a threshold, not negative for a reclaim).
func checkThreshold(key, sig, v string, reclaim bool) error {
	if p, ok := strings.CutSuffix(v, "%"); ok {
		f, err := strconv.ParseFloat(p, 32)
		if err != nil || f < 0 || f > 100 || (reclaim && f == 0) {
			return fmt.Errorf("%s %s %q: want a percentage from 0%% to 100%%", key, sig, v)
		}
		return nil
	}
	q, err := resource.ParseQuantity(v)
	if err != nil {
		return fmt.Errorf("%s %s %q: want a quantity (such as 100Mi) or a percentage (such as 10%%)", key, sig, v)
	}
	if q.Sign() < 0 || (!reclaim && q.IsZero()) {
		return fmt.Errorf("%s %s %q: the kubelet wants a positive quantity", key, sig, v)
	}
	return nil
}

// checkReserved is cmd/kubelet's parseResourceList of kubeReserved and
// systemReserved: cpu, memory, ephemeral-storage and pid, each a quantity
// that is not negative.
func checkReserved(_ map[string]any, kc *kubeletv1beta1.KubeletConfiguration) error {
	for _, f := range []struct {
		key string
		m   map[string]string
	}{{"kubeReserved", kc.KubeReserved}, {"systemReserved", kc.SystemReserved}} {
		for _, r := range slices.Sorted(maps.Keys(f.m)) {
			switch r {
			case "cpu", "memory", "ephemeral-storage", "pid":
			default:
				return fmt.Errorf("%s %q: the kubelet reserves only cpu, memory, ephemeral-storage and pid", f.key, r)
			}
			q, err := resource.ParseQuantity(f.m[r])
			if err != nil || q.Sign() < 0 {
				return fmt.Errorf("%s %s %q: want a quantity that is not negative, such as 500m or 1 (cpu), 1Gi (memory)", f.key, r, f.m[r])
			}
		}
	}
	return nil
}

// checkLogging is component-base's logs validation of the format: the
// kubelet registers text and json.
func checkLogging(_ map[string]any, kc *kubeletv1beta1.KubeletConfiguration) error {
	if f := kc.Logging.Format; f != "" && f != "text" && f != "json" {
		return fmt.Errorf("logging.format %q: the kubelet takes text or json", f)
	}
	return nil
}
