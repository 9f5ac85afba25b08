// Command mkembed compresses a built kubebake-join for embedding: it writes
// NAME.gz (gzip -9, no name or mtime, so the output is reproducible) and
// NAME.gz.sha512 ("<hex sha512 of the uncompressed binary> <size> <hex
// sha256>"). The sha256 is what `kubebake version` prints; computed here,
// once, rather than by gunzipping and hashing 7 MB at every call.
//
//	go run ./tools/mkembed -in bin/kubebake-join-linux-amd64 -out embed/dist/kubebake-join-linux-amd64.gz
package main

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	in := flag.String("in", "", "the built binary")
	out := flag.String("out", "", "the .gz file to write")
	flag.Parse()
	if *in == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "usage: mkembed -in BINARY -out FILE.gz")
		os.Exit(2)
	}
	bin, err := os.ReadFile(*in)
	if err != nil {
		fatal(err)
	}
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		fatal(err)
	}
	if _, err := zw.Write(bin); err != nil {
		fatal(err)
	}
	if err := zw.Close(); err != nil {
		fatal(err)
	}
	sum := sha512.Sum512(bin)
	sum256 := sha256.Sum256(bin)
	meta := fmt.Sprintf("%s %d %s\n", hex.EncodeToString(sum[:]), len(bin), hex.EncodeToString(sum256[:]))
	if err := writeAtomic(*out, buf.Bytes()); err != nil {
		fatal(err)
	}
	if err := writeAtomic(*out+".sha512", []byte(meta)); err != nil {
		fatal(err)
	}
	fmt.Printf("%s: %d bytes, %d gzipped\n", *out, len(bin), buf.Len())
}

func writeAtomic(name string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(name), ".mkembed-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), name)
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "mkembed:", err)
	os.Exit(1)
}
