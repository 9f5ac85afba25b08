package discovery

import "time"

// The retry policy: how long the agent waits between rounds over its
// endpoints (issue 21). Its aim is a herd — a thousand nodes booted from
// one image together, before their token exists — that costs the API
// server less than kubeadm's fixed 5 s retry, not more, and verifies no
// later.
//
//   - The first attempt is at once: a node whose cluster is ready joins in
//     one round trip.
//   - After a round in which some endpoint answered (any HTTP status, a
//     TLS handshake, a cluster-info without the token's signature yet),
//     the wait is paced: uniform in [Pace/2, 3·Pace/2), Pace = 5 s. On
//     average one request per agent every 5 s, as kubeadm's, but never in
//     step: a fixed 5 s keeps the agents that started together together
//     (every retry of the herd lands in the tenth of a second its starts
//     did, and APF answers 429), while the jitter spreads each cohort over
//     5 s within two rounds. The old policy, full jitter from 1 s doubling
//     to 10 s, began with waits under a second and two: 6.9 requests per
//     agent against kubeadm's 4.4, spent while the token did not exist.
//   - After a round in which nothing was reached (connection refused, no
//     route, a name that does not resolve: the node's network or the API
//     server is still coming up), the wait is quick: full jitter, the
//     ceiling doubling from QuickBackoff up to Pace. Such attempts cost the
//     API server nothing, and a node whose network comes up a second late
//     should not wait five more.
//   - A Retry-After (429, 503) is waited out in full first, then the paced
//     wait is added, so that agents told the same Retry-After do not come
//     back at once (discovery.go takes the smallest Retry-After of the
//     round's endpoints: one endpoint, unauthenticated, cannot hold back
//     the others).
const (
	// Pace is the mean wait after a round that reached an API server.
	Pace = 5 * time.Second
	// QuickBackoff is the first ceiling of the quick waits.
	QuickBackoff = 1 * time.Second
)

// retryWait is the wait after round (0-based), given whether the round
// reached an API server and r, uniform in [0, 1).
func retryWait(round int, reached bool, r float64) time.Duration {
	if reached {
		return time.Duration((0.5 + r) * float64(Pace))
	}
	ceil := Pace
	if round < 8 {
		ceil = min(Pace, QuickBackoff<<round)
	}
	return time.Duration(r * float64(ceil))
}
