package render

import (
	"bytes"
	"encoding/base64"
	"fmt"
)

// largeValues keeps megabytes of base64 out of the serializers and
// validators. YAML encoders and parsers scan a scalar byte by byte: with
// the agent inline, Butane's translation and Ignition's parse took over a
// second. So an emitter marshals (and Butane and Ignition validate) the
// document with a short placeholder in place of each large value, and the
// value is spliced in afterwards.
//
// This is safe because of what the values are: base64 (and a data: URL
// prefix), an alphabet that is a plain scalar in YAML and needs no escaping
// in JSON, so the spliced document means exactly what the validated one
// means with that string in place. add does the encoding itself, so the
// alphabet is certain; apply checks that each placeholder stands exactly
// once.
type largeValues struct {
	placeholders []string
	vals         [][]byte
}

const largePlaceholder = "kubebake-large-value-"

// add records data, base64-encoded, and returns the placeholder to marshal
// in its place. With dataURL, the value is a data: URL and so is the
// placeholder (validators check that a source is a URL).
func (l *largeValues) add(data []byte, dataURL bool) string {
	prefix, ph := "", fmt.Sprintf("%s%d", largePlaceholder, len(l.vals))
	if dataURL {
		prefix, ph = "data:;base64,", "data:,"+ph
	}
	enc := make([]byte, len(prefix)+base64.StdEncoding.EncodedLen(len(data)))
	copy(enc, prefix)
	base64.StdEncoding.Encode(enc[len(prefix):], data)
	l.vals = append(l.vals, enc)
	l.placeholders = append(l.placeholders, ph)
	return ph
}

// apply replaces each placeholder in doc with its value.
func (l *largeValues) apply(doc []byte) ([]byte, error) {
	if len(l.vals) == 0 {
		return doc, nil
	}
	size := len(doc)
	for _, v := range l.vals {
		size += len(v)
	}
	out := make([]byte, 0, size)
	rest := doc
	for i, v := range l.vals {
		ph := []byte(l.placeholders[i])
		at := bytes.Index(rest, ph)
		if at < 0 || bytes.Contains(rest[at+len(ph):], ph) {
			return nil, fmt.Errorf("internal error: placeholder %d does not stand exactly once", i)
		}
		// A longer placeholder (…-10) must not match …-1.
		if n := at + len(ph); n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
			return nil, fmt.Errorf("internal error: placeholder %d is ambiguous", i)
		}
		out = append(out, rest[:at]...)
		out = append(out, v...)
		rest = rest[at+len(ph):]
	}
	return append(out, rest...), nil
}
