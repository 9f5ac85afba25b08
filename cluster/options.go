package cluster

import (
	"fmt"
	"time"

	"github.com/kubebake/kubebake/internal/options"
)

// Opts are the values of the cluster commands' options about the cluster
// (which one, how long to wait) and the token (its terms, what check
// demands of it).
type Opts struct {
	Kubeconfig  string
	Context     string
	Timeout     time.Duration
	TTL         time.Duration
	Expires     string
	NoExpiry    bool
	Groups      []string
	Description string
	MinTTL      time.Duration
	MaxJoins    int32
}

// Terms are the options a token's terms are read from.
func (o *Opts) Terms() TermsOptions {
	return TermsOptions{TTL: o.TTL, Expires: o.Expires, NoExpiry: o.NoExpiry, Groups: o.Groups, Description: o.Description, MaxJoins: int(o.MaxJoins)}
}

// Options declares the cluster's and the token's options once (name, type,
// default, help, every rule), as spec.Options does render's; the CLI binds
// them to its commands (Commands).
var Options = options.Table[Opts]{
	{Meta: options.Meta{Name: "kubeconfig", PerRun: "the cluster to talk to is the run's", Arg: "FILE", Config: true, Path: true, DefaultHelp: "$KUBECONFIG, then ~/.kube/config",
		Help: "admin kubeconfig"},
		Field: func(o *Opts) any { return &o.Kubeconfig }},
	{Meta: options.Meta{Name: "context", PerRun: "the cluster to talk to is the run's", Arg: "NAME", Config: true, DefaultHelp: "the kubeconfig's current context",
		Help: "kubeconfig context to use"},
		Field: func(o *Opts) any { return &o.Context }},
	{Meta: options.Meta{Name: "timeout", PerRun: "how long to wait for the API server is the run's", Arg: "DURATION", Config: true, Default: "30s",
		Help: "give up on a request to the API server after this long", Validate: positive},
		Field: func(o *Opts) any { return &o.Timeout }},
	{Meta: options.Meta{Name: "ttl", OneOf: "expiry", Arg: "DURATION", Config: true, Default: "720h",
		Help: "the token expires this long from now (at least a minute)", Validate: positive},
		Field: func(o *Opts) any { return &o.TTL }},
	{Meta: options.Meta{Name: "expires", OneOf: "expiry", Arg: "TIME", Config: true,
		Help: "the token expires at this RFC3339 time (2027-01-31T00:00:00Z) instead"},
		Field: func(o *Opts) any { return &o.Expires }},
	{Meta: options.Meta{Name: "no-expiry", OneOf: "expiry", Config: true,
		Help: "the token never expires (an image leak stays usable until you delete the Secret)"},
		Field: func(o *Opts) any { return &o.NoExpiry }},
	{Meta: options.Meta{Name: "groups", Arg: "GROUPS", Config: true, Default: DefaultGroup,
		Help: "the token's extra groups (system:bootstrappers:...), comma-separated or repeated; the bindings grant to these"},
		Field: func(o *Opts) any { return &o.Groups }},
	{Meta: options.Meta{Name: "description", Arg: "TEXT", Config: true,
		Help: "description stored in the token Secret"},
		Field: func(o *Opts) any { return &o.Description }},
	{Meta: options.Meta{Name: "max-joins", Arg: "N", Config: true,
		Help: "the number of distinct nodes that may join with the token before `kubebake token prune` deletes it (recorded on the Secret as the kubebake.io/max-joins annotation); none when unset",
		Validate: func(v any) error {
			if n := v.(int32); n < 0 {
				return fmt.Errorf("%d is negative", n)
			}
			return nil
		}},
		Field: func(o *Opts) any { return &o.MaxJoins }},
	{Meta: options.Meta{Name: "min-ttl", PerRun: "what check demands of every token is the run's", Arg: "DURATION", Config: true, Default: "168h",
		Help: "fail if the token expires sooner than this from now (set it to how long images will be used)",
		Validate: func(v any) error {
			if d := v.(time.Duration); d < 0 {
				return fmt.Errorf("%s is negative", d)
			}
			return nil
		}},
		Field: func(o *Opts) any { return &o.MinTTL }},
}

func positive(v any) error {
	if d := v.(time.Duration); d <= 0 {
		return fmt.Errorf("%s is not a positive duration", d)
	}
	return nil
}
