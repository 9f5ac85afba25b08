package cluster

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kubebake/kubebake/internal/inputs"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"
)

// ConnectOptions say which kubeconfig to talk to the cluster with.
type ConnectOptions struct {
	// Kubeconfig is --kubeconfig; else KUBECONFIG ($KUBECONFIG), else
	// ~/.kube/config, as kubectl finds it.
	Kubeconfig, KUBECONFIG string
	// Context is the kubeconfig's context (its current one when empty).
	Context string
	// Timeout bounds each request.
	Timeout   time.Duration
	UserAgent string
}

// Connect makes the Client of a kubeconfig. A wrong kubeconfig is an
// *inputs.Error naming --kubeconfig or $KUBECONFIG in the user's words
// (client-go's speak of KUBERNETES_MASTER and Go types).
func Connect(o ConnectOptions) (*Client, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	var files []string
	switch {
	case o.Kubeconfig != "":
		rules.ExplicitPath = o.Kubeconfig
		files = []string{o.Kubeconfig}
	case o.KUBECONFIG != "":
		for _, f := range filepath.SplitList(o.KUBECONFIG) {
			if f == "" {
				continue
			}
			if _, err := os.Stat(f); err != nil {
				return nil, inputs.Errorf("$KUBECONFIG", "%s: %v (give --kubeconfig FILE, or fix $KUBECONFIG)", f, pathReason(err))
			}
			files = append(files, f)
		}
	default:
		if f := rules.GetDefaultFilename(); f != "" {
			if _, err := os.Stat(f); err == nil {
				files = []string{f}
			}
		}
	}
	for _, f := range files {
		if err := looksLikeKubeconfig(f); err != nil {
			return nil, inputs.Errorf("--kubeconfig", "%v", err)
		}
	}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: o.Context})
	cfg, err := cc.ClientConfig()
	switch {
	case clientcmd.IsEmptyConfig(err):
		return nil, inputs.Errorf("--kubeconfig", "no kubeconfig found (not given, $KUBECONFIG unset, no ~/.kube/config): give --kubeconfig FILE, an admin kubeconfig such as a kubeadm control plane's /etc/kubernetes/admin.conf")
	case err != nil:
		return nil, inputs.Errorf("--kubeconfig", "%s", plainError(err))
	}
	cfg.UserAgent, cfg.Timeout = o.UserAgent, o.Timeout
	c, err := NewClient(cfg)
	if err != nil {
		return nil, inputs.Errorf("--kubeconfig", "%s", plainError(err))
	}
	return c, nil
}

func pathReason(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// looksLikeKubeconfig reads f as YAML and wants kind: Config, so that a
// wrong file gets a sentence rather than a JSON decoder's Go types.
func looksLikeKubeconfig(f string) error {
	data, err := inputs.ReadBounded(f)
	if err != nil {
		return fmt.Errorf("%s: %v", f, pathReason(err))
	}
	var head struct {
		Kind     string `json:"kind"`
		Clusters []any  `json:"clusters"`
	}
	if err := yaml.Unmarshal(data, &head); err != nil || (head.Kind != "Config" && head.Kind != "") || (head.Kind == "" && head.Clusters == nil) {
		return fmt.Errorf("%s is not a kubeconfig (want a YAML file with kind: Config, clusters, users and contexts, like /etc/kubernetes/admin.conf)", f)
	}
	return nil
}

// plainError is err's message without client-go's Go-type internals.
func plainError(err error) string {
	msg := err.Error()
	for _, internal := range []string{"Go value of type", "Go struct field", "json: cannot unmarshal"} {
		if strings.Contains(msg, internal) {
			return "the kubeconfig is malformed (a field has the wrong type); check it with kubectl --kubeconfig FILE config view"
		}
	}
	return strings.TrimPrefix(msg, "invalid configuration: ")
}
