package render

import (
	"encoding/json"
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
	doc, large, err := ignitionDoc(p, v, nil)
	if err != nil {
		return nil, err
	}
	if user != nil {
		child, err := user.childIgnition(p)
		if err != nil {
			return nil, err
		}
		ign, err := mergeIgnition(doc[:len(doc)-1:len(doc)-1], child, v, user.Name)
		if err != nil {
			return nil, err
		}
		doc = append(ign, '\n')
	}
	return large.apply(doc)
}

// ignitionDoc is the Ignition config with placeholders for large values.
//
// Every file's contents are placeholders: the data URL each becomes is
// made by Butane's own util.MakeDataURL, as Butane's translation of inline
// contents makes it (the smallest of URL-escaped, base64 and gzip+base64),
// and spliced in afterwards. Files say nothing Butane or Ignition validate
// beyond their URL, and the document with placeholders depends only on
// the plan's shape (paths, modes, units): with a Shared cache, a fleet
// translates and validates each shape once, and each node only splices.
func ignitionDoc(p *Plan, v Variant, shared *Shared) ([]byte, *largeValues, error) {
	doc, large, err := butaneConfigOf(p, v, nil, true, shared)
	if err != nil {
		return nil, nil, err
	}
	// The cache key: the typed document (JSON is quicker to make than the
	// YAML it stands for) and the header that goes with it.
	var key []byte
	if shared != nil {
		if key, err = json.Marshal(doc); err != nil {
			return nil, nil, err
		}
		key = append(key, header(p)...)
		if ign, ok := shared.translated(key); ok {
			return ign, large, nil
		}
	}
	bu, err := marshalButane(p, doc)
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
	ign = append(ign, '\n')
	shared.storeTranslated(key, ign)
	return ign, large, nil
}
