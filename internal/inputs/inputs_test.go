package inputs

import (
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

func fileErr(string) ([]byte, error) {
	return nil, &os.PathError{Op: "open", Path: "f", Err: os.ErrNotExist}
}

func TestToken(t *testing.T) {
	read := func(name string) ([]byte, error) { return []byte("lofdk1.egbg0rjhecsbxrds\n"), nil }
	for _, c := range []struct {
		src   TokenSource
		field string // "" = ok
	}{
		{TokenSource{File: "t"}, ""},
		{TokenSource{Value: "lofdk1.egbg0rjhecsbxrds"}, ""},
		{TokenSource{Env: "lofdk1.egbg0rjhecsbxrds"}, ""},
		{TokenSource{}, "--token-file"},
		{TokenSource{File: "t", Env: "lofdk1.egbg0rjhecsbxrds"}, "--token-file"},
		{TokenSource{Value: "lofdk1.EGBG0RJHECSBXRDS"}, "--token"},
		{TokenSource{Env: "nope"}, EnvToken},
	} {
		tok, err := Token(c.src, read)
		var ie *Error
		switch {
		case c.field == "" && (err != nil || tok.ID() != "lofdk1"):
			t.Errorf("%+v: %v", c.src, err)
		case c.field != "" && (!errors.As(err, &ie) || ie.Field != c.field):
			t.Errorf("%+v: want an error on %s, got %v", c.src, c.field, err)
		case err != nil && strings.Contains(strings.ToLower(err.Error()), "egbg0rjhecsbxrds"):
			t.Errorf("%+v: the error quotes the secret: %v", c.src, err)
		}
	}
	if _, err := Token(TokenSource{File: "t"}, fileErr); err == nil || !strings.Contains(err.Error(), "f: file does not exist") {
		t.Errorf("a missing file: %v", err)
	}
}

func TestCAs(t *testing.T) {
	td := "../../testdata/"
	got, warns, err := CAs([]string{td + "ca.crt", td + "next-ca.crt", td + "ca.crt"}, os.ReadFile, now)
	if err != nil || len(got) != 2 || len(warns) != 0 {
		t.Fatalf("a rotation bundle, duplicates dropped: %d %v %v", len(got), warns, err)
	}
	// Within 30 days of expiry: a warning, not an error.
	if _, warns, err := CAs([]string{td + "ca.crt"}, os.ReadFile, got[0].NotAfter.Add(-24*time.Hour)); err != nil || len(warns) != 1 {
		t.Errorf("near expiry: %v %v", warns, err)
	}
	for file, want := range map[string]string{
		"bad/leaf.crt": "not a CA certificate", "bad/expired-ca.crt": "expired on 2021-01-01",
		"bad/private-key.pem": "private key", "bad/not-pem.crt": "no PEM certificate",
	} {
		_, _, err := CAs([]string{td + file}, os.ReadFile, now)
		var ie *Error
		if !errors.As(err, &ie) || ie.Field != "--ca" || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), file) {
			t.Errorf("%s: want --ca error with %q naming the file, got %v", file, want, err)
		}
	}
	if _, _, err := CAs(nil, os.ReadFile, now); err == nil {
		t.Error("no CA must be an error")
	}
	if _, _, err := CAs([]string{td + "ca.crt"}, os.ReadFile, got[0].NotBefore.Add(-time.Hour)); err == nil || !strings.Contains(err.Error(), "clock") {
		t.Errorf("not yet valid: %v", err)
	}
}

func TestEndpoints(t *testing.T) {
	got, err := Endpoints([]string{"10.0.0.10", "10.0.0.10:6443", "https://[fd00::1]"})
	if err != nil || strings.Join(got, " ") != "10.0.0.10:6443 [fd00::1]:6443" {
		t.Errorf("Endpoints = %v, %v", got, err)
	}
	var ie *Error
	if _, err := Endpoints([]string{"ok", ":1"}); !errors.As(err, &ie) || ie.Field != "--api-server" {
		t.Errorf("want an --api-server error, got %v", err)
	}
}

func TestFileOf(t *testing.T) {
	dir := t.TempDir()
	tok, ca := dir+"/token", dir+"/ca.crt"
	for _, f := range []string{tok, ca} {
		if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(tok, dir+"/link"); err != nil {
		t.Fatal(err)
	}
	files := []string{"merge", "", "ca", ca, "token-file", tok}
	for path, want := range map[string]string{tok: "token-file", dir + "/link": "token-file", ca: "ca", dir + "/new": "", "-": ""} {
		if got := FileOf(path, files...); got != want {
			t.Errorf("FileOf(%s) = %q, want %q", path, got, want)
		}
	}
}

func TestReadNamedStdinOnce(t *testing.T) {
	read := false
	data, err := ReadNamed("-", strings.NewReader("abc"), &read)
	if string(data) != "abc" || err != nil || !read {
		t.Fatalf("first -: %q, %v, read %v", data, err, read)
	}
	if _, err := ReadNamed("-", strings.NewReader("abc"), &read); err == nil || err.Error() != "-: stdin was read already; only one input may be -" {
		t.Errorf("second -: %v", err)
	}
	read = false
	if _, err := ReadNamed("-", io.LimitReader(zeros{}, MaxInput+1), &read); err == nil || !strings.HasPrefix(err.Error(), "-: stdin: larger than") {
		t.Errorf("a large stdin: %v", err)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }
