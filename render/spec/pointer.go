package spec

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/kubebake/kubebake/internal/certs"
	"github.com/kubebake/kubebake/internal/inputs"
	"github.com/kubebake/kubebake/internal/options"
	"github.com/kubebake/kubebake/render/cache"
)

// PointerSchemes are the sources a pointer may fetch the boot part from:
// https, and the object stores Ignition reads with the instance's own
// credentials. Never plain http or tftp: the boot part is the token.
var PointerSchemes = []string{"https", "s3", "gs", "arn"}

// pointer sets the spec's --pointer and reads --pointer-ca (the table
// checked both: pointerURL, pointerRule, pointerCARule).
func pointer(s *Spec, in Inputs, c *cache.Cache) error {
	s.Pointer = in.Pointer
	if in.PointerCA == "" {
		return nil
	}
	cas, _, err := inputs.CAs([]string{in.PointerCA}, c.ReadFile, c.Now())
	if err != nil {
		return inputs.Errorf("--pointer-ca", "%v", err)
	}
	s.PointerCA = certs.EncodePEM(cas)
	return nil
}

// pointerURL is --pointer's Validate: a place Ignition fetches from with
// the instance's own credentials, or https; never plain http.
func pointerURL(v any) error {
	p := v.(string)
	u, err := url.Parse(p)
	if err != nil {
		return fmt.Errorf("%q is not a URL: %v", p, err)
	}
	scheme := u.Scheme
	switch {
	case !slices.Contains(PointerSchemes, scheme):
		return fmt.Errorf("%q: want an https://, s3://, gs:// or arn:aws:s3:... URL (the boot part holds the token: never plain http)", p)
	case scheme == "arn" && !strings.HasPrefix(p, "arn:aws:s3:"):
		return fmt.Errorf("%q: Ignition reads only S3 ARNs (arn:aws:s3:...)", p)
	case scheme != "arn" && u.Host == "":
		return fmt.Errorf("%q names no host or bucket", p)
	case u.User != nil:
		return fmt.Errorf("%q holds credentials: they would be readable from the metadata service; let the instance's role read the object instead", p)
	}
	return nil
}

// pointerRule is --pointer's rule: it fetches the boot part, and only
// Ignition can fetch and verify it.
func pointerRule(in *Inputs, _ options.Given) error {
	switch {
	case in.Pointer == "":
		return nil
	case partOf(in) != PartBoot:
		return errors.New("only with --part boot: the pointer fetches the boot part (the token); the image part is baked, not fetched")
	case in.Format != "ignition":
		return errors.New("only with --format ignition: cloud-init cannot fetch and verify a config the way Ignition's config.merge does (see the README)")
	}
	return nil
}

// pointerCARule is --pointer-ca's rule: the CA of an https --pointer.
func pointerCARule(in *Inputs, _ options.Given) error {
	switch {
	case in.PointerCA == "":
		return nil
	case in.Pointer == "":
		return errors.New("only with --pointer https://...")
	}
	if u, err := url.Parse(in.Pointer); err != nil || u.Scheme != "https" {
		return errors.New("only for an https:// --pointer")
	}
	return nil
}
