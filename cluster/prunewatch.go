package cluster

import (
	"context"
	"fmt"
	"net/http"
	"time"

	certv1 "k8s.io/api/certificates/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
)

// WatchOptions tune PruneWatch.
type WatchOptions struct {
	PruneOptions
	// Report is called with every decision that differs from the last one
	// reported for the same token (and each first one).
	Report func(Decision)
	// Warn is called with each failure the watch recovers from by
	// listing again after Retry.
	Warn func(error)
	// Retry is how long to wait before listing again after the API server
	// failed (5 s when zero).
	Retry time.Duration
}

// PruneWatch prunes as Prune does, then again each time a watch on
// CertificateSigningRequests shows a kubelet client CSR of a bootstrap token
// approved, so that a token is deleted seconds after the approval that
// reached its max-joins. It keeps the CSRs it has seen in memory, so joins
// whose CSRs the csrcleaner deletes meanwhile still count. It returns when
// ctx ends (nil) or a deletion fails.
func PruneWatch(ctx context.Context, api TokenAPI, opt WatchOptions) error {
	if opt.Retry == 0 {
		opt.Retry = 5 * time.Second
	}
	last := map[string]Decision{}
	seen := map[string]certv1.CertificateSigningRequest{} // by CSR name
	prune := func() error {
		var csrs []certv1.CertificateSigningRequest
		for _, c := range seen {
			csrs = append(csrs, c)
		}
		ds, err := pruneWith(ctx, api, CountJoins(csrs), opt.PruneOptions)
		for _, d := range ds {
			if prev, ok := last[d.ID]; (!ok || prev != d) && opt.Report != nil {
				opt.Report(d)
			}
			last[d.ID] = d
		}
		return err
	}
	for ctx.Err() == nil {
		csrs, rv, err := api.CSRs(ctx)
		if err != nil {
			if !opt.retry(ctx, err) {
				return ctxErr(ctx, err)
			}
			continue
		}
		for _, c := range csrs {
			if _, _, _, ok := csrJoin(&c); ok {
				seen[c.Name] = c
			}
		}
		if err := prune(); err != nil {
			if !opt.retry(ctx, err) {
				return ctxErr(ctx, err)
			}
			continue
		}
		if err := watchCSRs(ctx, api, rv, seen, prune); err != nil && !opt.retry(ctx, err) {
			return ctxErr(ctx, err)
		}
	}
	return nil
}

// watchCSRs follows the CSR watch from rv until it ends (nil: list again),
// pruning after each approval of a bootstrap token's kubelet client CSR.
func watchCSRs(ctx context.Context, api TokenAPI, rv string, seen map[string]certv1.CertificateSigningRequest, prune func() error) error {
	w, err := api.WatchCSRs(ctx, rv)
	if err != nil {
		return err
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.ResultChan():
			if !ok {
				return nil // the server ended the watch: list again
			}
			switch ev.Type {
			case watch.Error:
				if st, ok := ev.Object.(*metav1.Status); ok && st.Code == http.StatusGone {
					return nil // too old a resourceVersion: list again
				}
				return apierrors.FromObject(ev.Object)
			case watch.Added, watch.Modified:
				csr, ok := ev.Object.(*certv1.CertificateSigningRequest)
				if !ok {
					continue
				}
				// Only joins are kept: memory grows with the nodes that
				// joined, not with every CSR.
				if _, _, _, joined := csrJoin(csr); joined {
					seen[csr.Name] = *csr
					if err := prune(); err != nil {
						return err
					}
				}
			}
			// Deleted: the csrcleaner removes approved CSRs after an
			// hour; the join they record still counts.
		}
	}
}

// retry reports err and waits before the next attempt; false when ctx
// ended or err is one no retry mends (the rights are missing).
func (o WatchOptions) retry(ctx context.Context, err error) bool {
	if apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err) {
		return false
	}
	if o.Warn != nil && ctx.Err() == nil {
		o.Warn(fmt.Errorf("%w; listing again in %s", err, o.Retry))
	}
	wait := o.Retry
	select {
	case <-ctx.Done():
		return false
	case <-time.After(wait):
		return true
	}
}

func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("pruning: %w", err)
}
