package cluster

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/kubebake/kubebake/internal/discovery"
	"github.com/kubebake/kubebake/internal/endpoint"
	"github.com/kubebake/kubebake/internal/pin"
	"github.com/kubebake/kubebake/internal/token"
	"github.com/kubebake/kubebake/render/write"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	bootstrapapi "k8s.io/cluster-bootstrap/token/api"
)

// Status is a check's outcome.
type Status string

const (
	Pass Status = "pass"
	Fail Status = "fail"
	// Skip: the check could not run because an earlier one failed.
	Skip Status = "skip"
	// Warn: the cluster is ready, but something deserves a look (a token
	// used past its max-joins). It does not fail the check.
	Warn Status = "warn"
)

// Result is one line of the checklist.
type Result struct {
	// ID names the check for automation; stable across releases.
	ID string `json:"id"`
	// Endpoint is the API server address checked, for per-endpoint checks.
	Endpoint string `json:"endpoint,omitempty"`
	Status   Status `json:"status"`
	// Message says what was found.
	Message string `json:"message"`
	// Fix says what to do about a failure.
	Fix string `json:"fix,omitempty"`
}

// Report is the outcome of Check.
type Report struct {
	OK     bool     `json:"ok"`
	Checks []Result `json:"checks"`
}

// Check IDs.
const (
	CheckTokenSecret       = "token-secret"
	CheckTokenUsages       = "token-usages"
	CheckTokenExpiry       = "token-expiry"
	CheckTokenJoins        = "token-joins"
	CheckClusterInfo       = "cluster-info"
	CheckClusterInfoSigned = "cluster-info-signature"
	CheckClusterInfoCA     = "cluster-info-ca"
	CheckClusterInfoServer = "cluster-info-server"
	CheckServerCertificate = "api-server-certificate"
	CheckAnonymousGet      = "anonymous-get"
	CheckNodeDiscovery     = "node-discovery"
)

// BindingCheckID is the ID of the check of binding b: "binding-<role>".
func BindingCheckID(b Binding) string {
	return "binding-" + strings.TrimPrefix(strings.TrimPrefix(b.Role, "system:"), "certificates.k8s.io:certificatesigningrequests:")
}

// CheckSpec is what Check checks the cluster against.
type CheckSpec struct {
	Token token.Token
	CA    *CABundle
	// Endpoints the nodes will use ("host:port"). When empty, the server
	// named in cluster-info, or else Fallback, is checked.
	Endpoints []string
	Fallback  string
	// MinTTL: the token must not expire sooner than this from Now.
	MinTTL time.Duration
	Now    func() time.Time
	// Timeout bounds each request to an endpoint (10 s when zero).
	Timeout time.Duration
	// FixCommand is the command that creates what is missing, for the fixes
	// ("kubebake apply ...").
	FixCommand string
	// ExpiryHow says how FixCommand is told a later expiry ("with --ttl or
	// --expires" when empty).
	ExpiryHow string
}

func (c *checker) expiryHow() string {
	if c.spec.ExpiryHow != "" {
		return c.spec.ExpiryHow
	}
	return "with --ttl or --expires"
}

// Check runs the preflight checks: the token is known to the cluster and
// usable long enough, TLS bootstrapping is authorized for its groups, and
// a node can discover the cluster through cluster-info at every endpoint.
// Failures are results, not errors.
func Check(ctx context.Context, api API, s CheckSpec) *Report {
	c := &checker{spec: s, report: &Report{}}
	if c.spec.Now == nil {
		c.spec.Now = time.Now
	}
	if c.spec.Timeout == 0 {
		c.spec.Timeout = 10 * time.Second
	}
	if c.spec.FixCommand == "" {
		c.spec.FixCommand = "kubebake apply"
	}
	secret := c.checkToken(ctx, api)
	c.checkJoins(ctx, api, secret)
	c.checkBindings(ctx, api, secret)
	kubeconfig := c.checkClusterInfo(ctx, api)
	c.checkEndpoints(ctx, kubeconfig)
	c.report.OK = true
	for _, r := range c.report.Checks {
		if r.Status != Pass && r.Status != Warn {
			c.report.OK = false
		}
	}
	return c.report
}

