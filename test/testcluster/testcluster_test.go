package testcluster

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubebake/kubebake/internal/token"
)

func TestClusterSignsClusterInfoForATokenAndAudits(t *testing.T) {
	c := Start(t)
	c.PrepareBootstrap(t)
	tok, err := token.Generate()
	if err != nil {
		t.Fatal(err)
	}
	c.CreateToken(t, tok, time.Hour)
	took := c.WaitJWS(t, tok.ID(), true, 30*time.Second)
	t.Logf("bootstrapsigner signed cluster-info for %s after %v", tok.ID(), took)

	cm := c.ClusterInfo(t)
	jws := cm.Data["jws-kubeconfig-"+tok.ID()]
	if !strings.Contains(jws, "..") {
		t.Errorf("jws-kubeconfig-%s = %q, want a detached JWS (header..signature)", tok.ID(), jws)
	}
	kc, err := ParseKubeconfig([]byte(cm.Data["kubeconfig"]))
	if err != nil || len(kc.Clusters) != 1 || kc.Clusters[0].Cluster.Server != c.Server() || string(kc.Clusters[0].Cluster.CAData) != string(c.CACertPEM) {
		t.Errorf("cluster-info kubeconfig does not name %s and the cluster CA: %v %+v", c.Server(), err, kc)
	}

	if out := c.Kubectl(t, "get", "namespace", "kube-public", "-o", "name"); strings.TrimSpace(out) != "namespace/kube-public" {
		t.Errorf("kubectl get namespace kube-public = %q", out)
	}

	c.DeleteToken(t, tok.ID())
	c.WaitJWS(t, tok.ID(), false, 30*time.Second)

	var admin int
	for _, e := range c.AuditEvents(t) {
		if e.User.Username == "kubernetes-admin" {
			admin++
		}
	}
	if admin == 0 {
		t.Errorf("audit log %s has no request by kubernetes-admin", c.AuditLogFile)
	}
	if n := len(c.AuditEventsBy(t, "system:bootstrap:"+tok.ID())); n != 0 {
		t.Errorf("audit log has %d requests as system:bootstrap:%s; nothing used the token", n, tok.ID())
	}
	if c.CAPin() == "" || !strings.HasPrefix(c.CAPin(), "sha256:") {
		t.Errorf("CAPin() = %q", c.CAPin())
	}
}

func TestSandboxKeepsTheHostUntouched(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc", "kubernetes"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc", "kubernetes", "rendered"), []byte("from the node root\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := NewSandbox(t, "kubebake-sandbox-test").WithRoot(root)
	probe := "/etc/kubebake-sandbox-probe"
	script := strings.Join([]string{
		"echo written > " + probe,
		"cat /etc/kubernetes/rendered",
		"cat /proc/sys/vm/overcommit_memory /proc/sys/kernel/panic",
		"hostname",
		"if (echo 2 > /proc/sys/vm/overcommit_memory) 2>/dev/null; then echo sysctl-writable; fi",
		"if mkdir /sys/fs/cgroup/memory/kubebake-probe 2>/dev/null; then echo cgroup-writable; fi",
		"echo run > /run/kubebake-probe",
	}, "\n")
	out, err := s.Command(t, "/bin/sh", "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("sandbox: %v\n%s", err, out)
	}
	want := "from the node root\n1\n10\nkubebake-sandbox-test\n"
	if string(out) != want {
		t.Errorf("sandbox output:\n%s\nwant:\n%s", out, want)
	}
	if _, err := os.Stat(probe); err == nil {
		os.Remove(probe)
		t.Errorf("the sandbox wrote %s on the host", probe)
	}
	if _, err := os.Stat("/run/kubebake-probe"); err == nil {
		os.Remove("/run/kubebake-probe")
		t.Errorf("the sandbox wrote /run/kubebake-probe on the host")
	}
	if data, err := os.ReadFile(filepath.Join(root, probe)); err != nil || string(data) != "written\n" {
		t.Errorf("the sandbox's write to %s should land in the node root: %q, %v", probe, data, err)
	}
	if h, _ := exec.Command("hostname").Output(); strings.TrimSpace(string(h)) == "kubebake-sandbox-test" {
		t.Errorf("the sandbox changed the host's hostname")
	}
}
