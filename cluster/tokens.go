package cluster

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kubebake/kubebake/internal/token"
	"github.com/kubebake/kubebake/render/write"

	certv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	bootstrapapi "k8s.io/cluster-bootstrap/token/api"
)

// What marks a token Secret as kubebake's, and the terms kubebake records on
// it besides the bootstrap token's own data keys. They are metadata, not
// data: the bootstrap authenticator and the tokencleaner read only the
// documented data keys, and metadata shows in kubectl get without the secret.
const (
	// LabelManagedBy = ManagedBy marks a Secret made by kubebake manifests
	// or apply. A Secret kubebake apply wrote before the label existed is
	// known by its field manager.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	ManagedBy      = "kubebake"
	// AnnotationMaxJoins is the token's max-joins: how many distinct nodes
	// may join with it before kubebake token prune deletes it.
	AnnotationMaxJoins = "kubebake.io/max-joins"
)

// KubeletClientSigner is the signer of the kubelet client CSRs a bootstrap
// token's holder makes.
const KubeletClientSigner = certv1.KubeAPIServerClientKubeletSignerName

// NodeUserPrefix is the prefix of a kubelet client certificate's common name.
const NodeUserPrefix = "system:node:"

// Joins are the nodes that joined with one token: the distinct node names
// of approved kubelet client CSRs its bootstrap user made.
type Joins struct {
	Nodes []string  // sorted
	Last  time.Time // the latest approval; zero when none
}

// CountJoins counts the joins of every token in csrs, by token id. A CSR
// counts when it is for the kubelet client signer, its requester
// (spec.username) is system:bootstrap:<id>, it is approved, and its request
// names a node (CN system:node:<name>). The controller manager's csrcleaner
// deletes approved CSRs after an hour: joins older than that are not seen.
func CountJoins(csrs []certv1.CertificateSigningRequest) map[string]*Joins {
	out := map[string]*Joins{}
	for i := range csrs {
		id, node, at, ok := csrJoin(&csrs[i])
		if !ok {
			continue
		}
		j := out[id]
		if j == nil {
			j = &Joins{}
			out[id] = j
		}
		if !slices.Contains(j.Nodes, node) {
			j.Nodes = append(j.Nodes, node)
		}
		if at.After(j.Last) {
			j.Last = at
		}
	}
	for _, j := range out {
		sort.Strings(j.Nodes)
	}
	return out
}

// csrJoin reads one CSR: the token id that made it, the node it is for and
// when it was approved, if it is an approved kubelet client CSR made with
// a bootstrap token.
func csrJoin(csr *certv1.CertificateSigningRequest) (id, node string, at time.Time, ok bool) {
	if csr.Spec.SignerName != KubeletClientSigner {
		return "", "", at, false
	}
	id, ok = strings.CutPrefix(csr.Spec.Username, bootstrapapi.BootstrapUserPrefix)
	if !ok {
		return "", "", at, false
	}
	approved := false
	for _, c := range csr.Status.Conditions {
		switch c.Type {
		case certv1.CertificateApproved:
			if c.Status != corev1.ConditionFalse {
				approved = true
				at = c.LastUpdateTime.Time
				if at.IsZero() {
					at = c.LastTransitionTime.Time
				}
			}
		case certv1.CertificateDenied:
			return "", "", at, false
		}
	}
	if !approved {
		return "", "", at, false
	}
	block, _ := pem.Decode(csr.Spec.Request)
	if block == nil {
		return "", "", at, false
	}
	req, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return "", "", at, false
	}
	node, ok = strings.CutPrefix(req.Subject.CommonName, NodeUserPrefix)
	if !ok || node == "" {
		return "", "", at, false
	}
	if at.IsZero() {
		at = csr.CreationTimestamp.Time
	}
	return id, node, at, true
}

// TokenInfo is what kubebake token list says of one token. It never holds
// the secret.
type TokenInfo struct {
	ID string `json:"id"`
	// Kubebake says kubebake made it (manifests or apply); prune deletes
	// only such tokens.
	Kubebake    bool       `json:"kubebake"`
	Description string     `json:"description,omitempty"`
	Expires     *time.Time `json:"expires,omitempty"` // nil: never
	Expired     bool       `json:"expired,omitempty"`
	Usages      []string   `json:"usages"`
	Groups      []string   `json:"groups"`
	Joins       int        `json:"joins"`
	Nodes       []string   `json:"nodes"`
	LastJoin    *time.Time `json:"lastJoin,omitempty"`
	// MaxJoins is 0 when the token has no limit.
	MaxJoins int `json:"maxJoins,omitempty"`
	// Problem says why the Secret is not a usable token or its terms
	// cannot be read (prune keeps such a token).
	Problem string `json:"problem,omitempty"`

	secretName string
	uid        string
}

