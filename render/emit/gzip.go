package emit

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"errors"
	"io"
	"strings"

	butaneutil "github.com/coreos/butane/base/util"
)

// gzipWriters are gzip writers at BestCompression, the level Butane's
// MakeDataURL and the cloud-init emitter use. A new writer allocates about
// 850 kB of compressor state; in a fleet whose nodes each have their own
// files (labels, taints, max-pods), making one per file was most of a
// node's render time. A writer Reset to a new destination writes the bytes
// a new one writes (same level, same zero header: no name, no mtime, OS
// unknown). A free list rather than a sync.Pool: a fleet allocates enough
// for the garbage collector to run every few nodes, and each run empties a
// sync.Pool.
var gzipWriters = make(chan *gzip.Writer, 8)

func getGzipWriter(w io.Writer) *gzip.Writer {
	select {
	case zw := <-gzipWriters:
		zw.Reset(w)
		return zw
	default:
		zw, err := gzip.NewWriterLevel(w, gzip.BestCompression)
		if err != nil {
			panic(err) // a constant, valid level
		}
		return zw
	}
}

func putGzipWriter(zw *gzip.Writer) {
	zw.Reset(io.Discard) // hold no reference to the last destination
	select {
	case gzipWriters <- zw:
	default:
	}
}

// gzipBytes is b gzipped at BestCompression, with a reused writer.
func gzipBytes(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw := getGzipWriter(&buf)
	_, err := zw.Write(b)
	if err == nil {
		err = zw.Close()
	}
	putGzipWriter(zw)
	if err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// makeDataURL is butaneutil.MakeDataURL(contents, nil, allowCompression)
// (the data URL Butane makes of inline contents, and its compression)
// with the gzip made by a reused writer: Butane's own function makes the
// two uncompressed candidates, and the gzip one is chosen exactly as it
// chooses it (only if, with the 4 bytes of "gzip", it is shorter).
// TestMakeDataURL and FuzzMakeDataURL hold it to Butane's.
func makeDataURL(contents []byte, allowCompression bool) (uri, compression string, err error) {
	plain, _, err := butaneutil.MakeDataURL(contents, nil, false)
	if err != nil || !allowCompression {
		return plain, "", err
	}
	gz, err := gzipBytes(contents)
	if err != nil {
		return "", "", err
	}
	// plain is "data:" and its opaque part, as url.URL writes an opaque URL.
	const scheme = "data:"
	if !strings.HasPrefix(plain, scheme) {
		return "", "", errInternalDataURL
	}
	opaque := ";base64," + base64.StdEncoding.EncodeToString(gz)
	if len(opaque)+len("gzip") < len(plain)-len(scheme) {
		return scheme + opaque, "gzip", nil
	}
	return plain, "", nil
}

var errInternalDataURL = errors.New("internal error: Butane's data URL does not start with data:")
