// Package userdata reads and writes cloud-init MIME multipart user-data,
// for kubebake render --merge (which writes it) and kubebake inspect (which
// reads it).
package userdata

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"net/textproto"
	"strings"
	"unicode/utf8"
)

// Part is one part of a MIME multipart user-data.
type Part struct {
	ContentType string // "text/cloud-config", "text/x-shellscript", ...
	Filename    string
	MergeType   string // cloud-init's Merge-Type header
	Body        []byte // decoded
}

// Write writes parts as a MIME multipart user-data. The boundary is
// derived from the parts, so the same parts give the same bytes, and is
// checked not to occur in any of them.
func Write(parts []Part) ([]byte, error) {
	h := sha256.New()
	for _, p := range parts {
		h.Write(p.Body)
	}
	boundary := "kubebake-" + hex.EncodeToString(h.Sum(nil))[:24]
	for _, p := range parts {
		if bytes.Contains(p.Body, []byte(boundary)) {
			return nil, fmt.Errorf("internal error: MIME boundary %s occurs in part %s", boundary, p.Filename)
		}
	}
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "Content-Type: multipart/mixed; boundary=%q\r\nMIME-Version: 1.0\r\n\r\n", boundary)
	mw := multipart.NewWriter(&buf)
	if err := mw.SetBoundary(boundary); err != nil {
		return nil, err
	}
	for _, p := range parts {
		hdr := textproto.MIMEHeader{}
		hdr.Set("Content-Type", mime.FormatMediaType(p.ContentType, map[string]string{"charset": "utf-8"}))
		hdr.Set("MIME-Version", "1.0")
		if p.Filename != "" {
			hdr.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": p.Filename}))
		}
		if p.MergeType != "" {
			hdr.Set("Merge-Type", p.MergeType)
		}
		body := p.Body
		if !utf8.Valid(body) || bytes.ContainsRune(body, 0) {
			hdr.Set("Content-Type", p.ContentType)
			hdr.Set("Content-Transfer-Encoding", "base64")
			body = []byte(base64.StdEncoding.EncodeToString(body))
		}
		w, err := mw.CreatePart(hdr)
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(body); err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// IsMIME reports whether data starts like a MIME message.
func IsMIME(data []byte) bool {
	head := strings.ToLower(string(data[:min(len(data), 200)]))
	return strings.HasPrefix(head, "content-type:") || strings.HasPrefix(head, "mime-version:")
}

// Parse reads the parts of a MIME multipart user-data, undoing base64
// transfer encoding.
func Parse(data []byte) ([]Part, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("MIME: %v", err)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || !strings.HasPrefix(mt, "multipart/") {
		return nil, fmt.Errorf("MIME: Content-Type %q is not multipart", msg.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	var parts []Part
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return parts, nil
		}
		if err != nil {
			return nil, fmt.Errorf("MIME part %d: %v", len(parts)+1, err)
		}
		body, err := io.ReadAll(io.LimitReader(p, 64<<20))
		if err != nil {
			return nil, fmt.Errorf("MIME part %d: %v", len(parts)+1, err)
		}
		if strings.EqualFold(p.Header.Get("Content-Transfer-Encoding"), "base64") {
			if body, err = base64.StdEncoding.DecodeString(strings.Join(strings.Fields(string(body)), "")); err != nil {
				return nil, fmt.Errorf("MIME part %d: base64: %v", len(parts)+1, err)
			}
		}
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		name := p.FileName()
		if name == "" {
			name = fmt.Sprintf("part-%03d", len(parts)+1)
		}
		parts = append(parts, Part{ContentType: ct, Filename: name, MergeType: p.Header.Get("Merge-Type"), Body: body})
	}
}
