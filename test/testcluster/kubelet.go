package testcluster

import (
	"fmt"
	"net/url"
	"reflect"
	"sort"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// KubeletSandboxConfig returns a KubeletConfiguration changed only where the
// sandbox demands: loopback addresses and free ports (several kubelets, and
// other tests, share the machine), no cgroup management (cgroups are
// read-only; the host may be on cgroup v1), swap tolerated, and kernel
// defaults checked rather than set (/proc/sys is read-only). Every other
// field is the rendered one. It returns the new bytes and, for the test log,
// each field it changed as "field: old -> new".
func KubeletSandboxConfig(rendered []byte, port, healthzPort int) ([]byte, []string, error) {
	var cfg map[string]any
	if err := yaml.Unmarshal(rendered, &cfg); err != nil {
		return nil, nil, fmt.Errorf("the kubelet config is not YAML: %v", err)
	}
	if cfg["kind"] != "KubeletConfiguration" {
		return nil, nil, fmt.Errorf("the kubelet config is a %v, not a KubeletConfiguration", cfg["kind"])
	}
	override := map[string]any{
		"address":                "127.0.0.1",
		"healthzBindAddress":     "127.0.0.1",
		"port":                   port,
		"healthzPort":            healthzPort,
		"readOnlyPort":           0,
		"cgroupDriver":           "cgroupfs",
		"cgroupsPerQOS":          false,
		"enforceNodeAllocatable": []any{"none"},
		"failCgroupV1":           false,
		"failSwapOn":             false,
		"protectKernelDefaults":  true,
	}
	keys := make([]string, 0, len(override))
	for k := range override {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var changed []string
	for _, k := range keys {
		old, had := cfg[k]
		// Compare through JSON types (YAML numbers decode as float64).
		var want any
		data, _ := yaml.Marshal(override[k])
		_ = yaml.Unmarshal(data, &want)
		if had && reflect.DeepEqual(old, want) {
			continue
		}
		if !had {
			old = "(unset)"
		}
		changed = append(changed, fmt.Sprintf("%s: %v -> %v", k, old, override[k]))
		cfg[k] = override[k]
	}
	out, err := yaml.Marshal(cfg)
	return out, changed, err
}

// Node is the part of a core/v1 Node tests look at.
type Node struct {
	Metadata struct {
		Name   string            `json:"name"`
		Labels map[string]string `json:"labels"`
	} `json:"metadata"`
	Spec struct {
		Taints []struct {
			Key    string `json:"key"`
			Value  string `json:"value"`
			Effect string `json:"effect"`
		} `json:"taints"`
	} `json:"spec"`
	Status struct {
		Conditions []struct {
			Type    string `json:"type"`
			Status  string `json:"status"`
			Reason  string `json:"reason"`
			Message string `json:"message"`
		} `json:"conditions"`
		NodeInfo struct {
			KubeletVersion          string `json:"kubeletVersion"`
			ContainerRuntimeVersion string `json:"containerRuntimeVersion"`
		} `json:"nodeInfo"`
	} `json:"status"`
}

// Ready reports the node's Ready condition status ("True", "False",
// "Unknown", or "" when it has none yet) and its message.
func (n *Node) Ready() (string, string) {
	for _, c := range n.Status.Conditions {
		if c.Type == "Ready" {
			return c.Status, c.Message
		}
	}
	return "", ""
}

// WaitNodeReady waits until the Node exists and its Ready condition is True,
// failing the test after timeout or as soon as stop is closed (the kubelet
// exited). It returns the node and how long that took.
func (c *Cluster) WaitNodeReady(t testing.TB, name string, timeout time.Duration, stop <-chan struct{}) (*Node, time.Duration) {
	t.Helper()
	start := time.Now()
	var last string
	for {
		var n Node
		if c.Get(t, "/api/v1/nodes/"+url.PathEscape(name), &n) {
			status, msg := n.Ready()
			if status == "True" {
				return &n, time.Since(start)
			}
			last = fmt.Sprintf("Ready=%q: %s", status, msg)
		} else {
			last = "no such Node"
		}
		select {
		case <-stop:
			t.Fatalf("node %s: the kubelet exited before the node was Ready (%s)", name, last)
		case <-time.After(200 * time.Millisecond):
		}
		if time.Since(start) > timeout {
			t.Fatalf("node %s not Ready within %v: %s", name, timeout, last)
		}
	}
}

// CSR is the part of a certificates.k8s.io/v1 CertificateSigningRequest
// tests look at.
type CSR struct {
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		SignerName string   `json:"signerName"`
		Username   string   `json:"username"`
		Groups     []string `json:"groups"`
	} `json:"spec"`
	Status struct {
		Conditions []struct {
			Type   string `json:"type"`
			Status string `json:"status"`
			Reason string `json:"reason"`
		} `json:"conditions"`
		Certificate []byte `json:"certificate"`
	} `json:"status"`
}

// Approved reports whether the CSR has an Approved=True condition.
func (r *CSR) Approved() bool {
	for _, c := range r.Status.Conditions {
		if c.Type == "Approved" && c.Status == "True" {
			return true
		}
	}
	return false
}

// CSRs lists the cluster's CertificateSigningRequests.
func (c *Cluster) CSRs(t testing.TB) []CSR {
	t.Helper()
	var list struct {
		Items []CSR `json:"items"`
	}
	c.Get(t, "/apis/certificates.k8s.io/v1/certificatesigningrequests", &list)
	return list.Items
}
