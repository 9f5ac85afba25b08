package cluster

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kubebake/kubebake/cluster"
	"github.com/kubebake/kubebake/internal/token"
)

// TestFleetTokens: apply --nodes creates one Secret per distinct token of
// the nodes file (each with the expiry its nodes ask for) and check --nodes reports
// per token; it fails, naming the token, when one is missing or expires too
// soon.
func TestFleetTokens(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	poolB, err := token.Generate()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "pool-b.token"), []byte(poolB.Value()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	nodes := filepath.Join(dir, "nodes.yaml")
	doc := fmt.Sprintf(`defaults:
  token-file: %s
nodes:
- name: a1
  hostname: a1
- name: a2
  max-pods: 50
- name: b1
  token-file: pool-b.token
  ttl: 4000h
- name: b2
  token-file: pool-b.token
  ttl: 4000h
`, e.tokenFile)
	if err := os.WriteFile(nodes, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	base := []string{"--kubeconfig", e.c.AdminKubeconfig, "--ca", e.c.CACertFile, "--api-server", e.c.Endpoint, "--nodes", nodes}

	stdout, stderr, code := e.run(append([]string{"apply", "--format", "json", "--ttl", "2160h"}, base...)...)
	if code != 0 {
		t.Fatalf("apply --nodes: exit %d: %s", code, stderr)
	}
	var applied struct{ Changes []cluster.Change }
	if err := json.Unmarshal([]byte(stdout), &applied); err != nil {
		t.Fatal(err)
	}
	acts := actions(applied.Changes)
	for _, id := range []string{e.tok.ID(), poolB.ID()} {
		if acts["Secret kube-system/bootstrap-token-"+id] != cluster.Created {
			t.Errorf("token %s: %v", id, acts)
		}
	}
	if len(applied.Changes) != nObjects+1 {
		t.Errorf("apply --nodes made %d changes, want %d (a Secret per token, the rest once)", len(applied.Changes), nObjects+1)
	}
	for _, want := range []string{"token " + e.tok.ID() + ": 2 nodes (a1, a2)", "token " + poolB.ID() + ": 2 nodes (b1, b2)"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("apply --nodes does not report %q: %s", want, stderr)
		}
	}
	e.c.WaitJWS(t, e.tok.ID(), true, 60*time.Second)
	e.c.WaitJWS(t, poolB.ID(), true, 60*time.Second)

	checkFleet := func(extra ...string) (bool, map[string]bool, string, int) {
		t.Helper()
		stdout, stderr, code := e.run(append(append([]string{"check", "--format", "json"}, base...), extra...)...)
		var r struct {
			OK     bool `json:"ok"`
			Tokens []struct {
				Token string   `json:"token"`
				Nodes []string `json:"nodes"`
				OK    bool     `json:"ok"`
			} `json:"tokens"`
		}
		if err := json.Unmarshal([]byte(stdout), &r); err != nil {
			t.Fatalf("check --nodes --format json: exit %d, %v\n%s\n%s", code, err, stdout, stderr)
		}
		ok := map[string]bool{}
		for _, tr := range r.Tokens {
			ok[tr.Token] = tr.OK
		}
		return r.OK, ok, stderr, code
	}
	if all, per, stderr, code := checkFleet(); !all || code != 0 || len(per) != 2 {
		t.Fatalf("check --nodes after apply: ok %v, per token %v, exit %d: %s", all, per, code, stderr)
	}
	// check needs no --api-server (the README's example has none): the
	// nodes are checked as render would check them all the same.
	if _, stderr, code := e.run("check", "--kubeconfig", e.c.AdminKubeconfig, "--ca", e.c.CACertFile, "--nodes", nodes); code != 0 {
		t.Errorf("check --nodes without --api-server: exit %d: %s", code, stderr)
	}
	// Expiring: pool a's token lasts the command line's 2160h, pool b's its
	// own 4000h: only pool a's fails a 3000h minimum.
	if all, per, stderr, code := checkFleet("--min-ttl", "3000h"); all || code != 1 || per[e.tok.ID()] || !per[poolB.ID()] {
		t.Errorf("check --nodes --min-ttl 3000h: ok %v, per token %v, exit %d: %s", all, per, code, stderr)
	}
	// Missing: pool b's Secret is deleted; the check names that token only.
	e.c.DeleteToken(t, poolB.ID())
	all, per, stderr, code := checkFleet()
	if all || code != 1 || !per[e.tok.ID()] || per[poolB.ID()] || !strings.Contains(stderr, poolB.ID()) {
		t.Errorf("check --nodes without pool b's Secret: ok %v, per token %v, exit %d: %s", all, per, code, stderr)
	}
}

