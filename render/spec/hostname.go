package spec

import (
	"strings"

	"github.com/kubebake/kubebake/internal/inputs"
	"k8s.io/apimachinery/pkg/util/validation"
)

// maxHostname is Linux's HOST_NAME_MAX.
const maxHostname = 64

// parseHostname checks --hostname: a lowercase DNS name the kernel accepts
// and the kubelet can name its Node after ("" leaves the hostname alone).
func parseHostname(h string) (string, error) {
	if h == "" {
		return "", nil
	}
	if errs := validation.IsDNS1123Subdomain(h); len(errs) > 0 {
		return "", inputs.Errorf("--hostname", "%q: %s (the kubelet names the Node after the hostname)", h, strings.Join(errs, "; "))
	}
	if len(h) > maxHostname {
		return "", inputs.Errorf("--hostname", "%q is %d characters; Linux allows %d", h, len(h), maxHostname)
	}
	return h, nil
}
