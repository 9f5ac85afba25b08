package boot

import (
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kubebake/kubebake/test/boottest"
	"github.com/kubebake/kubebake/test/testcluster"
)

// stockImages are the machines of a stock image, one whose kubelet is not
// where the units run it from: the node fetches it (or a system extension
// holding it) from a mirror, the test's file server, and verifies it.
func stockImages(t *testing.T, img *boottest.Image) {
	c := testcluster.StartWith(t, testcluster.Options{ServingIPs: []net.IP{slirpHost}})
	_, port, _ := net.SplitHostPort(c.Endpoint)
	ep := net.JoinHostPort(slirpHost.String(), port)
	fs := boottest.NewFileServer(t)
	kubelet := readFile(t, testcluster.Bin(t, "kubelet"))

	t.Run("ignition sysext", func(t *testing.T) { ignitionSysext(t, img, c, ep, fs) })
	t.Run("cloud-init kubelet-url: mismatch, then the right bytes", func(t *testing.T) {
		if os.Getenv("KUBEBAKE_BOOT_STOCK") == "0" {
			// It passed with the fixed wait (598 s of test time under TCG on a
			// loaded machine): part of the tier; KUBEBAKE_BOOT_STOCK=0 skips
			// it for a quicker local run.
			t.Skip("KUBEBAKE_BOOT_STOCK=0: skipped")
		}
		cloudInitKubeletURL(t, img, c, ep, fs, kubelet)
	})
}

// cloudInitKubeletURL is the right-hash and the wrong-hash machines in one
// boot. cloud-init, the baked agent, --kubelet-url with the kubelet's hash;
// the image has no kubelet. The mirror first serves other bytes than the
// hash names (a wrong hash, from the node's side): kubebake-join fetch logs
// the URL and both hashes and retries; the kubelet never runs, nothing is at
// its path, the token stays in its file and is never sent. Then the mirror
// serves the kubelet: the next attempt installs it and the node joins (CSR
// issued, Node registered, running, token gone).
func cloudInitKubeletURL(t *testing.T, img *boottest.Image, c *testcluster.Cluster, ep string, fs *boottest.FileServer, kubelet []byte) {
	const scenario = "cloud-init stock kubelet-url baked"
	const kubeletPath, urlPath = "/usr/bin/kubelet", "/release/v1.37.2/bin/linux/amd64/kubelet"
	tok := newToken(t)
	applyToken(t, c, tok, ep)
	fs.Put(urlPath, []byte("not the kubelet: a mirror mid-update, or someone on the path\n"))
	want := boottest.SHA512(kubelet)
	n := render(t, tok, ep, c.CACertFile, "kb-boot-stock-ci", "cloud-init", "--runtime", "containerd", "--join-binary", "baked",
		"--kubelet-url", fs.URL(urlPath), "--kubelet-hash", want)
	l := boottest.NewLayer(t)
	l.Copy(bakedAgent(t, n), "/usr/local/bin/kubebake-join", 0o755)
	l.AddProbe(tok.ID(), n.tokenFiles())
	l.AddWatch(kubeletPath, "/etc/kubebake/token")
	disk, seed := img.Disk(t, l), boottest.Seed(t, readFile(t, n.config), "kb-boot-stock-ci-1", n.hostname)
	m := img.Boot(t, "cloud-init stock kubelet", disk, seed)

	s := m.Wait(t, "a hash mismatch logged", bootTimeout, func(s boottest.State) bool {
		return s.Get("join.ActiveState") == "failed" ||
			s.Get("join.ActiveState") == "activating" && strings.Contains(strings.Join(m.Journal(), "\n"), "hash mismatch")
	})
	// Another attempt or two, and a probe line from after them.
	up := s.Float("up")
	s = m.Wait(t, "still not joined", 5*time.Minute, func(s boottest.State) bool { return s.Float("up") > up+10 })
	journal := strings.Join(m.Journal(), "\n")
	t.Logf("kubebake-join fetch, while the mirror serves other bytes:\n%s", shortJournal(m.Journal()))
	for _, w := range []string{fs.URL(urlPath), "hash mismatch", "expected " + want, "nothing installed at " + kubeletPath} {
		if !strings.Contains(journal, w) {
			t.Errorf("the journal does not say %q", w)
		}
	}
	if s.Float("kubelet.ExecMainStartTimestampMonotonic") != 0 || s.Get("kubelet.ActiveState") == "active" {
		t.Errorf("the kubelet ran although its download did not verify: %s", s)
	}
	if s.Get("watch:"+kubeletPath) != "no" {
		t.Errorf("something is at %s although no download verified (watch=%q)", kubeletPath, s.Get("watch:"+kubeletPath))
	}
	if s.Get("watch:/etc/kubebake/token") != "yes" {
		t.Errorf("the token file is gone before the node joined")
	}
	if s.Get("join.ActiveState") != "activating" {
		t.Errorf("kubebake-join is %s, want activating (fetching, retrying)", s.Get("join.ActiveState"))
	}
	if ev := c.AuditEventsBy(t, "system:bootstrap:"+tok.ID()); len(ev) > 0 {
		t.Errorf("%d requests with the token before the kubelet was verified", len(ev))
	}
	mismatchAt := time.Now()

	fs.Put(urlPath, kubelet)
	s, nodeSeen := waitJoined(t, m, c, n, scenario)
	for start := time.Now(); !nodeRegistered(t, c, n.hostname, &nodeSeen) && time.Since(start) < 5*time.Minute; {
		time.Sleep(2 * time.Second)
	}
	assertRegistered(t, c, n)
	if s.Get("watch:"+kubeletPath) != "yes" || !strings.HasPrefix(s.Get("kubeletcmd"), kubeletPath+",") {
		t.Errorf("the kubelet does not run from %s: %s", kubeletPath, s.Get("kubeletcmd"))
	}
	if !strings.Contains(strings.Join(m.Journal(), "\n"), "installed "+kubeletPath) {
		t.Errorf("the journal does not say the kubelet was installed")
	}
	t.Logf("file server: %v", fs.Requests())
	figure(t, scenario, "boot to multi-user.target", s.Seconds("mu"))
	figure(t, scenario, "right bytes served to verified join", s.Seconds("join.ActiveEnterTimestampMonotonic")-m.Uptime(mismatchAt))
	figure(t, scenario, "qemu start to Node registered", nodeSeen.Sub(m.Started).Seconds())
	cloudInitStages(t, scenario, s)

	// A second boot of this baked node: the reference for the embedded
	// cloud-init node's second boot (issue 21 item 5). The join is skipped
	// and the kubelet starts from its kubeconfig and the fetched kubelet.
	secondBoot(t, img, m, "cloud-init stock kubelet, second boot", disk, seed, scenario)
}

