package boot

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kubebake/kubebake/internal/pin"
	"github.com/kubebake/kubebake/test/boottest"
	"github.com/kubebake/kubebake/test/consumertest"
	"github.com/kubebake/kubebake/test/testcluster"
)

// TestBoot runs the machines one after another: two cores do not run two
// emulated machines at once any faster. The Ignition machines come first:
// they boot in a minute or two, the cloud-init one runs cloud-init's four stages.
func TestBoot(t *testing.T) {
	img := boottest.Load(t)
	t.Logf("accelerator: %s (%s)", img.Accel, img.AccelWhy)
	buildKubebake(t)
	testcluster.Bin(t, "kubelet")
	consumertest.Tools(t)

	t.Run("ignition fcos", func(t *testing.T) { ignitionNodes(t, img) })
	t.Run("stock images", func(t *testing.T) { stockImages(t, img) })
	t.Run("cloud-init containerd embedded: API server late then reboot", func(t *testing.T) { cloudInitLateReboot(t, img) })
	t.Run("golden image", func(t *testing.T) { goldenImage(t, img) })
}

// cloudInitLateReboot is scenarios 1, 3 and 5 on one machine: cloud-init
// from a NoCloud seed, containerd, the embedded agent. The control plane
// starts only once the join is running and waiting for it; the machine must
// reach multi-user.target without waiting for the join, join once the API
// server is up, remove the token in that boot, and end `running` with
// nothing failed. Then it is powered off and booted again: the join is
// skipped and the kubelet starts from its kubeconfig.
func cloudInitLateReboot(t *testing.T, img *boottest.Image) {
	const scenario = "cloud-init containerd embedded"
	ca := testcluster.NewCA(t, "kubernetes")
	port := testcluster.FreePort(t)
	ep := net.JoinHostPort(slirpHost.String(), strconv.Itoa(port))
	tok := newToken(t)
	n := render(t, tok, ep, writeCA(t, ca), "kb-boot-cloudinit", "cloud-init", "--runtime", "containerd", "--join-binary", "embedded")
	l := n.layer(t)
	disk := img.Disk(t, l)
	seed := boottest.Seed(t, readFile(t, n.config), "kb-boot-cloudinit-1", n.hostname)

	m := img.Boot(t, "cloud-init", disk, seed)
	// The join runs and waits: no API server is listening yet.
	waiting := m.Wait(t, "kubebake-join waiting for the API server", bootTimeout, func(s boottest.State) bool {
		return s.Get("join.ActiveState") == "activating" || s.Get("join.ActiveState") == "failed"
	})
	if waiting.Get("join.ActiveState") != "activating" {
		t.Fatalf("kubebake-join failed while no API server listened, instead of retrying: %s\njournal:\n%s", waiting, strings.Join(m.Journal(), "\n"))
	}
	// Let it retry for a while, as a control plane coming up late would.
	mu := m.Wait(t, "multi-user.target reached while the join waits", bootTimeout, func(s boottest.State) bool {
		return s.Float("mu") > 0 || s.Get("join.ActiveState") != "activating"
	})
	if mu.Get("join.ActiveState") != "activating" {
		t.Errorf("multi-user.target was reached only after the join ended (%s): the join holds the boot", mu)
	}
	time.Sleep(30 * time.Second)
	c := testcluster.StartWith(t, testcluster.Options{CA: ca, Port: port, ServingIPs: []net.IP{slirpHost}})
	// The API server serves from here: the join can verify and get its
	// credentials as soon as the token is applied, which under load may be
	// well before applyToken returns.
	serving := time.Now()
	applyToken(t, c, tok, ep)
	apiUp := time.Now()
	t.Logf("control plane up %v after qemu started", apiUp.Sub(m.Started).Round(time.Second))

	s, nodeSeen := waitJoined(t, m, c, n, "first boot")
	joinAt := s.Seconds("join.ActiveEnterTimestampMonotonic")
	if s.Seconds("mu") >= joinAt {
		t.Errorf("multi-user.target reached at %.1fs, after the join succeeded at %.1fs", s.Seconds("mu"), joinAt)
	}
	if s.Float("kubeconf") < m.Uptime(serving)-5 {
		t.Errorf("kubelet.conf written at %.1fs of uptime, before the control plane was up (~%.1fs)", s.Float("kubeconf"), m.Uptime(serving))
	}
	for !nodeRegistered(t, c, n.hostname, &nodeSeen) && time.Since(apiUp) < 5*time.Minute {
		time.Sleep(2 * time.Second)
	}
	assertRegistered(t, c, n)
	figure(t, scenario, "boot to multi-user.target", s.Seconds("mu"))
	// The control plane is started late on purpose here, so the verified
	// join waits on it: the time cloud-init takes to lay the node down and
	// start the agent is boot to kubebake-join started (issue 21 item 5
	// compares it with Ignition's), as first seen: a restart of the unit
	// while it waits would move the unit's own timestamp.
	figure(t, scenario, "boot to kubebake-join started", waiting.Seconds("join.ExecMainStartTimestampMonotonic"))
	figure(t, scenario, "control plane up (qemu start to kubebake apply done)", apiUp.Sub(m.Started).Seconds())
	figure(t, scenario, "boot to verified join", joinAt)
	figure(t, scenario, "join to kubelet.conf", s.Float("kubeconf")-joinAt)
	figure(t, scenario, "qemu start to Node registered", nodeSeen.Sub(m.Started).Seconds())
	cloudInitStages(t, scenario, s)
	if s.Get("startruns") != "1" || s.Get("startdone") != "yes" {
		t.Errorf("first boot: kubebake-start.service ran %s times (its marker there: %s), want once, and its marker written", s.Get("startruns"), s.Get("startdone"))
	}
	csrs := len(clientCSRs(t, c, tok))

	// Scenario 5: power off, boot again.
	secondBoot(t, img, m, "cloud-init, second boot", disk, seed, scenario)
	if got := len(clientCSRs(t, c, tok)); got != csrs {
		t.Errorf("second boot: %d node client CSRs, %d before: the kubelet bootstrapped again instead of using kubelet.conf", got, csrs)
	}
}

