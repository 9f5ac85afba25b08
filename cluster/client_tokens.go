package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"

	certv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
)

// Client's TokenAPI.

func (c *Client) TokenSecrets(ctx context.Context) ([]corev1.Secret, error) {
	l := &corev1.SecretList{}
	err := c.List(ctx, TokenNamespace, l, ListOptions{FieldSelector: "type=" + string(corev1.SecretTypeBootstrapToken)})
	return l.Items, err
}

func (c *Client) DeleteSecret(ctx context.Context, name string, uid types.UID) error {
	return c.Delete(ctx, TokenNamespace, name, &corev1.Secret{}, DeleteOptions{UID: string(uid)})
}

func (c *Client) CSRs(ctx context.Context) ([]certv1.CertificateSigningRequest, string, error) {
	l := &certv1.CertificateSigningRequestList{}
	if err := c.List(ctx, "", l, ListOptions{}); err != nil {
		return nil, "", err
	}
	return l.Items, l.ResourceVersion, nil
}

func (c *Client) WatchCSRs(ctx context.Context, rv string) (watch.Interface, error) {
	k, _ := kindOf(&certv1.CertificateSigningRequest{})
	q := url.Values{"watch": {"true"}, "allowWatchBookmarks": {"true"}}
	if rv != "" {
		q.Set("resourceVersion", rv)
	}
	ctx, cancel := context.WithCancel(ctx)
	resp, err := c.request(ctx, c.watchHC, http.MethodGet, k.path("", "")+"?"+q.Encode(), nil, "")
	if err != nil {
		cancel()
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer cancel()
		defer resp.Body.Close()
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return nil, statusError(resp.StatusCode, "watch", k, "", data)
	}
	w := &watcher{ch: make(chan watch.Event), cancel: cancel}
	go w.run(ctx, resp.Body, func() runtime.Object { return &certv1.CertificateSigningRequest{} })
	return w, nil
}

// watcher decodes a watch's stream of events ({"type", "object"}).
type watcher struct {
	ch     chan watch.Event
	cancel context.CancelFunc
}

func (w *watcher) Stop()                          { w.cancel() }
func (w *watcher) ResultChan() <-chan watch.Event { return w.ch }

func (w *watcher) run(ctx context.Context, body io.ReadCloser, newObj func() runtime.Object) {
	defer close(w.ch)
	defer body.Close()
	dec := json.NewDecoder(body)
	for {
		var ev struct {
			Type   watch.EventType `json:"type"`
			Object json.RawMessage `json:"object"`
		}
		if err := dec.Decode(&ev); err != nil {
			return // the server or Stop ended the watch
		}
		var obj runtime.Object = newObj()
		if ev.Type == watch.Error {
			obj = &metav1.Status{}
		}
		if err := json.Unmarshal(ev.Object, obj); err != nil {
			st := &metav1.Status{Status: metav1.StatusFailure, Message: fmt.Sprintf("a watch event that is not a %T: %v", obj, err), Code: 500}
			ev.Type, obj = watch.Error, st
		}
		select {
		case w.ch <- watch.Event{Type: ev.Type, Object: obj}:
		case <-ctx.Done():
			return
		}
	}
}
