package render

import (
	"fmt"
	"strings"

	butane "github.com/coreos/butane/config"
	"github.com/coreos/butane/config/common"
	ignition "github.com/coreos/ignition/v2/config"
)

// Ignition emits the plan as an Ignition config: our Butane, translated by
// the Butane library, then parsed back with Ignition's own parser. Any
// entry in either report is a bug in kubebake, not the user's problem, and
// is returned as an error naming the offending field.
//
// With user, the user's config is merged in as Ignition merges a child
// config into its parent (see mergeIgnition), after a check that it does
// not overwrite anything of ours.
func Ignition(p *Plan, v Variant, user *UserConfig) ([]byte, error) {
	bu, large, err := butaneDoc(p, v, nil)
	if err != nil {
		return nil, err
	}
	ign, rpt, err := butane.TranslateBytes(bu, common.TranslateBytesOptions{})
	if err != nil {
		return nil, fmt.Errorf("translating Butane (a kubebake bug): %v\n%s", err, rpt.String())
	}
	if len(rpt.Entries) > 0 {
		return nil, fmt.Errorf("translating Butane (a kubebake bug):\n%s", strings.TrimSpace(rpt.String()))
	}
	if _, rpt, err := ignition.Parse(ign); err != nil || len(rpt.Entries) > 0 {
		return nil, fmt.Errorf("Ignition rejects the config (a kubebake bug): %v\n%s", err, strings.TrimSpace(rpt.String()))
	}
	if user != nil {
		child, err := user.childIgnition(p)
		if err != nil {
			return nil, err
		}
		if ign, err = mergeIgnition(ign, child, v, user.Name); err != nil {
			return nil, err
		}
	}
	// Translated and validated with placeholders; now the real contents.
	ign, err = large.apply(ign)
	if err != nil {
		return nil, err
	}
	return append(ign, '\n'), nil
}
