package render

import (
	"strings"
	"testing"

	"github.com/kubebake/kubebake/internal/joinconfig"
	"github.com/kubebake/kubebake/render/plan"
	"github.com/kubebake/kubebake/render/spec"
)

// --kubelet-server: with the agent it goes into join.yaml; without, the
// bootstrap kubeconfig names the address itself (or the first endpoint).
func TestKubeletServer(t *testing.T) {
	for _, tc := range []struct {
		join, server, file, want string
	}{
		{string(spec.JoinBaked), "", joinconfig.DefaultPath, "server: cluster-info\n"},
		{string(spec.JoinBaked), "discovered", joinconfig.DefaultPath, "server: discovered\n"},
		{string(spec.JoinBaked), "lb.example.com", joinconfig.DefaultPath, "server: https://lb.example.com:6443\n"},
		{string(spec.JoinNone), "", joinconfig.DefaultBootstrapKubeconfig, "server: https://10.0.0.10:6443\n"},
		{string(spec.JoinNone), "https://[fd00::1]:443", joinconfig.DefaultBootstrapKubeconfig, "server: https://[fd00::1]:443\n"},
	} {
		in := sampleInputs()
		in.JoinBinary, in.KubeletServer = tc.join, tc.server
		p, err := plan.Build(mustSpec(t, in), nil)
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
