package emit

import (
	"encoding/json"
	"fmt"
	"strings"

	butane "github.com/coreos/butane/config"
	"github.com/coreos/butane/config/common"
	"github.com/kubebake/kubebake/render/cache"
	"github.com/kubebake/kubebake/render/plan"
	"github.com/kubebake/kubebake/render/spec"
)

var ignitionEmitter = Emitter{
	FormatInfo: spec.FormatInfo{Name: "ignition", Ext: ".ign", Variant: true, Merge: true, UserData: true, RemoteFiles: true},
	Emit: func(in Input) (Doc, error) {
		if in.Plan.User == nil {
			return ignitionDoc(in.Plan, in.Cache)
		}
		return whole(Ignition(in.Plan))
	},
}

// Ignition emits the plan as an Ignition config: our Butane, translated and
// validated by the Butane library. Any entry in its report is a bug in
// kubebake, not the user's problem, and is returned as an error naming the
// offending field.
//
// With p.User, the user's config is merged in as Ignition merges a child
// config into its parent (see mergeIgnition), after a check that it does
// not overwrite anything of ours.
func Ignition(p *plan.Plan) ([]byte, error) {
	doc, err := ignitionDoc(p, p.Spec.Cache())
	if err != nil {
		return nil, err
	}
	if user := p.User; user != nil {
		child, err := childIgnition(p)
		if err != nil {
			return nil, err
		}
		d := doc.Data
		ign, err := mergeIgnition(d[:len(d)-1:len(d)-1], child, p.Spec.Variant, user.Name)
		if err != nil {
			return nil, err
		}
		doc.Data = append(ign, '\n')
	}
	return doc.Bytes()
}

// ignitionDoc is the Ignition config with placeholders for large values.
//
// Every file's contents are placeholders: the data URL each becomes is
// made by Butane's own util.MakeDataURL, as Butane's translation of inline
// contents makes it (the smallest of URL-escaped, base64 and gzip+base64),
// and spliced in afterwards. Files say nothing Butane or Ignition validate
// beyond their URL, and the document with placeholders depends only on
// the plan's shape (paths, modes, units): with a cache, a fleet
// translates and validates each shape once, and each node only splices.
func ignitionDoc(p *plan.Plan, c *cache.Cache) (Doc, error) {
	doc, large, err := butaneConfigOf(p, p.Spec.Variant, nil, true, c)
	if err != nil {
		return Doc{}, err
	}
	// The cache key: the typed document (JSON is quicker to make than the
	// YAML it stands for) and the header that goes with it.
	key, err := json.Marshal(doc)
	if err != nil {
		return Doc{}, err
	}
	key = append(key, header(p)...)
	ign, err := cache.Get(c, "ignition", string(key), maxShapes, func() ([]byte, error) { return translate(p, doc) })
	return Doc{Data: ign, large: large}, err
}

// translate is the Ignition config of our Butane document, validated.
func translate(p *plan.Plan, doc butaneConfig) ([]byte, error) {
	bu, err := marshalButane(p, doc)
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
	// Butane's translation has already validated the Ignition config it
	// made (duplicates and every field's rules, as Ignition's parser does),
	// so it is not parsed back here: that took a quarter of a single
	// render's time. The tests parse every output with Ignition's own
	// parser (TestGolden, the fuzz test, test/consumers' real applier).
	// Translated and validated with placeholders; the real contents are
	// spliced in by the caller.
	return append(ign, '\n'), nil
}

// maxShapes bounds the translations a fleet keeps: a fleet of many shapes
// translates again rather than grow without bound.
const maxShapes = 1024

// maxNeverGzipped is the longest contents Butane's MakeDataURL never
// gzips: gzip+base64 is at least ";base64," and 28 characters for 20 bytes
// of framing and stream, 40 with the 4 of "gzip" it must beat, and plain
// base64 of 24 bytes is 40 characters, the URL-escaped form never longer
// than the shorter of the two it is compared with.
const maxNeverGzipped = 24

// dataURL is contents as the data URL Butane makes of inline contents, as
// it stands in the Ignition JSON, and the compression that goes with it;
// made once per cache.
func dataURL(c *cache.Cache, contents []byte) ([]byte, string, error) {
	type url struct {
		literal     []byte
		compression string
	}
	u, err := cache.Get(c, "dataurl", string(contents), maxShapes*16, func() (url, error) {
		// Butane gzips only when that makes the URL shorter; it cannot for
		// contents of up to 24 bytes (gzip's 18 bytes of framing, in base64,
		// already exceed their plain base64), so the compressor is not even
		// started for them: same URL, no 1 MB of compressor state per hostname.
		// The compressor is a reused one (makeDataURL): a node's own
		// contents (its labels, its kubelet config) miss the cache.
		uri, compression, err := makeDataURL(contents, len(contents) > maxNeverGzipped)
		if err != nil {
			return url{}, err
		}
		quoted, err := json.Marshal(uri)
		if err != nil {
			return url{}, err
		}
		return url{literal: quoted[1 : len(quoted)-1], compression: compression}, nil
	})
	return u.literal, u.compression, err
}
