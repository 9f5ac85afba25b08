package spec

import (
	"fmt"
	"strings"
)

// Format is an output format: the name of an emitter (render/emit).
type Format string

// FormatInfo is what the validated spec needs to know of a format: its name
// and the rules of the options that depend on it. Each emitter declares its
// own, and registering the emitter registers it here (RegisterFormat), so
// that a new format is one emitter file and one registration.
type FormatInfo struct {
	Name Format
	// Help, when set, says in --help what the format is.
	Help string
	// Ext is the file name extension of its output (a fleet's files).
	Ext string
	// Variant says --variant applies: the output is for Fedora CoreOS or
	// Flatcar (their paths: /opt/bin on Flatcar). Otherwise the distribution's
	// usual paths are used (/usr/bin, /usr/local/bin).
	Variant bool
	// Gzip says the consumer reads the whole output gzipped (--gzip).
	Gzip bool
	// Merge says the format merges a user's config (--merge).
	Merge bool
	// UserData says the output is meant as a cloud's user-data: its size is
	// worth telling (against the clouds' limits).
	UserData bool
	// NoSecret says the output never holds the token (a digest of it at
	// most): fine on a screen.
	NoSecret bool
	// RemoteFiles says the consumer fetches a remote file and verifies its
	// hash itself (Ignition's verification.hash). Otherwise kubebake-join
	// does, before the join (a stock image's kubelet: stock.go).
	RemoteFiles bool
}

var formats []FormatInfo

// Formats lists the registered formats in registration (--help) order.
func Formats() []FormatInfo { return formats }

// LookupFormat returns the registered format named f.
func LookupFormat(f Format) (FormatInfo, bool) {
	for _, i := range formats {
		if i.Name == f {
			return i, true
		}
	}
	return FormatInfo{}, false
}

// RegisterFormat adds a format: --format takes its name, --help lists it.
// The emitter registry calls it; call it from an init function.
func RegisterFormat(f FormatInfo) {
	if _, dup := LookupFormat(f.Name); dup {
		panic("spec: format " + string(f.Name) + " registered twice")
	}
	formats = append(formats, f)
	o, _ := Options.Lookup("format")
	o.Values = append(o.Values, string(f.Name))
	var names []string
	for _, f := range formats {
		n := string(f.Name)
		if f.Help != "" {
			n += " (" + f.Help + ")"
		}
		names = append(names, n)
	}
	o.Help = "output format: " + orList(names)
}

// orList is "a", "a or b", "a, b or c".
func orList(s []string) string {
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

// Info is the spec's format's description.
func (s *Spec) Info() FormatInfo {
	f, ok := LookupFormat(s.Format)
	if !ok {
		panic(fmt.Sprintf("spec: format %q not registered", s.Format))
	}
	return f
}