type checker struct {
	spec   CheckSpec
	report *Report
	// clusterInfoServer is the server cluster-info names, "host:port".
	clusterInfoServer string
	// signed: cluster-info carries a valid signature for the token.
	signed bool
	// pinned: a CA of cluster-info matches a pin of --ca.
	pinned bool
}

func (c *checker) add(r Result) { c.report.Checks = append(c.report.Checks, r) }

func (c *checker) pass(id, format string, a ...any) {
	c.add(Result{ID: id, Status: Pass, Message: fmt.Sprintf(format, a...)})
}

func (c *checker) fail(id, fix, format string, a ...any) {
	c.add(Result{ID: id, Status: Fail, Message: fmt.Sprintf(format, a...), Fix: fix})
}

func (c *checker) skip(id, format string, a ...any) {
	c.add(Result{ID: id, Status: Skip, Message: fmt.Sprintf(format, a...)})
}

// rotateFix is how to give token id the secret given instead of the
// cluster's: apply refuses to replace a secret, so the old Secret goes first.
func (c *checker) rotateFix(id string) string {
	return fmt.Sprintf("or, to rotate it (every node holding the cluster's secret can no longer join), kubectl -n %s delete secret %s, then run `%s`", TokenNamespace, TokenSecretName(id), c.spec.FixCommand)
}

func (c *checker) applyFix(what string) string {
	return fmt.Sprintf("run `%s` (or `kubebake manifests ... | kubectl apply -f -`) to create %s", c.spec.FixCommand, what)
}