// cloudInitStages prints when each of cloud-init's four stages was done:
// where a cloud-init node's boot goes.
func cloudInitStages(t *testing.T, scenario string, s boottest.State) {
	t.Helper()
	for _, st := range []struct{ key, name string }{
		{"cilocal", "cloud-init-local.service"}, {"ciinit", "cloud-init.service"},
		{"ciconfig", "cloud-config.service"}, {"cifinal", "cloud-final.service"},
	} {
		figure(t, scenario, "boot to "+st.name+" done", s.Seconds(st.key+".ActiveEnterTimestampMonotonic"))
	}
}

// secondBoot powers m off and boots its disk again: the join must be
// skipped by its condition and the node come up joined, the kubelet
// starting from its kubeconfig.
func secondBoot(t *testing.T, img *boottest.Image, m *boottest.Machine, name, disk, seed, scenario string) {
	t.Helper()
	m.PowerOff(t, poweroffTimeout)
	m2 := img.Boot(t, name, disk, seed)
	s2 := m2.Wait(t, "up again", bootTimeout, joined)
	assertJoinedState(t, "second boot", s2)
	if s2.Get("join.ConditionResult") != "no" || s2.Float("join.ExecMainStartTimestampMonotonic") != 0 {
		t.Errorf("second boot: kubebake-join was not skipped by its condition: %s", s2)
	}
	// bootcmd runs at every boot; the start is asked for only until its
	// first run completed.
	if s2.Get("startruns") != "0" {
		t.Errorf("second boot: kubebake-start.service ran %s times, want none (its marker there: %s): the units were restarted under a joined kubelet", s2.Get("startruns"), s2.Get("startdone"))
	}
	figure(t, scenario+", second boot", "boot to multi-user.target", s2.Seconds("mu"))
	figure(t, scenario+", second boot", "boot to kubelet active", s2.Seconds("kubelet.ExecMainStartTimestampMonotonic"))
}

