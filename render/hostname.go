package render

import (
	"strings"

	"github.com/kubebake/kubebake/internal/options"
	"k8s.io/apimachinery/pkg/util/validation"
)

func init() {
	RegisterOption(options.Option[Inputs]{Meta: options.Meta{Name: "hostname", Arg: "NAME", Config: true, Commands: renderOnly, DefaultHelp: "what the OS or the cloud sets",
		Help: "the node's hostname, written to /etc/hostname (the kubelet names its Node after it); in a --nodes file, a key of each node"},
		Field: func(in *Inputs) any { return &in.Hostname }})
}

// maxHostname is Linux's HOST_NAME_MAX.
const maxHostname = 64

// parseHostname checks --hostname: a lowercase DNS name the kernel accepts
// and the kubelet can name its Node after ("" leaves the hostname alone).
func parseHostname(h string) (string, error) {
	if h == "" {
		return "", nil
	}
	if errs := validation.IsDNS1123Subdomain(h); len(errs) > 0 {
		return "", inputErrorf("--hostname", "%q: %s (the kubelet names the Node after the hostname)", h, strings.Join(errs, "; "))
	}
	if len(h) > maxHostname {
		return "", inputErrorf("--hostname", "%q is %d characters; Linux allows %d", h, len(h), maxHostname)
	}
	return h, nil
}