// checkToken checks the token Secret and returns it when it is usable for
// the later checks.
func (c *checker) checkToken(ctx context.Context, api API) *corev1.Secret {
	id := c.spec.Token.ID()
	name := TokenNamespace + "/" + TokenSecretName(id)
	sec := &corev1.Secret{}
	err := api.Get(ctx, TokenNamespace, TokenSecretName(id), sec)
	switch {
	case apierrors.IsNotFound(err):
		c.fail(CheckTokenSecret, c.applyFix("the token Secret"),
			"Secret %s does not exist: the cluster does not know token %s", name, id)
	case err != nil:
		c.fail(CheckTokenSecret, "check --kubeconfig and that the API server is up", "cannot read Secret %s: %v", name, err)
	}
	if err != nil {
		c.skip(CheckTokenUsages, "no token Secret to check")
		c.skip(CheckTokenExpiry, "no token Secret to check")
		return nil
	}
	data := func(k string) string { return string(sec.Data[k]) }
	switch {
	case sec.DeletionTimestamp != nil:
		// The bootstrap token authenticator ignores a Secret awaiting removal.
		c.fail(CheckTokenSecret, fmt.Sprintf("wait until it is gone (finalizers: %s) and %s, or find what is deleting it", strings.Join(sec.Finalizers, ", "), c.applyFix("it again")),
			"Secret %s is being deleted (since %s): the API server ignores it as a token", name, sec.DeletionTimestamp.UTC().Format(time.RFC3339))
	case sec.Type != bootstrapapi.SecretTypeBootstrapToken:
		c.fail(CheckTokenSecret, fmt.Sprintf("delete it (kubectl -n %s delete secret %s) and %s", TokenNamespace, sec.Name, c.applyFix("it again")),
			"Secret %s has type %q, not %q: the API server ignores it as a token", name, sec.Type, bootstrapapi.SecretTypeBootstrapToken)
	case data(bootstrapapi.BootstrapTokenIDKey) != id:
		c.fail(CheckTokenSecret, c.applyFix("it again"),
			"Secret %s has token-id %q, not %q: the API server ignores it", name, data(bootstrapapi.BootstrapTokenIDKey), id)
	case subtle.ConstantTimeCompare(sec.Data[bootstrapapi.BootstrapTokenSecretKey], []byte(c.spec.Token.Secret())) != 1:
		c.fail(CheckTokenSecret, "use the token file the cluster's Secret was made from; "+c.rotateFix(id),
			"Secret %s holds a different token secret than the one given: nodes with this token would be refused", name)
	default:
		if err := ValidateGroups(splitGroups(data(bootstrapapi.BootstrapTokenExtraGroupsKey))); err != nil {
			c.fail(CheckTokenSecret, c.applyFix("it again with valid --groups"),
				"Secret %s: auth-extra-groups: %v; the API server refuses the token", name, err)
		} else {
			c.pass(CheckTokenSecret, "Secret %s is a %s for this token", name, bootstrapapi.SecretTypeBootstrapToken)
		}
	}

	var missing []string
	for _, k := range []string{bootstrapapi.BootstrapTokenUsageAuthentication, bootstrapapi.BootstrapTokenUsageSigningKey} {
		if data(k) != "true" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		c.fail(CheckTokenUsages, c.applyFix("the Secret with both usages"),
			"Secret %s lacks %s = \"true\" (authentication lets a node's kubelet use the token; signing lets the bootstrapsigner sign cluster-info for it)",
			name, strings.Join(missing, " and "))
	} else {
		c.pass(CheckTokenUsages, "token %s may authenticate and sign cluster-info", id)
	}

	exp, ok := sec.Data[bootstrapapi.BootstrapTokenExpirationKey]
	now := c.spec.Now()
	if !ok {
		c.pass(CheckTokenExpiry, "token %s never expires (whoever holds an image holds a working token until the Secret is deleted)", id)
		return sec
	}
	t, err := time.Parse(time.RFC3339, string(exp))
	switch {
	case err != nil:
		c.fail(CheckTokenExpiry, c.applyFix("the Secret "+c.expiryHow()),
			"Secret %s: expiration %q is not RFC3339; the API server treats the token as expired", name, exp)
	case !t.After(now):
		c.fail(CheckTokenExpiry, "tokens cannot be revived once expired (the tokencleaner deletes them): generate a new token, apply it, and bake images with it",
			"token %s expired at %s", id, t.UTC().Format(time.RFC3339))
	case t.Before(now.Add(c.spec.MinTTL)):
		c.fail(CheckTokenExpiry, fmt.Sprintf("extend it to past %s: %s %s; or pass a smaller --min-ttl if images live shorter", now.Add(c.spec.MinTTL).UTC().Format(time.RFC3339), c.spec.FixCommand, c.expiryHow()),
			"token %s expires at %s, in %s: sooner than --min-ttl %s", id, t.UTC().Format(time.RFC3339), roundDuration(t.Sub(now)), c.spec.MinTTL)
	default:
		c.pass(CheckTokenExpiry, "token %s expires at %s, in %s (more than --min-ttl %s)", id, t.UTC().Format(time.RFC3339), roundDuration(t.Sub(now)), c.spec.MinTTL)
	}
	return sec
}

// checkJoins reports how many nodes joined with the token, and warns when
// that reached its max-joins (kubebake token prune deletes such a token).
func (c *checker) checkJoins(ctx context.Context, api TokenAPI, sec *corev1.Secret) {
	if sec == nil {
		c.skip(CheckTokenJoins, "no token Secret to check")
		return
	}
	csrs, _, err := api.CSRs(ctx)
	if err != nil {
		c.skip(CheckTokenJoins, "cannot list CertificateSigningRequests to count the token's joins: %v", err)
		return
	}
	ti := tokenInfo(sec, CountJoins(csrs), c.spec.Now())
	joined := write.Plural(ti.Joins, "node") + " joined with token " + ti.ID + " (approved kubelet client CSRs of the last hour)"
	switch {
	case ti.MaxJoins == 0:
		c.pass(CheckTokenJoins, "%s; it has no max-joins", joined)
	case ti.Joins >= ti.MaxJoins:
		c.add(Result{ID: CheckTokenJoins, Status: Warn, Message: fmt.Sprintf("%s: its max-joins %d is reached, and the token still works", joined, ti.MaxJoins),
			Fix: "kubebake token prune deletes it (kubebake token prune --watch as soon as the limit is reached); raise max-joins and apply again if more nodes should join"})
	default:
		c.pass(CheckTokenJoins, "%s, of max-joins %d", joined, ti.MaxJoins)
	}
}

