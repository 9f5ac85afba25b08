package spec

import (
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"strings"

	kubeletv1beta1 "github.com/kubebake/kubebake/internal/kubeletconfig"
)

// validateKubeletConfig applies, to the fields the user's
// KubeletConfiguration sets, the checks of the kubelet's own validation
// (pkg/kubelet/apis/config/validation, which lives in k8s.io/kubernetes and
// is not importable here) that the v1beta1 types do not express: enums and
// ranges. A config that fails them makes the kubelet exit at first boot.
func validateKubeletConfig(m map[string]any, kc *kubeletv1beta1.KubeletConfiguration) error {
	for _, check := range kubeletChecks {
		if err := check(m, kc); err != nil {
			return err
		}
	}
	return nil
}

// kubeletChecks run in this order; the first error is the one reported.
var kubeletChecks = []func(map[string]any, *kubeletv1beta1.KubeletConfiguration) error{
	checkKubeletEnums,
	checkKubeletRanges,
	checkKubeletPairs,
	checkNodeAllocatable,
	checkCgroupDriver,
	checkFeatureGates,
	checkTLS,
	checkEviction,
	checkReserved,
	checkLogging,
}

func checkKubeletEnums(m map[string]any, _ *kubeletv1beta1.KubeletConfiguration) error {
	for _, e := range kubeletEnums {
		v, ok := m[e.field]
		if !ok || e.allowed == nil {
			continue
		}
		s, _ := v.(string)
		if !slices.Contains(e.allowed, s) {
			return fmt.Errorf("%s %q: the kubelet takes one of %s", e.field, fmt.Sprint(v), strings.Join(e.allowed, ", "))
		}
	}
	return nil
}

func checkKubeletRanges(m map[string]any, _ *kubeletv1beta1.KubeletConfiguration) error {
	for _, r := range kubeletRanges {
		v, ok := m[r.field]
		if !ok {
			continue
		}
		n, err := v.(json.Number).Int64()
		if err != nil {
			return fmt.Errorf("%s %v: want a whole number", r.field, v)
		}
		if n < r.min || n > r.max {
			if r.max >= 1<<31 {
				return fmt.Errorf("%s %d: the kubelet wants %d or more", r.field, n, r.min)
			}
			return fmt.Errorf("%s %d: the kubelet wants %d to %d", r.field, n, r.min, r.max)
		}
	}
	return nil
}

// checkKubeletPairs holds the rules between fields and of list items.
func checkKubeletPairs(_ map[string]any, kc *kubeletv1beta1.KubeletConfiguration) error {
	if kc.ImageGCHighThresholdPercent != nil && kc.ImageGCLowThresholdPercent != nil && *kc.ImageGCLowThresholdPercent >= *kc.ImageGCHighThresholdPercent {
		return fmt.Errorf("imageGCLowThresholdPercent %d must be less than imageGCHighThresholdPercent %d", *kc.ImageGCLowThresholdPercent, *kc.ImageGCHighThresholdPercent)
	}
	if kc.MaxParallelImagePulls != nil && *kc.MaxParallelImagePulls > 1 && (kc.SerializeImagePulls == nil || *kc.SerializeImagePulls) {
		return fmt.Errorf("maxParallelImagePulls %d needs serializeImagePulls: false", *kc.MaxParallelImagePulls)
	}
	for _, d := range kc.ClusterDNS {
		if ip := net.ParseIP(d); ip == nil || ip.IsUnspecified() {
			return fmt.Errorf("clusterDNS %q is not an IP address a pod can reach", d)
		}
	}
	if len(kc.RegisterWithTaints) > 0 {
		if _, err := checkTaints(kc.RegisterWithTaints); err != nil {
			return err
		}
	}
	return nil
}

// kubeletEnums are the KubeletConfiguration fields that take one of a list.
var kubeletEnums = []struct {
	field   string
	allowed []string
}{
	{"cgroupDriver", []string{"systemd", "cgroupfs"}},
	{"tlsMinVersion", []string{"VersionTLS10", "VersionTLS11", "VersionTLS12", "VersionTLS13"}},
	{"hairpinMode", []string{"promiscuous-bridge", "hairpin-veth", "none"}},
	{"cpuManagerPolicy", []string{"none", "static"}},
	{"memoryManagerPolicy", []string{"None", "Static"}},
	{"topologyManagerPolicy", []string{"none", "best-effort", "restricted", "single-numa-node"}},
	{"topologyManagerScope", []string{"container", "pod"}},
	{"configMapAndSecretChangeDetectionStrategy", []string{"Get", "Cache", "Watch"}},
}

// kubeletRanges are the KubeletConfiguration numbers and their bounds.
var kubeletRanges = []struct {
	field    string
	min, max int64
}{
	{"healthzPort", 1, 65535},
	{"port", 1, 65535},
	{"readOnlyPort", 0, 65535},
	{"imageGCHighThresholdPercent", 0, 100},
	{"imageGCLowThresholdPercent", 0, 100},
	{"iptablesDropBit", 0, 31},
	{"iptablesMasqueradeBit", 0, 31},
	{"oomScoreAdj", -1000, 1000},
	{"eventBurst", 0, 1 << 31},
	{"eventRecordQPS", 0, 1 << 31},
	{"kubeAPIBurst", 0, 1 << 31},
	{"kubeAPIQPS", 0, 1 << 31},
	{"registryBurst", 0, 1 << 31},
	{"registryPullQPS", 0, 1 << 31},
	{"maxOpenFiles", 0, 1 << 62},
	{"maxPods", 1, 1 << 31},
	{"podsPerCore", 0, 1 << 31},
	{"nodeStatusMaxImages", -1, 1 << 31},
	{"nodeLeaseDurationSeconds", 1, 1 << 31},
	{"containerLogMaxFiles", 2, 1 << 31},
	{"maxParallelImagePulls", 1, 1 << 31},
}
