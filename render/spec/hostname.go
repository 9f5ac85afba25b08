package spec

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// maxHostname is Linux's HOST_NAME_MAX.
const maxHostname = 64

// checkHostname is --hostname's Validate: a lowercase DNS name the kernel
// accepts and the kubelet can name its Node after.
func checkHostname(v any) error {
	h := v.(string)
	if errs := validation.IsDNS1123Subdomain(h); len(errs) > 0 {
		return fmt.Errorf("%q: %s (the kubelet names the Node after the hostname)", h, ValidationMessage(errs))
	}
	if len(h) > maxHostname {
		return fmt.Errorf("%q is %d characters; Linux allows %d", h, len(h), maxHostname)
	}
	return nil
}

// ValidationMessage joins Kubernetes' validation messages without the
// examples and regex they end in ("(e.g. 'example.com', regex used for
// validation is '[a-z0-9]...')"): what is wanted, in words.
func ValidationMessage(errs []string) string {
	out := make([]string, len(errs))
	for i, e := range errs {
		if j := strings.Index(e, " (e.g. "); j >= 0 {
			e = e[:j]
		}
		if j := strings.Index(e, "regex used for validation"); j >= 0 {
			e = strings.TrimRight(e[:j], " ,(")
		}
		out[i] = e
	}
	return strings.Join(out, "; ")
}