func splitGroups(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func roundDuration(d time.Duration) time.Duration {
	if d > time.Hour {
		return d.Round(time.Minute)
	}
	return d.Round(time.Second)
}

// checkBindings checks that the token's groups may create and get approved
// CSRs, and that nodes may renew.
func (c *checker) checkBindings(ctx context.Context, api API, sec *corev1.Secret) {
	if sec == nil {
		for _, b := range Bindings {
			c.skip(BindingCheckID(b), "no token Secret: its groups are unknown")
		}
		return
	}
	crbs := &rbacv1.ClusterRoleBindingList{}
	err := api.List(ctx, "", crbs, ListOptions{})
	if err != nil {
		for _, b := range Bindings {
			c.fail(BindingCheckID(b), "check that --kubeconfig may list clusterrolebindings", "cannot list ClusterRoleBindings: %v", err)
		}
		return
	}
	tokenGroups := append([]string{bootstrapapi.BootstrapDefaultGroup}, splitGroups(string(sec.Data[bootstrapapi.BootstrapTokenExtraGroupsKey]))...)
	tokenUser := bootstrapapi.BootstrapUserPrefix + c.spec.Token.ID()
	for _, b := range Bindings {
		groups, user := tokenGroups, tokenUser
		who := "the token's groups (" + strings.Join(tokenGroups, ", ") + ")"
		if b.ToNodes {
			groups, user, who = []string{NodesGroup}, "", "group "+NodesGroup
		}
		if crb, subj := findBinding(crbs.Items, b.Role, groups, user); crb != "" {
			c.pass(BindingCheckID(b), "ClusterRoleBinding %s grants %s to %s: %s", crb, b.Role, subj, b.Purpose)
			continue
		}
		group := NodesGroup
		if !b.ToNodes {
			group = tokenGroups[len(tokenGroups)-1]
		}
		c.fail(BindingCheckID(b),
			fmt.Sprintf("%s, or: kubectl create clusterrolebinding %s --clusterrole=%s --group=%s", c.applyFix("the bindings"), b.Name, b.Role, group),
			"no ClusterRoleBinding grants ClusterRole %s to %s; it %s", b.Role, who, b.Purpose)
	}
}

// findBinding returns the name of a ClusterRoleBinding of ClusterRole role
// to one of groups or to user, and the subject that matched.
func findBinding(crbs []rbacv1.ClusterRoleBinding, role string, groups []string, user string) (string, string) {
	for _, crb := range crbs {
		if crb.RoleRef.Kind != "ClusterRole" || crb.RoleRef.Name != role || crb.RoleRef.APIGroup != rbacv1.GroupName {
			continue
		}
		for _, s := range crb.Subjects {
			switch s.Kind {
			case rbacv1.GroupKind:
				for _, g := range groups {
					if s.Name == g {
						return crb.Name, "group " + g
					}
				}
			case rbacv1.UserKind:
				if user != "" && s.Name == user {
					return crb.Name, "user " + user
				}
			}
		}
	}
	return "", ""
}

// checkClusterInfo checks kube-public/cluster-info and returns its
// kubeconfig when it has one.
func (c *checker) checkClusterInfo(ctx context.Context, api API) string {
	name := ClusterInfoNamespace + "/" + bootstrapapi.ConfigMapClusterInfo
	skipRest := func(why string) {
		c.skip(CheckClusterInfoSigned, "%s", why)
		c.skip(CheckClusterInfoCA, "%s", why)
		if len(c.spec.Endpoints) > 0 {
			c.skip(CheckClusterInfoServer, "%s", why)
		}
	}
	cm := &corev1.ConfigMap{}
	err := api.Get(ctx, ClusterInfoNamespace, bootstrapapi.ConfigMapClusterInfo, cm)
	switch {
	case apierrors.IsNotFound(err):
		c.fail(CheckClusterInfo, c.applyFix("it"), "ConfigMap %s does not exist: nodes cannot discover the cluster", name)
		skipRest("no cluster-info")
		return ""
	case err != nil:
		c.fail(CheckClusterInfo, "check --kubeconfig and that the API server is up", "cannot read ConfigMap %s: %v", name, err)
		skipRest("no cluster-info")
		return ""
	}
	kubeconfig := cm.Data[bootstrapapi.KubeConfigKey]
	if kubeconfig == "" {
		c.fail(CheckClusterInfo, c.applyFix("it again"), "ConfigMap %s: no kubeconfig key", name)
		skipRest("no usable kubeconfig in cluster-info")
		return ""
	}
	cluster, bundle, err := discovery.ReadCluster([]byte(kubeconfig))
	if err != nil {
		c.fail(CheckClusterInfo, c.applyFix("it again"), "ConfigMap %s: %v", name, err)
		skipRest("no usable kubeconfig in cluster-info")
		return ""
	}
	server := cluster.Server
	c.pass(CheckClusterInfo, "ConfigMap %s holds a kubeconfig for %s", name, server)

	c.checkSignature(kubeconfig, cm.Data)
	c.checkCA(bundle)

	if ep, err := endpoint.Parse(server); err == nil {
		c.clusterInfoServer = ep
	}
	if len(c.spec.Endpoints) > 0 {
		found := false
		for _, ep := range c.spec.Endpoints {
			if c.clusterInfoServer == ep {
				found = true
			}
		}
		if found {
			c.pass(CheckClusterInfoServer, "cluster-info names %s, one of the --api-server endpoints", server)
		} else {
			c.fail(CheckClusterInfoServer,
				fmt.Sprintf("%s to make cluster-info name https://%s, or bake images with --api-server %s, or render with --kubelet-server discovered or a load balancer's address", c.spec.FixCommand, c.spec.Endpoints[0], endpoint.Host(c.clusterInfoServer)),
				"cluster-info names server %s, none of the --api-server endpoints (%s): kubelets rendered with the default --kubelet-server cluster-info talk to it, as kubeadm join does",
				server, strings.Join(c.spec.Endpoints, ", "))
		}
	}
	return kubeconfig
}

// checkSignature runs the agent's own verification step (discovery.VerifyData)
// on the cluster-info the cluster holds: is it signed for this token?
func (c *checker) checkSignature(kubeconfig string, data map[string]string) {
	id := c.spec.Token.ID()
	key := bootstrapapi.JWSSignatureKeyPrefix + id
	sigs := map[string]string{}
	for k, v := range data {
		if tid, ok := strings.CutPrefix(k, bootstrapapi.JWSSignatureKeyPrefix); ok {
			sigs[tid] = v
		}
	}
	_, verr := discovery.VerifyData(kubeconfig, sigs, c.spec.Token, c.spec.CA.Pins())
	var ve *discovery.VerifyError
	errors.As(verr, &ve)
	switch {
	case ve != nil && ve.Failure == discovery.Unsigned:
		c.fail(CheckClusterInfoSigned,
			"the bootstrapsigner controller adds it seconds after the token Secret appears: run kube-controller-manager with --controllers=*,bootstrapsigner,tokencleaner, and give the token usage-bootstrap-signing",
			"cluster-info has no %s: nodes with token %s wait for it until they time out", key, id)
	case ve != nil && ve.Failure == discovery.BadSignature:
		c.fail(CheckClusterInfoSigned,
			"if cluster-info or the token was applied seconds ago, wait for the bootstrapsigner to sign it again and rerun; otherwise the cluster signed with another secret for this id: use the cluster's token; "+c.rotateFix(id),
			"cluster-info's %s is not valid for this token: %v", key, verr)
	default:
		c.signed = true
		c.pass(CheckClusterInfoSigned, "cluster-info carries %s, valid for this token", key)
	}

}

// checkCA checks that cluster-info's CA bundle matches the pins of --ca.
func (c *checker) checkCA(bundle []*x509.Certificate) {
	pins := c.spec.CA.Pins()
	var pinned, unpinned []string
	for _, x := range bundle {
		if pins.Has(x) {
			pinned = append(pinned, fmt.Sprintf("%q (%s)", x.Subject.CommonName, pin.Hash(x)))
		} else {
			unpinned = append(unpinned, discovery.DescribeCert(x))
		}
	}
	if len(pinned) > 0 {
		c.pinned = true
		msg := fmt.Sprintf("cluster-info's CA %s matches a pin of --ca", strings.Join(pinned, ", "))
		if len(unpinned) > 0 {
			msg += fmt.Sprintf("; nodes will not trust nor install its other CAs %s", strings.Join(unpinned, ", "))
		}
		c.pass(CheckClusterInfoCA, "%s", msg)
		return
	}
	var theirs, ours []string
	for _, x := range bundle {
		theirs = append(theirs, pin.Hash(x))
	}
	for _, x := range c.spec.CA.Certs {
		ours = append(ours, pin.Hash(x))
	}
	c.fail(CheckClusterInfoCA,
		"give --ca the cluster's CA certificate (kubeadm: /etc/kubernetes/pki/ca.crt); if cluster-info is stale, "+c.spec.FixCommand+" rewrites it",
		"cluster-info's CA (%s) matches none of --ca's pins (%s): nodes pinning --ca would refuse this cluster",
		strings.Join(theirs, ", "), strings.Join(ours, ", "))
}

// checkEndpoints checks every endpoint's certificate and anonymous access to
// cluster-info there.
func (c *checker) checkEndpoints(ctx context.Context, kubeconfig string) {
	eps := c.spec.Endpoints
	if len(eps) == 0 {
		switch {
		case c.clusterInfoServer != "":
			eps = []string{c.clusterInfoServer}
		case c.spec.Fallback != "":
			eps = []string{c.spec.Fallback}
		}
	}
	roots := x509.NewCertPool()
	for _, cert := range c.spec.CA.Certs {
		roots.AddCert(cert)
	}
	for _, ep := range eps {
		certOK := c.checkCertificate(ctx, ep, roots)
		anonOK := c.checkAnonymousGet(ctx, ep, roots, kubeconfig, certOK)
		c.checkDiscovery(ctx, ep, anonOK)
	}
}

// checkDiscovery runs the node agent's own token discovery (kubebake-join's
// internal/discovery) against ep: what a node booted from an image with this
// token and these pins will do.
func (c *checker) checkDiscovery(ctx context.Context, ep string, anonOK bool) {
	res := Result{ID: CheckNodeDiscovery, Endpoint: ep}
	defer func() { c.add(res) }()
	if !anonOK || !c.signed || !c.pinned {
		// The agent would retry until its deadline for nothing.
		res.Status, res.Message = Skip, "needs a signed cluster-info with a pinned CA that anonymous users can get"
		return
	}
	d, err := discovery.Discover(ctx, discovery.Target{Endpoints: []string{ep}, Pins: c.spec.CA.Pins(), Token: c.spec.Token, Timeout: c.spec.Timeout},
		discovery.Options{Now: c.spec.Now, RequestTimeout: c.spec.Timeout})
	if err != nil {
		res.Status, res.Message = Fail, fmt.Sprintf("kubebake-join's discovery against %s fails: %v", ep, err)
		res.Fix = "see the checks above; nodes baked with these inputs would not join"
		return
	}
	res.Status, res.Message = Pass, fmt.Sprintf("kubebake-join's token discovery against %s verifies the cluster (CA pin %s)", ep, strings.Join(d.Pins, ", "))
}

func (c *checker) checkCertificate(ctx context.Context, ep string, roots *x509.CertPool) bool {
	res := Result{ID: CheckServerCertificate, Endpoint: ep}
	defer func() { c.add(res) }()
	dctx, cancel := context.WithTimeout(ctx, c.spec.Timeout)
	defer cancel()
	// Verification is done below, by hand, to say what is wrong.
	d := tls.Dialer{Config: &tls.Config{InsecureSkipVerify: true, ServerName: discovery.ServerName(ep)}}
	conn, err := d.DialContext(dctx, "tcp", ep)
	if err != nil {
		res.Status, res.Message = Fail, fmt.Sprintf("cannot connect to %s: %v", ep, err)
		res.Fix = "make the API server reachable at this address from where nodes boot, or give the right --api-server"
		return false
	}
	state := conn.(*tls.Conn).ConnectionState()
	conn.Close()
	chain := state.PeerCertificates
	leaf := chain[0]
	inter := x509.NewCertPool()
	for _, x := range chain[1:] {
		inter.AddCert(x)
	}
	host := endpoint.Host(ep)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: c.spec.Now()}); err != nil {
		res.Status, res.Message = Fail, fmt.Sprintf("the certificate of %s does not verify against --ca: %v", ep, err)
		res.Fix = "give --ca the CA that signs the API server certificate (kubeadm: /etc/kubernetes/pki/ca.crt)"
		return false
	}
	if err := leaf.VerifyHostname(host); err != nil {
		res.Status = Fail
		res.Message = fmt.Sprintf("the certificate of %s is not valid for %q; it names %s", ep, host, strings.Join(discovery.CertNames(leaf), ", "))
		res.Fix = fmt.Sprintf("add %q to the API server certificate's subject alternative names (kubeadm: apiServer.certSANs, then kubeadm init phase certs apiserver), or use one of the names it has", host)
		return false
	}
	res.Status = Pass
	res.Message = fmt.Sprintf("the certificate of %s is signed by --ca and valid for %q until %s", ep, host, leaf.NotAfter.UTC().Format(time.RFC3339))
	return true
}

