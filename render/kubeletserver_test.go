package render

import (
	"strings"
	"testing"

	"github.com/kubebake/kubebake/internal/joinconfig"
)

// --kubelet-server: with the agent it goes into join.yaml; without, the
// bootstrap kubeconfig names the address itself (or the first endpoint).
func TestKubeletServer(t *testing.T) {
	for _, tc := range []struct {
		join, server, file, want string
	}{
		{string(JoinBaked), "", joinconfig.DefaultPath, "server: cluster-info\n"},
		{string(JoinBaked), "discovered", joinconfig.DefaultPath, "server: discovered\n"},
		{string(JoinBaked), "lb.example.com", joinconfig.DefaultPath, "server: https://lb.example.com:6443\n"},
		{string(JoinNone), "", joinconfig.DefaultBootstrapKubeconfig, "server: https://10.0.0.10:6443\n"},
		{string(JoinNone), "https://[fd00::1]:443", joinconfig.DefaultBootstrapKubeconfig, "server: https://[fd00::1]:443\n"},
	} {
		in := sampleInputs()
		in.JoinBinary, in.KubeletServer = tc.join, tc.server
		p, err := Build(mustSpec(t, in), nil)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, f := range p.Files {
			if f.Path == tc.file {
				found = true
				if !strings.Contains(string(f.Contents), tc.want) {
					t.Errorf("%s %q: %s lacks %q", tc.join, tc.server, tc.file, tc.want)
				}
			}
			if f.Path == "/etc/kubebake/bootstrap-kubelet.conf" {
				t.Errorf("the plan still lays down %s", f.Path)
			}
		}
		if !found {
			t.Errorf("%s %q: no %s", tc.join, tc.server, tc.file)
		}
	}
}
