// Package write is the last stage of the pipeline: it writes emitted
// documents, one to any io.Writer (a file, stdout, a buffer), or a fleet's
// into a directory that appears whole or not at all.
package write

import (
	"bufio"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"

	"github.com/kubebake/kubebake/render/cache"
	"github.com/kubebake/kubebake/render/emit"
)

// Result is what was written: its size and hex SHA-256.
type Result struct {
	Size   int64
	SHA256 string
}

// Output streams doc to w, its large values spliced in (encoded once per
// cache c), gzipped whole with gz, and says what it wrote.
func Output(w io.Writer, doc emit.Doc, gz bool, c *cache.Cache) (Result, error) {
	h := sha256.New()
	n, err := Stream(io.MultiWriter(w, h), doc, gz, c)
	if err != nil {
		return Result{}, err
	}
	return Result{Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// Stream is Output without the digest: it returns the bytes written.
func Stream(w io.Writer, doc emit.Doc, gz bool, c *cache.Cache) (int64, error) {
	cw := &countWriter{w: w}
	var sink io.Writer = cw
	var zw *gzip.Writer
	if gz {
		var err error
		if zw, err = gzip.NewWriterLevel(cw, gzip.BestCompression); err != nil {
			return 0, err
		}
		sink = zw
	}
	bw := bufio.NewWriterSize(sink, 256<<10)
	if err := doc.WriteTo(bw, c); err != nil {
		return 0, err
	}
	if err := bw.Flush(); err != nil {
		return 0, err
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			return 0, err
		}
	}
	return cw.n, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
