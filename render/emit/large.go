package emit

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"

	"github.com/kubebake/kubebake/render/cache"
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
// means with that string in place. The encoding is done here, so the
// alphabet is certain; splicing checks that each placeholder stands exactly
// once.
//
// The values are encoded only when spliced in: Doc.Bytes builds the whole
// document, Doc.WriteTo streams it, taking the encoding from the cache
// when a fleet renders the same agent into many documents.
type largeValues struct {
	placeholders []string
	vals         []largeValue
}

type largeValue struct {
	data    []byte
	dataURL bool
	// wrapped: base64 in lines of wrapWidth characters (a here-document in
	// a MIME part, where lines should stay short).
	wrapped bool
	// literal, when set, is the value as spliced, already encoded.
	literal []byte
}

const largePlaceholder = "kubebake-large-value-"

// placeholder is the i'th placeholder: fixed width, so that none is a
// prefix of another (with "-1" and "-10", the first stood twice).
func placeholder(i int) string { return fmt.Sprintf("%s%06d", largePlaceholder, i) }

// add records data, to be base64-encoded, and returns the placeholder to
// marshal in its place. With dataURL, the value is a data: URL and so is the
// placeholder (validators check that a source is a URL).
func (l *largeValues) add(data []byte, dataURL bool) string {
	ph := placeholder(len(l.vals))
	if dataURL {
		ph = "data:," + ph
	}
	l.vals = append(l.vals, largeValue{data: data, dataURL: dataURL})
	l.placeholders = append(l.placeholders, ph)
	return ph
}

// addWrapped records data, to be base64-encoded in lines of wrapWidth
// characters, and returns the placeholder to marshal in its place.
func (l *largeValues) addWrapped(data []byte) string {
	ph := l.add(data, false)
	l.vals[len(l.vals)-1].wrapped = true
	return ph
}

// wrapWidth is the length of a wrapped value's lines, as in MIME's base64.
const wrapWidth = 76

// addLiteral records a value spliced in as it is, which the caller has
// encoded for the document, and returns its placeholder, a data: URL.
func (l *largeValues) addLiteral(value []byte) string {
	ph := "data:," + placeholder(len(l.vals))
	l.vals = append(l.vals, largeValue{literal: value})
	l.placeholders = append(l.placeholders, ph)
	return ph
}

func (v largeValue) prefix() string {
	if v.dataURL {
		return "data:;base64,"
	}
	return ""
}

// encodedLen is the length of the spliced value.
func (v largeValue) encodedLen() int {
	if v.literal != nil {
		return len(v.literal)
	}
	n := base64.StdEncoding.EncodedLen(len(v.data))
	if v.wrapped && n > 0 {
		n += (n - 1) / wrapWidth
	}
	return len(v.prefix()) + n
}

// encode returns the spliced value.
func (v largeValue) encode() []byte {
	if v.literal != nil {
		return v.literal
	}
	var b bytes.Buffer
	b.Grow(v.encodedLen())
	v.writeTo(&b) // a bytes.Buffer takes every write
	return b.Bytes()
}

// writeTo streams the spliced value to w, encoding as it goes.
func (v largeValue) writeTo(w io.Writer) error {
	if v.literal != nil {
		_, err := w.Write(v.literal)
		return err
	}
	if _, err := io.WriteString(w, v.prefix()); err != nil {
		return err
	}
	if v.wrapped {
		w = &lineWriter{w: w}
	}
	enc := base64.NewEncoder(base64.StdEncoding, w)
	if _, err := enc.Write(v.data); err != nil {
		return err
	}
	return enc.Close()
}

var newline = []byte{'\n'}

// lineWriter breaks what is written through it into lines of wrapWidth
// bytes, with no newline after the last.
type lineWriter struct {
	w    io.Writer
	line int // bytes on the current line
}

func (l *lineWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		if l.line == wrapWidth {
			if _, err := l.w.Write(newline); err != nil {
				return n, err
			}
			l.line = 0
		}
		k := min(len(p), wrapWidth-l.line)
		m, err := l.w.Write(p[:k])
		n, l.line = n+m, l.line+m
		if err != nil {
			return n, err
		}
		p = p[k:]
	}
	return n, nil
}

