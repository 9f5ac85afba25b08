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
func Ignition(p *Plan, v Variant) ([]byte, error) {
	doc, large, err := ignitionDoc(p, v)
	if err != nil {
		return nil, err
	}
	return large.apply(doc)
}

// ignitionDoc is the Ignition config with placeholders for large values.
func ignitionDoc(p *Plan, v Variant) ([]byte, *largeValues, error) {
	bu, large, err := butaneDoc(p, v)
	if err != nil {
		return nil, nil, err
	}
	ign, rpt, err := butane.TranslateBytes(bu, common.TranslateBytesOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("translating Butane (a kubebake bug): %v\n%s", err, rpt.String())
	}
	if len(rpt.Entries) > 0 {
		return nil, nil, fmt.Errorf("translating Butane (a kubebake bug):\n%s", strings.TrimSpace(rpt.String()))
	}
	if _, rpt, err := ignition.Parse(ign); err != nil || len(rpt.Entries) > 0 {
		return nil, nil, fmt.Errorf("Ignition rejects the config (a kubebake bug): %v\n%s", err, strings.TrimSpace(rpt.String()))
	}
	// Translated and validated with placeholders; the real contents are
	// spliced in by the caller.
	return append(ign, '\n'), large, nil
}