// IsKubebake says whether kubebake made sec: the label, or the field
// manager of kubebake apply.
func IsKubebake(sec *corev1.Secret) bool {
	if sec.Labels[LabelManagedBy] == ManagedBy {
		return true
	}
	for _, m := range sec.ManagedFields {
		if m.Manager == FieldManager {
			return true
		}
	}
	return false
}

// ParseMaxJoins reads a max-joins annotation value.
func ParseMaxJoins(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%s %q is not a positive whole number", AnnotationMaxJoins, s)
	}
	return n, nil
}

// tokenInfo reads one token Secret with the joins counted for it.
func tokenInfo(sec *corev1.Secret, joins map[string]*Joins, now time.Time) TokenInfo {
	data := func(k string) string { return string(sec.Data[k]) }
	id := data(bootstrapapi.BootstrapTokenIDKey)
	ti := TokenInfo{
		ID: id, Kubebake: IsKubebake(sec), Description: data(bootstrapapi.BootstrapTokenDescriptionKey),
		Usages: []string{}, Groups: append([]string{bootstrapapi.BootstrapDefaultGroup}, splitGroups(data(bootstrapapi.BootstrapTokenExtraGroupsKey))...),
		Nodes: []string{}, secretName: sec.Name, uid: string(sec.UID),
	}
	if id == "" || TokenSecretName(id) != sec.Name {
		ti.ID = strings.TrimPrefix(sec.Name, bootstrapapi.BootstrapTokenSecretPrefix)
		ti.Problem = fmt.Sprintf("Secret %s has token-id %q: the API server ignores it", sec.Name, id)
	}
	for _, u := range []string{"authentication", "signing"} {
		if data(bootstrapapi.BootstrapTokenUsagePrefix+u) == "true" {
			ti.Usages = append(ti.Usages, u)
		}
	}
	if exp := data(bootstrapapi.BootstrapTokenExpirationKey); exp != "" {
		t, err := time.Parse(time.RFC3339, exp)
		if err != nil {
			ti.Problem = fmt.Sprintf("expiration %q is not RFC3339: the API server treats the token as expired", exp)
			ti.Expired = true
		} else {
			t = t.UTC()
			ti.Expires = &t
			ti.Expired = !t.After(now)
		}
	}
	if v, ok := sec.Annotations[AnnotationMaxJoins]; ok {
		n, err := ParseMaxJoins(v)
		if err != nil {
			ti.Problem = err.Error()
		}
		ti.MaxJoins = n
	}
	if j := joins[ti.ID]; j != nil {
		ti.Joins, ti.Nodes = len(j.Nodes), j.Nodes
		last := j.Last.UTC()
		ti.LastJoin = &last
	}
	return ti
}

// ListTokens reads every bootstrap token of the cluster with its joins,
// sorted by id.
func ListTokens(ctx context.Context, api TokenAPI, now time.Time) ([]TokenInfo, error) {
	csrs, _, err := api.CSRs(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing CertificateSigningRequests: %w", err)
	}
	return listWith(ctx, api, CountJoins(csrs), now)
}