// ignitionNodes are scenarios 2 and 4 on one control plane: an Ignition
// config for Fedora CoreOS applied by the real applier into the image root
// before its first boot, with the agent baked into the image.
func ignitionNodes(t *testing.T, img *boottest.Image) {
	c := testcluster.StartWith(t, testcluster.Options{ServingIPs: []net.IP{slirpHost}})
	_, port, _ := net.SplitHostPort(c.Endpoint)
	ep := net.JoinHostPort(slirpHost.String(), port)

	t.Run("docker joins", func(t *testing.T) {
		runtime := "docker"
		if img.CRIDockerd == "" {
			t.Logf("cri-dockerd could not be built (%s): this node runs containerd instead", img.CRIDockerdFailed)
			runtime = "containerd"
		}
		scenario := "ignition fcos " + runtime + " baked"
		tok := newToken(t)
		applyToken(t, c, tok, ep)
		n := render(t, tok, ep, c.CACertFile, "kb-boot-ignition", "ignition", "--variant", "fcos", "--runtime", runtime, "--join-binary", "baked")
		l := ignitionLayer(t, n, img)
		if runtime == "docker" {
			l.Copy(img.CRIDockerd, "/usr/bin/cri-dockerd", 0o755)
		}
		img.ApplyIgnition(t, l, n.config)
		m := img.Boot(t, "ignition "+runtime, img.Disk(t, l), "")
		s, nodeSeen := waitJoined(t, m, c, n, scenario)
		for start := time.Now(); !nodeRegistered(t, c, n.hostname, &nodeSeen) && time.Since(start) < 5*time.Minute; {
			time.Sleep(2 * time.Second)
		}
		assertRegistered(t, c, n)
		joinAt := s.Seconds("join.ActiveEnterTimestampMonotonic")
		figure(t, scenario, "boot to multi-user.target", s.Seconds("mu"))
		figure(t, scenario, "boot to kubebake-join started", s.Seconds("join.ExecMainStartTimestampMonotonic"))
		figure(t, scenario, "boot to verified join", joinAt)
		figure(t, scenario, "join to kubelet.conf", s.Float("kubeconf")-joinAt)
		figure(t, scenario, "qemu start to Node registered", nodeSeen.Sub(m.Started).Seconds())
	})

	t.Run("pinned to another CA", func(t *testing.T) {
		tok := newToken(t)
		applyToken(t, c, tok, ep)
		other := testcluster.NewCA(t, "not-this-cluster")
		n := render(t, tok, ep, writeCA(t, other), "kb-boot-wrong-ca", "ignition", "--variant", "fcos", "--runtime", "containerd", "--join-binary", "baked")
		l := ignitionLayer(t, n, img)
		// The agent retries a cluster whose CA matches no pin until its
		// deadline (10 minutes) before it gives up for good; the test
		// shortens it, as the e2e tests pass --timeout.
		l.Write("/etc/systemd/system/kubebake-join.service.d/99-boot-test.conf", []byte(
			"# kubebake boot tier: a short deadline for the pinned-to-another-CA machine.\n[Service]\nExecStart=\nExecStart=/usr/local/bin/kubebake-join --config /etc/kubebake/join.yaml --timeout 45s\n"), 0o644)
		img.ApplyIgnition(t, l, n.config)
		m := img.Boot(t, "ignition pinned to another CA", img.Disk(t, l), "")
		s := m.Wait(t, "kubebake-join ended", bootTimeout, func(s boottest.State) bool {
			return s.Get("join.ActiveState") == "failed" || s.Get("join.ActiveState") == "active"
		})
		// Give the kubelet every chance to start wrongly, and the boot to settle.
		s = m.Wait(t, "settled", bootTimeout, func(s boottest.State) bool { return s.Get("jobs") == "0" })
		journal := strings.Join(m.Journal(), "\n")
		t.Logf("kubebake-join's journal:\n%s", shortJournal(m.Journal()))
		// Exit 3 needs live proof (issue 18): under emulation the proof can
		// miss the first run's deadline (exit 4, retried once); the next
		// run's is final. Never more than one retry.
		if r := s.Get("join.NRestarts"); s.Get("join.ActiveState") != "failed" || s.Get("join.ExecMainStatus") != "3" || (r != "0" && r != "1") {
			t.Errorf("kubebake-join should end with exit status 3 (identity not proven), retried at most once: %s", s)
		}
		if !strings.Contains(journal, c.CAPin()) || !strings.Contains(journal, pin.Hash(other.Cert)) {
			t.Errorf("kubebake-join's journal should name the cluster's CA pin %s and the pinned %s", c.CAPin(), pin.Hash(other.Cert))
		}
		if s.Float("kubelet.ExecMainStartTimestampMonotonic") != 0 || s.Get("kubelet.ActiveState") == "active" {
			t.Errorf("the kubelet started although the join failed: %s", s)
		}
		if s.Get("state") != "degraded" || s.Get("failed") != "kubebake-join.service" {
			t.Errorf("is-system-running = %q with failed units %v; want degraded with kubebake-join.service only", s.Get("state"), s.List("failed"))
		}
		// The node says so itself: status.json failed/refused/final, the
		// failure marker beside Cluster API's (absent) sentinel, and one
		// line on the console.
		if s.Get("jphase") != "failed" || s.Get("jclass") != "refused" || s.Get("jfinal") != "true" || s.Get("failmark") != "yes" || s.Get("sentinel") != "" {
			t.Errorf("status.json phase %q class %q final %s, failure marker %s, sentinel %q; want failed, refused, true, yes, none",
				s.Get("jphase"), s.Get("jclass"), s.Get("jfinal"), s.Get("failmark"), s.Get("sentinel"))
		}
		if !m.ConsoleHas("kubebake-join: join failed for good (refused") || m.ConsoleHas(tok.Secret()) {
			t.Error("the console should say \"kubebake-join: join failed for good (refused, ...)\" and never hold the token")
		}
		if ev := c.AuditEventsBy(t, "system:bootstrap:"+tok.ID()); len(ev) > 0 {
			t.Errorf("%d requests authenticated with the token of a node pinned to another CA", len(ev))
		}
		anon := 0
		for _, e := range c.AuditEventsBy(t, "system:anonymous") {
			if strings.HasPrefix(e.RequestURI, "/api/v1/namespaces/kube-public/configmaps/cluster-info") {
				anon++
			}
		}
		if anon == 0 {
			t.Errorf("no anonymous cluster-info read in the audit log: the agent never reached the cluster, so this proves nothing")
		}
		figure(t, "ignition pinned to another CA", "boot to multi-user.target", s.Seconds("mu"))
	})
}