// TestApplyKeepsWhatOthersUse: apply never gives an existing token another
// secret (the nodes holding the old one would be locked out), and adds its
// groups to the bindings without dropping those of tokens applied from
// another nodes file.
func TestApplyKeepsWhatOthersUse(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	write := func(name, data string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	poolB, err := token.Generate()
	if err != nil {
		t.Fatal(err)
	}
	write("b.token", poolB.Value()+"\n")
	fleetA := write("a.yaml", fmt.Sprintf("defaults:\n  token-file: %s\n  groups: [system:bootstrappers:pool-a]\nnodes:\n- name: a1\n", e.tokenFile))
	fleetB := write("b.yaml", "defaults:\n  token-file: b.token\n  groups: [system:bootstrappers:pool-b]\nnodes:\n- name: b1\n")
	base := []string{"--kubeconfig", e.c.AdminKubeconfig, "--ca", e.c.CACertFile, "--api-server", e.c.Endpoint}
	for _, f := range []string{fleetA, fleetB} {
		if _, stderr, code := e.run(append([]string{"apply", "--nodes", f}, base...)...); code != 0 {
			t.Fatalf("apply --nodes %s: exit %d: %s", f, code, stderr)
		}
	}
	var crb struct {
		Subjects []struct{ Kind, Name string }
	}
	e.c.Get(t, "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/kubebake:kubelet-bootstrap", &crb)
	var groups []string
	for _, s := range crb.Subjects {
		groups = append(groups, s.Name)
	}
	for _, g := range []string{"system:bootstrappers:pool-a", "system:bootstrappers:pool-b"} {
		if !slices.Contains(groups, g) {
			t.Errorf("after applying fleet a, then fleet b, kubebake:kubelet-bootstrap binds %v, want %s too", groups, g)
		}
	}
	e.c.WaitJWS(t, e.tok.ID(), true, 60*time.Second)
	if _, stderr, code := e.run(append([]string{"check", "--nodes", fleetA}, base...)...); code != 0 {
		t.Errorf("check --nodes a.yaml after fleet b was applied: exit %d: %s", code, stderr)
	}

	// The same id with another secret is refused before anything changes.
	other, err := token.Parse(e.tok.ID() + ".ffffffffffffffff")
	if err != nil {
		t.Fatal(err)
	}
	otherFile := write("other.token", other.Value()+"\n")
	_, stderr, code := e.run("apply", "--kubeconfig", e.c.AdminKubeconfig, "--token-file", otherFile, "--ca", e.c.CACertFile, "--api-server", e.c.Endpoint)
	if code != 2 || !strings.Contains(stderr, "exists in the cluster with another secret") || strings.Contains(stderr, "ffffffffffffffff") {
		t.Errorf("apply with the same token id and another secret: exit %d: %s", code, stderr)
	}
	var sec struct{ Data map[string][]byte }
	e.c.Get(t, "/api/v1/namespaces/kube-system/secrets/bootstrap-token-"+e.tok.ID(), &sec)
	if string(sec.Data["token-secret"]) != e.tok.Secret() {
		t.Error("the refused apply changed the token's secret")
	}
}