func (c *checker) checkAnonymousGet(ctx context.Context, ep string, roots *x509.CertPool, kubeconfig string, certOK bool) bool {
	res := Result{ID: CheckAnonymousGet, Endpoint: ep}
	defer func() { c.add(res) }()
	if !certOK {
		res.Status, res.Message = Skip, "needs an API server certificate that verifies"
		return false
	}
	// The agent's own fetch (internal/discovery): what a node's kubebake-join
	// gets there, over TLS trusting only --ca.
	url := "https://" + ep + discovery.ClusterInfoPath
	status, body, err := discovery.GetClusterInfo(ctx, ep, roots, c.spec.Timeout)
	switch status {
	case http.StatusOK:
	case 0:
		res.Status, res.Message = Fail, fmt.Sprintf("GET %s without credentials: %v", url, err)
		res.Fix = "make the API server reachable at this address from where nodes boot"
		return false
	case http.StatusUnauthorized:
		res.Status, res.Message = Fail, fmt.Sprintf("GET %s without credentials: 401 Unauthorized: anonymous requests are refused", url)
		res.Fix = "run kube-apiserver with --anonymous-auth=true (the default; kubeadm's token discovery needs it too), or with an AuthenticationConfiguration allowing anonymous on this path"
		return false
	case http.StatusForbidden:
		res.Status, res.Message = Fail, fmt.Sprintf("GET %s without credentials: 403 Forbidden: system:anonymous may not get cluster-info", url)
		res.Fix = c.applyFix("the Role and RoleBinding " + ClusterInfoRoleName)
		return false
	case http.StatusNotFound:
		res.Status, res.Message = Fail, fmt.Sprintf("GET %s: 404: no cluster-info", url)
		res.Fix = c.applyFix("cluster-info")
		return false
	case http.StatusFound, http.StatusMovedPermanently, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		res.Status, res.Message = Fail, fmt.Sprintf("GET %s without credentials: %d %s: a redirect, which nodes never follow", url, status, http.StatusText(status))
		res.Fix = "give --api-server an address that serves cluster-info itself (not through a redirecting proxy or load balancer)"
		return false
	default:
		res.Status, res.Message = Fail, strings.TrimSpace(fmt.Sprintf("GET %s without credentials: %d %s", url, status, http.StatusText(status)))
		return false
	}
	var cm corev1.ConfigMap
	if err := json.Unmarshal(body, &cm); err != nil || cm.Kind != "ConfigMap" {
		res.Status, res.Message = Fail, fmt.Sprintf("GET %s: the answer is not a ConfigMap", url)
		return false
	}
	if kubeconfig != "" && cm.Data[bootstrapapi.KubeConfigKey] != kubeconfig {
		res.Status, res.Message = Fail, fmt.Sprintf("GET %s: the kubeconfig differs from the one read with --kubeconfig: is this endpoint another cluster?", url)
		res.Fix = "point --api-server and --kubeconfig at the same cluster"
		return false
	}
	res.Status, res.Message = Pass, fmt.Sprintf("anonymous GET of cluster-info at %s works, over TLS verified against --ca", ep)
	return true
}