// ignitionLayer is the layer of an Ignition node: what the image ships
// (kubelet, the baked agent, the probe), its hostname (on a cloud the
// platform gives it) and no cloud-init, as on Fedora CoreOS.
func ignitionLayer(t *testing.T, n *node, img *boottest.Image) *boottest.Layer {
	t.Helper()
	l := n.layer(t)
	agent := t.TempDir() + "/kubebake-join"
	kb(t, n.tok, "join-binary", "-o", agent)
	l.Copy(agent, "/usr/local/bin/kubebake-join", 0o755)
	l.Write("/etc/hostname", []byte(n.hostname+"\n"), 0o644)
	l.Write("/etc/cloud/cloud-init.disabled", []byte("kubebake boot tier: an Ignition node\n"), 0o644)
	return l
}

// shortJournal is a journal for the test log: its first and last lines.
func shortJournal(lines []string) string {
	const head, tail = 3, 6
	if len(lines) > head+tail+1 {
		skipped := fmt.Sprintf("... (%d lines) ...", len(lines)-head-tail)
		lines = append(append(append([]string{}, lines[:head]...), skipped), lines[len(lines)-tail:]...)
	}
	return strings.Join(lines, "\n")
}

// waitJoined waits until the machine has joined (or the join failed),
// noting when the Node first appears, and checks the machine's state.
func waitJoined(t *testing.T, m *boottest.Machine, c *testcluster.Cluster, n *node, name string) (boottest.State, time.Time) {
	t.Helper()
	var nodeSeen time.Time
	s := m.Wait(t, "joined", bootTimeout, func(s boottest.State) bool {
		nodeRegistered(t, c, n.hostname, &nodeSeen)
		return joined(s) || s.Get("join.ActiveState") == "failed"
	})
	t.Logf("kubebake-join's journal:\n%s", shortJournal(m.Journal()))
	if s.Get("join.Result") != "success" {
		t.Fatalf("kubebake-join did not succeed: %s", s)
	}
	assertJoinedState(t, name, s)
	// One line on the console (the cloud's serial output) says so, never
	// the token.
	if !m.ConsoleHas("kubebake-join: joined: ") || m.ConsoleHas(n.tok.Secret()) {
		t.Errorf("%s: the console should say \"kubebake-join: joined: ...\" and never hold the token", name)
	}
	return s, nodeSeen
}
