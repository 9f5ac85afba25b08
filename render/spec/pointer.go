package spec

import (
	"net/url"
	"strings"

	"github.com/kubebake/kubebake/internal/certs"
	"github.com/kubebake/kubebake/internal/inputs"
	"github.com/kubebake/kubebake/render/cache"
)

// PointerSchemes are the sources a pointer may fetch the boot part from:
// https, and the object stores Ignition reads with the instance's own
// credentials. Never plain http or tftp: the boot part is the token.
var PointerSchemes = []string{"https", "s3", "gs", "arn"}

// pointer sets the spec's --pointer and --pointer-ca.
func pointer(s *Spec, in Inputs, c *cache.Cache) error {
	if in.Pointer == "" {
		if in.PointerCA != "" {
			return inputs.Errorf(in.Given.Where("pointer-ca"), "only with --pointer https://...")
		}
		return nil
	}
	where := in.Given.Where("pointer")
	switch {
	case s.Part != PartBoot:
		return inputs.Errorf(where, "only with --part boot: the pointer fetches the boot part (the token); the image part is baked, not fetched")
	case s.Format != "ignition":
		return inputs.Errorf(where, "only with --format ignition: cloud-init cannot fetch and verify a config the way Ignition's config.merge does (see the README)")
	}
	u, err := url.Parse(in.Pointer)
	scheme := ""
	if err == nil {
		scheme = u.Scheme
	}
	ok := false
	for _, sc := range PointerSchemes {
		ok = ok || scheme == sc
	}
	switch {
	case err != nil:
		return inputs.Errorf(where, "%q is not a URL: %v", in.Pointer, err)
	case !ok:
		return inputs.Errorf(where, "%q: want an https://, s3://, gs:// or arn:aws:s3:... URL (the boot part holds the token: never plain http)", in.Pointer)
	case scheme == "arn" && !strings.HasPrefix(in.Pointer, "arn:aws:s3:"):
		return inputs.Errorf(where, "%q: Ignition reads only S3 ARNs (arn:aws:s3:...)", in.Pointer)
	case scheme != "arn" && u.Host == "":
		return inputs.Errorf(where, "%q names no host or bucket", in.Pointer)
	case u.User != nil:
		return inputs.Errorf(where, "%q holds credentials: they would be readable from the metadata service; let the instance's role read the object instead", in.Pointer)
	}
	s.Pointer = in.Pointer
	if in.PointerCA != "" {
		if scheme != "https" {
			return inputs.Errorf(in.Given.Where("pointer-ca"), "only for an https:// --pointer")
		}
		cas, _, err := inputs.CAs([]string{in.PointerCA}, c.ReadFile, c.Now())
		if err != nil {
			return inputs.Errorf(in.Given.Where("pointer-ca"), "%v", err)
		}
		s.PointerCA = certs.EncodePEM(cas)
	}
	return nil
}
