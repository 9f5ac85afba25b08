package boot

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubebake/kubebake/internal/joinconfig"
	"github.com/kubebake/kubebake/internal/token"
	"github.com/kubebake/kubebake/test/boottest"
	"github.com/kubebake/kubebake/test/testcluster"
)

// goldenImage is the proof of golden images with no secret inside, on real
// boots. One image part is rendered with no token at all, as a tar, and
// laid into each machine's root before its first boot, nothing else of
// kubebake's (the kubelet is what the image ships; the probe is the test's
// instrument). Each machine gets only its boot part, the token, as
// cloud-init user-data from a NoCloud seed:
//   - a token the cluster does not know: kubebake-join says so in the
//     journal and keeps retrying, the kubelet does not start, and no request
//     is made with the token; once `kubebake apply` makes the token known,
//     the machine joins;
//   - another token, a second machine from the same image: it joins.
func goldenImage(t *testing.T, img *boottest.Image) {
	c := testcluster.StartWith(t, testcluster.Options{ServingIPs: []net.IP{slirpHost}})
	_, port, _ := net.SplitHostPort(c.Endpoint)
	ep := net.JoinHostPort(slirpHost.String(), port)
	imageTar := filepath.Join(t.TempDir(), "image.tar")
	kb(t, token.Token{}, "render", "--ca", c.CACertFile, "--api-server", ep, "--part", "image", "--format", "tar",
		"--runtime", "containerd", "--join-binary", "embedded", "-o", imageTar)
	tokenFiles := []string{joinconfig.DefaultPaths().BootstrapKubeconfig, joinconfig.DefaultTokenFile}

	boot := func(t *testing.T, name string, tok token.Token, extra ...string) *boottest.Machine {
		t.Helper()
		dir := t.TempDir()
		tokenFile, userData := filepath.Join(dir, "token"), filepath.Join(dir, "user-data")
		if err := os.WriteFile(tokenFile, []byte(tok.Value()+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		kb(t, tok, append([]string{"render", "--ca", c.CACertFile, "--api-server", ep, "--token-file", tokenFile,
			"--part", "boot", "--format", "cloud-init", "-o", userData}, extra...)...)
		l := boottest.NewLayer(t)
		if err := os.MkdirAll(l.Dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("tar", "--numeric-owner", "-xpf", imageTar, "-C", l.Dir).CombinedOutput(); err != nil {
			t.Fatalf("tar -x: %v\n%s", err, out)
		}
		l.Copy(testcluster.Bin(t, "kubelet"), "/usr/bin/kubelet", 0o755)
		l.AddProbe(tok.ID(), tokenFiles)
		return img.Boot(t, name, img.Disk(t, l), boottest.Seed(t, readFile(t, userData), name+"-1", name))
	}

	// joins waits for machine m to join with tok and checks it as the other
	// scenarios do.
	joins := func(t *testing.T, scenario, name string, tok token.Token, m *boottest.Machine) {
		t.Helper()
		var nodeSeen time.Time
		s := m.Wait(t, "joined", bootTimeout, func(s boottest.State) bool {
			nodeRegistered(t, c, name, &nodeSeen)
			return joined(s) || s.Get("join.ActiveState") == "failed"
		})
		t.Logf("kubebake-join's journal:\n%s", strings.Join(m.Journal(), "\n"))
		if s.Get("join.Result") != "success" {
			t.Fatalf("kubebake-join did not succeed: %s", s)
		}
		assertJoinedState(t, scenario, s)
		for start := time.Now(); !nodeRegistered(t, c, name, &nodeSeen) && time.Since(start) < 5*time.Minute; {
			time.Sleep(2 * time.Second)
		}
		assertRegistered(t, c, &node{tok: tok, hostname: name})
		figure(t, scenario, "boot to verified join", s.Seconds("join.ActiveEnterTimestampMonotonic"))
		figure(t, scenario, "qemu start to Node registered", nodeSeen.Sub(m.Started).Seconds())
	}

	// Two machines, two boots (each is minutes under TCG; the test's
	// cleanup stops each machine): the first with a
	// token the cluster does not know yet, then knows; the second with
	// another token. The cluster side is prepared (cluster-info readable and
	// signed) with the second one, so that the first meets a cluster that
	// works but does not know its token.
	second := newToken(t)
	applyToken(t, c, second, ep)
	t.Run("unknown token: does not join and says why, then joins once the cluster knows it", func(t *testing.T) {
		const name = "kb-golden-a"
		tok := newToken(t)
		m := boot(t, name, tok)
		// The journal reaches the serial console as it is written (the
		// probe sends the join's journal only once the join has ended).
		why := "token " + tok.ID() + " is unknown to the cluster"
		s := m.Wait(t, "kubebake-join says the token is unknown", bootTimeout, func(s boottest.State) bool {
			return m.ConsoleHas(why) || s.Get("join.ActiveState") == "active"
		})
		if !m.ConsoleHas(why) {
			t.Errorf("kubebake-join's journal does not say %q", why)
		}
		if s.Get("join.ActiveState") == "active" || s.Float("kubelet.ExecMainStartTimestampMonotonic") != 0 {
			t.Fatalf("joined or started the kubelet with a token the cluster does not know: %s", s)
		}
		if ev := c.AuditEventsBy(t, "system:bootstrap:"+tok.ID()); len(ev) > 0 {
			t.Errorf("%d requests authenticated with the unknown token", len(ev))
		}
		applyToken(t, c, tok, ep)
		joins(t, "golden image, token known late", name, tok, m)
	})
	t.Run("another token: a second machine from the same image joins", func(t *testing.T) {
		const name = "kb-golden-b"
		tok := second
		// Its own labels, with the token in the boot part: the kubelet
		// reads them from the per-node flags file (not its unit line).
		labels := map[string]string{"example.com/image": "golden", "example.com/index": "2"}
		m := boot(t, name, tok, "--node-labels", "example.com/image=golden,example.com/index=2")
		joins(t, "golden image, second token", name, tok, m)
		var n struct {
			Metadata struct {
				Labels map[string]string `json:"labels"`
			} `json:"metadata"`
		}
		if !c.Get(t, "/api/v1/nodes/"+name, &n) {
			t.Fatalf("Node %s is not registered", name)
		}
		for k, v := range labels {
			if n.Metadata.Labels[k] != v {
				t.Errorf("Node %s has label %s=%q, want %q (labels: %v)", name, k, n.Metadata.Labels[k], v, n.Metadata.Labels)
			}
		}
	})
}