// split cuts doc at the placeholders: len(l.vals)+1 pieces, the value i
// goes between pieces i and i+1.
func (l *largeValues) split(doc []byte) ([][]byte, error) {
	pieces := make([][]byte, 0, len(l.vals)+1)
	rest := doc
	for i := range l.vals {
		ph := []byte(l.placeholders[i])
		at := bytes.Index(rest, ph)
		if at < 0 || bytes.Contains(rest[at+len(ph):], ph) {
			return nil, fmt.Errorf("internal error: placeholder %d does not stand exactly once", i)
		}
		// A longer placeholder (…-10) must not match …-1.
		if n := at + len(ph); n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
			return nil, fmt.Errorf("internal error: placeholder %d is ambiguous", i)
		}
		pieces = append(pieces, rest[:at])
		rest = rest[at+len(ph):]
	}
	return append(pieces, rest), nil
}

// apply replaces each placeholder in doc with its value.
func (l *largeValues) apply(doc []byte) ([]byte, error) {
	if len(l.vals) == 0 {
		return doc, nil
	}
	pieces, err := l.split(doc)
	if err != nil {
		return nil, err
	}
	size := len(doc)
	for _, v := range l.vals {
		size += v.encodedLen()
	}
	out := make([]byte, 0, size)
	for i, v := range l.vals {
		out = append(out, pieces[i]...)
		out = append(out, v.encode()...)
	}
	return append(out, pieces[len(pieces)-1]...), nil
}

// writeTo writes doc with each placeholder replaced by its value to w,
// never holding the whole document: the encoded values come from c
// (encoded once per fleet) or are encoded as they are written.
func (l *largeValues) writeTo(w io.Writer, doc []byte, c *cache.Cache) error {
	pieces, err := l.split(doc)
	if err != nil {
		return err
	}
	for i, p := range pieces {
		if _, err := w.Write(p); err != nil {
			return err
		}
		if i == len(l.vals) {
			break
		}
		// With a cache, each value is encoded once for every document that
		// holds it; without, straight into w.
		if c != nil {
			if _, err := w.Write(encoded(c, l.vals[i])); err != nil {
				return err
			}
		} else if err := l.vals[i].writeTo(w); err != nil {
			return err
		}
	}
	return nil
}

// encoded is v as spliced into a document, encoded once per value.
func encoded(c *cache.Cache, v largeValue) []byte {
	k, ok := cache.KeyOf(v.data)
	if v.literal != nil || !ok {
		return v.encode()
	}
	type key struct {
		cache.DataKey
		dataURL, wrapped bool
	}
	enc, _ := cache.Get(c, "encoded", key{k, v.dataURL, v.wrapped}, cache.Unbounded, func() ([]byte, error) { return v.encode(), nil })
	return enc
}

// Doc is an emitted document: its bytes, with placeholders for the large
// values spliced in when it is written.
type Doc struct {
	Data  []byte
	large *largeValues
}

// whole is a Doc without placeholders.
func whole(data []byte, err error) (Doc, error) { return Doc{Data: data}, err }

// Bytes is the document with its large values in place.
func (d Doc) Bytes() ([]byte, error) {
	if d.large == nil {
		return d.Data, nil
	}
	return d.large.apply(d.Data)
}

// Len is the length of the document with its large values in place.
func (d Doc) Len() int {
	n := len(d.Data)
	if d.large != nil {
		for i, v := range d.large.vals {
			n += v.encodedLen() - len(d.large.placeholders[i])
		}
	}
	return n
}

// WriteTo streams the document with its large values to w, the encoded
// values from c (which may be nil).
func (d Doc) WriteTo(w io.Writer, c *cache.Cache) error {
	if d.large == nil {
		_, err := w.Write(d.Data)
		return err
	}
	return d.large.writeTo(w, d.Data, c)
}