func listWith(ctx context.Context, api TokenAPI, joins map[string]*Joins, now time.Time) ([]TokenInfo, error) {
	secrets, err := api.TokenSecrets(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing the token Secrets of %s: %w", TokenNamespace, err)
	}
	out := make([]TokenInfo, 0, len(secrets))
	for i := range secrets {
		if secrets[i].Type == corev1.SecretTypeBootstrapToken {
			out = append(out, tokenInfo(&secrets[i], joins, now))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Verdict is what prune does with one token.
type Verdict string

const (
	Deleted     Verdict = "deleted"
	WouldDelete Verdict = "would delete" // --dry-run
	Kept        Verdict = "kept"
)

// Decision is prune's verdict on one token and why.
type Decision struct {
	ID       string  `json:"id"`
	Verdict  Verdict `json:"verdict"`
	Reason   string  `json:"reason"`
	Joins    int     `json:"joins"`
	MaxJoins int     `json:"maxJoins,omitempty"`
}

func (d Decision) String() string { return fmt.Sprintf("%s %s: %s", d.Verdict, d.ID, d.Reason) }

// decide says whether prune deletes ti.
func decide(ti TokenInfo) Decision {
	d := Decision{ID: ti.ID, Verdict: Kept, Joins: ti.Joins, MaxJoins: ti.MaxJoins}
	switch {
	case !ti.Kubebake:
		d.Reason = fmt.Sprintf("not made by kubebake (no %s=%s label): prune never deletes it; kubebake token delete %s does", LabelManagedBy, ManagedBy, ti.ID)
	case ti.Problem != "":
		d.Reason = ti.Problem
	case ti.MaxJoins == 0:
		d.Reason = fmt.Sprintf("no max-joins: %s, until it expires", write.Plural(ti.Joins, "join"))
	case ti.Joins < ti.MaxJoins:
		d.Reason = fmt.Sprintf("%s of max-joins %d", write.Plural(ti.Joins, "join"), ti.MaxJoins)
	default:
		d.Verdict = Deleted
		d.Reason = fmt.Sprintf("%s reached max-joins %d (%s)", write.Plural(ti.Joins, "join"), ti.MaxJoins, strings.Join(ti.Nodes, ", "))
	}
	return d
}

// PruneOptions tune Prune.
type PruneOptions struct {
	// DryRun says what would be deleted and deletes nothing.
	DryRun bool
	Now    func() time.Time
}

// Prune deletes the tokens kubebake made whose joins reached their
// max-joins, and says for every token what it did and why. A token kubebake
// did not make is never deleted. It stops at the first failed deletion,
// returning the decisions so far.
func Prune(ctx context.Context, api TokenAPI, opt PruneOptions) ([]Decision, error) {
	csrs, _, err := api.CSRs(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing CertificateSigningRequests: %w", err)
	}
	return pruneWith(ctx, api, CountJoins(csrs), opt)
}

func pruneWith(ctx context.Context, api TokenAPI, joins map[string]*Joins, opt PruneOptions) ([]Decision, error) {
	now := time.Now
	if opt.Now != nil {
		now = opt.Now
	}
	tokens, err := listWith(ctx, api, joins, now())
	if err != nil {
		return nil, err
	}
	var out []Decision
	for _, ti := range tokens {
		d := decide(ti)
		if d.Verdict == Deleted {
			if opt.DryRun {
				d.Verdict = WouldDelete
			} else if err := api.DeleteSecret(ctx, ti.secretName, types.UID(ti.uid)); err != nil && !apierrors.IsNotFound(err) {
				return out, fmt.Errorf("deleting Secret %s/%s: %w", TokenNamespace, ti.secretName, err)
			}
		}
		out = append(out, d)
	}
	return out, nil
}

// DeleteTokens deletes the named tokens, kubebake's or not (kubeadm token
// delete). Every id is checked before any is deleted; an id whose Secret
// does not exist is an error naming it.
func DeleteTokens(ctx context.Context, api TokenAPI, ids []string) ([]string, error) {
	if err := CheckTokenIDs(ids); err != nil {
		return nil, err
	}
	secrets, err := api.TokenSecrets(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing the token Secrets of %s: %w", TokenNamespace, err)
	}
	byName := map[string]*corev1.Secret{}
	for i := range secrets {
		byName[secrets[i].Name] = &secrets[i]
	}
	var missing []string
	for _, id := range ids {
		if byName[TokenSecretName(id)] == nil {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		return nil, &NoSuchTokenError{IDs: missing}
	}
	var deleted []string
	for _, id := range ids {
		if slices.Contains(deleted, id) {
			continue
		}
		sec := byName[TokenSecretName(id)]
		if err := api.DeleteSecret(ctx, sec.Name, sec.UID); err != nil && !apierrors.IsNotFound(err) {
			return deleted, fmt.Errorf("deleting Secret %s/%s: %w", TokenNamespace, sec.Name, err)
		}
		deleted = append(deleted, id)
	}
	return deleted, nil
}

// CheckTokenIDs checks that every id is a token id. A whole token given by
// mistake is named without its secret.
func CheckTokenIDs(ids []string) error {
	for _, id := range ids {
		if !isTokenID(id) {
			if _, err := token.Parse(id); err == nil {
				return fmt.Errorf("%q: give the token's id (the 6 characters before the dot), not the token", id[:6]+".<secret>")
			}
			if len(id) > 40 {
				id = id[:40] + "..."
			}
			return fmt.Errorf("%q is not a token id (6 characters [a-z0-9])", id)
		}
	}
	return nil
}

// NoSuchTokenError names tokens the cluster does not have.
type NoSuchTokenError struct{ IDs []string }

func (e *NoSuchTokenError) Error() string {
	return fmt.Sprintf("no bootstrap token %s in the cluster (kubebake token list shows the tokens); nothing was deleted", strings.Join(e.IDs, ", "))
}

// isTokenID is bootstrapapi.BootstrapTokenIDPattern (\A[a-z0-9]{6}\z) by
// hand: cluster-bootstrap's token/util compiles its regexps at init, which
// every kubebake command would pay (see API).
func isTokenID(id string) bool {
	if len(id) != 6 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
