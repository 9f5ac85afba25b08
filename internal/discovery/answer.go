package discovery

import (
	"context"
	"crypto/x509"
	"errors"
	"net/http"
	"time"
)

// GetClusterInfo is the agent's verified fetch for others (kubebake check):
// it GETs cluster-info from ep as kubebake-join does, with no credentials,
// no redirect followed, the environment's proxy dialled as the agent dials
// it, and the answer capped, trusting only roots for ep's name. It returns
// the body of a 200 answer. For any other answer it returns the HTTP status
// too, so that the caller can say what to do about it; a failure to get an
// answer has status 0. err is worded as the agent words it.
func GetClusterInfo(ctx context.Context, ep string, roots *x509.CertPool, timeout time.Duration) (status int, body []byte, err error) {
	f := newFetcher(roots, ServerName(ep), newProxyDialer(environmentProxy, nil))
	body, err = f.get(ctx, ep, timeout)
	var fe *fetchError
	switch {
	case err == nil:
		return http.StatusOK, body, nil
	case errors.As(err, &fe):
		return fe.status, nil, err
	}
	return 0, nil, err
}
