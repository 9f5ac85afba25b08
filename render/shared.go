package render

import (
	"crypto/x509"
	"encoding/json"
	"strings"
	"sync"
	"time"

	butaneutil "github.com/coreos/butane/base/util"
	"github.com/kubebake/kubebake/internal/inputs"
)

// Shared is the work that does not depend on the node, done once when many
// nodes are rendered in one process: each input file is read once, each CA
// bundle parsed and checked once, each large value (the agent) base64-encoded
// once and its uncompressed bytes recovered once. (Templates are parsed once
// per process anyway.) It is safe for concurrent use.
type Shared struct {
	read func(string) ([]byte, error)
	now  time.Time

	mu      sync.Mutex
	files   map[string]fileResult
	cas     map[string]caResult
	enc     map[largeKey][]byte
	gunzips map[largeKey]fileResult
	digests map[largeKey]digestResult
	urls    map[string]dataURL
	// memos holds documents made from a key (memo).
	memos map[string][]byte
	// ignition maps a Butane document with placeholders to its translated
	// and validated Ignition config; at most maxShapes are kept.
	ignition map[string][]byte
}

// maxNeverGzipped is the longest contents Butane's MakeDataURL never
// gzips: gzip+base64 is at least ";base64," and 28 characters for 20 bytes
// of framing and stream, 40 with the 4 of "gzip" it must beat, and plain
// base64 of 24 bytes is 40 characters, the URL-escaped form never longer
// than the shorter of the two it is compared with.
const maxNeverGzipped = 24

// maxShapes bounds the translations a fleet keeps: a fleet of many shapes
// translates again rather than grow without bound.
const maxShapes = 1024

type digestResult struct {
	sum  string
	size int64
	err  error
}

type dataURL struct {
	literal     []byte
	compression string
}

type fileResult struct {
	data []byte
	err  error
}

type caResult struct {
	certs []*x509.Certificate
	warns []string
	err   error
}

// largeKey identifies a large value by its backing array: a fleet passes
// the same *embed.Agent to every node.
type largeKey struct {
	p       *byte
	n       int
	dataURL bool
}

// NewShared returns a cache reading files with read, checking certificates
// at now.
func NewShared(read func(string) ([]byte, error), now time.Time) *Shared {
	return &Shared{read: read, now: now, files: map[string]fileResult{}, cas: map[string]caResult{},
		enc: map[largeKey][]byte{}, gunzips: map[largeKey]fileResult{}, urls: map[string]dataURL{}, digests: map[largeKey]digestResult{}, ignition: map[string][]byte{}, memos: map[string][]byte{}}
}

// Env is the environment of NewSpec that uses the cache.
func (s *Shared) Env() Env {
	return Env{ReadFile: s.ReadFile, Now: func() time.Time { return s.now }, Shared: s}
}

// ReadFile reads name once; later calls return the same bytes (or error).
func (s *Shared) ReadFile(name string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.files[name]
	if !ok {
		r.data, r.err = s.read(name)
		s.files[name] = r
	}
	return r.data, r.err
}

func (s *Shared) parseCAs(paths []string) ([]*x509.Certificate, []string, error) {
	key := strings.Join(paths, "\x00")
	s.mu.Lock()
	r, ok := s.cas[key]
	s.mu.Unlock()
	if !ok {
		r.certs, r.warns, r.err = inputs.CAs(paths, s.ReadFile, s.now)
		s.mu.Lock()
		s.cas[key] = r
		s.mu.Unlock()
	}
	return r.certs, r.warns, r.err
}

// cas reads and checks the --ca files, through the cache when there is one.
func (e Env) cas(paths []string) ([]*x509.Certificate, []string, error) {
	if e.Shared != nil {
		return e.Shared.parseCAs(paths)
	}
	return inputs.CAs(paths, e.ReadFile, e.Now())
}

func keyOf(data []byte, dataURL bool) (largeKey, bool) {
	if len(data) == 0 {
		return largeKey{}, false
	}
	return largeKey{p: &data[0], n: len(data), dataURL: dataURL}, true
}

// encoded is v as spliced into a document, encoded once per value.
func (s *Shared) encoded(v largeValue) []byte {
	k, ok := keyOf(v.data, v.dataURL)
	if s == nil || v.literal != nil || !ok {
		return v.encode()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	enc, ok := s.enc[k]
	if !ok {
		enc = v.encode()
		s.enc[k] = enc
	}
	return enc
}

// uncompressed is gunzipVerified, once per compressed file.
func (s *Shared) uncompressed(f File) ([]byte, error) {
	k, ok := keyOf(f.Gzip, false)
	if s == nil || !ok {
		return gunzipVerified(f)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.gunzips[k]
	if !ok {
		r.data, r.err = gunzipVerified(f)
		s.gunzips[k] = r
	}
	return r.data, r.err
}

// dataURL is contents as the data URL Butane makes of inline contents, as
// it stands in the Ignition JSON, and the compression that goes with it.
func (s *Shared) dataURL(contents []byte) ([]byte, string, error) {
	if s != nil {
		s.mu.Lock()
		u, ok := s.urls[string(contents)]
		s.mu.Unlock()
		if ok {
			return u.literal, u.compression, nil
		}
	}
	// Butane gzips only when that makes the URL shorter; it cannot for
	// contents of up to 24 bytes (gzip's 18 bytes of framing, in base64,
	// already exceed their plain base64), so the compressor is not even
	// started for them: same URL, no 1 MB of compressor state per hostname.
	uri, compression, err := butaneutil.MakeDataURL(contents, nil, len(contents) > maxNeverGzipped)
	if err != nil {
		return nil, "", err
	}
	quoted, err := json.Marshal(uri)
	if err != nil {
		return nil, "", err
	}
	u := dataURL{literal: quoted[1 : len(quoted)-1]}
	if compression != nil {
		u.compression = *compression
	}
	if s != nil {
		s.mu.Lock()
		if len(s.urls) < maxShapes*16 {
			s.urls[string(contents)] = u
		}
		s.mu.Unlock()
	}
	return u.literal, u.compression, nil
}

// translated returns the Ignition config of a Butane document translated
// before.
func (s *Shared) translated(butane []byte) ([]byte, bool) {
	if s == nil {
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ign, ok := s.ignition[string(butane)]
	return ign, ok
}

func (s *Shared) storeTranslated(butane, ign []byte) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.ignition) < maxShapes {
		s.ignition[string(butane)] = ign
	}
}

// digest is a file's SHA-256 and size for the plan and its configHash; a
// compressed file's (the agent's) is computed once.
func (s *Shared) digest(f File) (string, int64, error) {
	k, ok := keyOf(f.Gzip, false)
	if !ok {
		return digestBy(s.uncompressed)(f)
	}
	s.mu.Lock()
	r, ok := s.digests[k]
	s.mu.Unlock()
	if !ok {
		r.sum, r.size, r.err = digestBy(s.uncompressed)(f)
		s.mu.Lock()
		s.digests[k] = r
		s.mu.Unlock()
	}
	return r.sum, r.size, r.err
}

// memo returns make's document for key (a serialization of everything the
// document is made of), made once per fleet; without a cache, make's.
func (s *Shared) memo(kind string, key []byte, make func() ([]byte, error)) ([]byte, error) {
	if s == nil {
		return make()
	}
	k := kind + "\x00" + string(key)
	s.mu.Lock()
	doc, ok := s.memos[k]
	s.mu.Unlock()
	if ok {
		return doc, nil
	}
	doc, err := make()
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if len(s.memos) < maxShapes*16 {
		s.memos[k] = doc
	}
	s.mu.Unlock()
	return doc, nil
}
