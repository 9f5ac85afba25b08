package testcluster

import (
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

func TestKubeletSandboxConfigChangesOnlyTheSandboxFields(t *testing.T) {
	rendered := []byte(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: systemd
failSwapOn: true
rotateCertificates: true
serverTLSBootstrap: true
clusterDNS: [10.96.0.10]
authentication:
  x509:
    clientCAFile: /etc/kubernetes/pki/ca.crt
`)
	out, changed, err := KubeletSandboxConfig(rendered, 1234, 5678)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := yaml.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{
		"cgroupDriver": "cgroupfs", "failSwapOn": false, "port": float64(1234), "healthzPort": float64(5678),
		"address": "127.0.0.1", "protectKernelDefaults": true, "cgroupsPerQOS": false,
		// Untouched:
		"rotateCertificates": true, "serverTLSBootstrap": true, "kind": "KubeletConfiguration",
	} {
		if got[k] != want {
			t.Errorf("%s = %v, want %v", k, got[k], want)
		}
	}
	if ca := got["authentication"].(map[string]any)["x509"].(map[string]any)["clientCAFile"]; ca != "/etc/kubernetes/pki/ca.crt" {
		t.Errorf("authentication.x509.clientCAFile = %v", ca)
	}
	if s := strings.Join(changed, "; "); !strings.Contains(s, "cgroupDriver: systemd -> cgroupfs") || !strings.Contains(s, "failSwapOn: true -> false") {
		t.Errorf("changes not reported: %s", s)
	}
	if _, _, err := KubeletSandboxConfig([]byte("kind: Pod\n"), 1, 2); err == nil {
		t.Error("a non-KubeletConfiguration was accepted")
	}
}
