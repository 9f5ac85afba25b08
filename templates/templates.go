// Package templates holds the systemd unit files kubebake renders, and the
// one shell script (cloud-init's install boothook), as text/template
// sources. Nothing else is a template: everything structured (YAML, JSON,
// TOML, kubeconfigs) is built as typed values and marshalled.
//
// What goes into a template is validated before it gets here (render checks
// every path and argument against a strict character set), and Execute
// refuses values that could break out of a unit file line anyway.
package templates

import (
	"bytes"
	"embed"
	"fmt"
	"reflect"
	"strings"
	"text/template"
)

//go:embed units/*
var units embed.FS

var all = template.Must(template.New("").Option("missingkey=error").Funcs(template.FuncMap{
	"join": strings.Join,
}).ParseFS(units, "units/*"))

// Execute renders the named template (a file name under units/) with data.
// Every string reachable from data must be free of control characters, so
// that no value can start a new line, section or directive.
func Execute(name string, data any) (string, error) {
	if err := checkStrings(reflect.ValueOf(data)); err != nil {
		return "", fmt.Errorf("template %s: %w", name, err)
	}
	var b bytes.Buffer
	if err := all.ExecuteTemplate(&b, name, data); err != nil {
		return "", err
	}
	return b.String(), nil
}

// Names lists the templates.
func Names() []string {
	var names []string
	for _, t := range all.Templates() {
		if t.Name() != "" {
			names = append(names, t.Name())
		}
	}
	return names
}

func checkStrings(v reflect.Value) error {
	switch v.Kind() {
	case reflect.String:
		if i := strings.IndexFunc(v.String(), func(r rune) bool { return r < ' ' || r == 0x7f }); i >= 0 {
			return fmt.Errorf("value %q holds a control character", v.String())
		}
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			return checkStrings(v.Elem())
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if err := checkStrings(v.Field(i)); err != nil {
				return err
			}
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			if err := checkStrings(v.Index(i)); err != nil {
				return err
			}
		}
	case reflect.Map:
		it := v.MapRange()
		for it.Next() {
			if err := checkStrings(it.Key()); err != nil {
				return err
			}
			if err := checkStrings(it.Value()); err != nil {
				return err
			}
		}
	}
	return nil
}