// ignitionSysext: Ignition (fcos), the baked agent, a system extension built
// by the test as the Flatcar bakery's (kubelet, its own kubelet.service, a
// 10-kubeadm.conf drop-in with another command line, Upholds=), fetched and
// verified by the real applier from the file server, merged by
// systemd-sysext at boot: the node joins with our kubelet command line.
func ignitionSysext(t *testing.T, img *boottest.Image, c *testcluster.Cluster, ep string, fs *boottest.FileServer) {
	const scenario = "ignition fcos sysext baked"
	const urlPath = "/extensions/kubernetes-v1.37.2-x86-64.raw"
	raw := img.Sysext(t, "kubernetes", testcluster.Bin(t, "kubelet"))
	fs.Put(urlPath, raw)
	tok := newToken(t)
	applyToken(t, c, tok, ep)
	n := render(t, tok, ep, c.CACertFile, "kb-boot-stock-sysext", "ignition", "--variant", "fcos", "--runtime", "containerd", "--join-binary", "baked",
		"--sysext", fs.URL(urlPath)+"="+boottest.SHA512(raw))
	l := boottest.NewLayer(t)
	l.Copy(bakedAgent(t, n), "/usr/local/bin/kubebake-join", 0o755)
	l.Write("/etc/hostname", []byte(n.hostname+"\n"), 0o644)
	l.Write("/etc/cloud/cloud-init.disabled", []byte("kubebake boot tier: an Ignition node\n"), 0o644)
	l.AddProbe(tok.ID(), n.tokenFiles())
	img.ApplyIgnition(t, l, n.config)
	m := img.Boot(t, "ignition sysext", img.Disk(t, l), "")
	s, nodeSeen := waitJoined(t, m, c, n, scenario)
	for start := time.Now(); !nodeRegistered(t, c, n.hostname, &nodeSeen) && time.Since(start) < 5*time.Minute; {
		time.Sleep(2 * time.Second)
	}
	assertRegistered(t, c, n)
	if s.Get("sysext") != "kubernetes" {
		t.Errorf("merged extensions: %q, want kubernetes", s.Get("sysext"))
	}
	for _, k := range []string{"kubeletcmd", "kubeletexec"} {
		if v := s.Get(k); !strings.HasPrefix(v, "/usr/bin/kubelet,") || strings.Contains(v, "must-not-run") {
			t.Errorf("%s = %q: not our kubelet command line", k, v)
		}
	}
	if s.Get("kubelet.NRestarts") != "0" {
		t.Errorf("the kubelet restarted %s times", s.Get("kubelet.NRestarts"))
	}
	figure(t, scenario, "boot to multi-user.target", s.Seconds("mu"))
	figure(t, scenario, "boot to verified join", s.Seconds("join.ActiveEnterTimestampMonotonic"))
	figure(t, scenario, "qemu start to Node registered", nodeSeen.Sub(m.Started).Seconds())
}

// bakedAgent is the agent `kubebake join-binary` writes for an image build.
func bakedAgent(t *testing.T, n *node) string {
	t.Helper()
	agent := t.TempDir() + "/kubebake-join"
	kb(t, n.tok, "join-binary", "-o", agent)
	return agent
}
