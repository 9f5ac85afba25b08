package render

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"sigs.k8s.io/yaml"
)

// NodesFile is a --nodes file: the options every node shares (defaults),
// and the nodes, each with a name and its own options, keyed as in
// --config. A node's own keys win over the defaults.
//
//	defaults:
//	  token-file: pool-a.token
//	  node-labels: [example.com/pool=a]
//	nodes:
//	- name: worker-1
//	  hostname: worker-1
//	- name: worker-2
//	  hostname: worker-2
//	  token-file: pool-b.token
type NodesFile struct {
	Defaults Inputs
	Nodes    []NodeSpec
}

// NodeSpec is one node as the file gives it.
type NodeSpec struct {
	Name string
	// Inputs are the node's own keys only.
	Inputs Inputs
}

type nodesDoc struct {
	Defaults json.RawMessage   `json:"defaults"`
	Nodes    []json.RawMessage `json:"nodes"`
}

type nodeDoc struct {
	Name string `json:"name"`
	Inputs
}

// ParseNodesFile decodes a --nodes file. Unknown keys are errors naming the
// node; so is a token (token-file is fine), as in --config.
func ParseNodesFile(data []byte) (*NodesFile, error) {
	j, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return nil, err
	}
	var doc nodesDoc
	if err := strictJSON(j, &doc); err != nil {
		return nil, fmt.Errorf("%v (the file has defaults: and nodes:)", err)
	}
	nf := &NodesFile{}
	if len(doc.Defaults) > 0 && string(doc.Defaults) != "null" {
		if err := strictJSON(doc.Defaults, &nf.Defaults); err != nil {
			return nil, fmt.Errorf("defaults: %v", err)
		}
		if nf.Defaults.Token != "" {
			return nil, errors.New("defaults: holds a token: name a token-file instead, so the token stays out of files that get copied around")
		}
	}
	if len(doc.Nodes) == 0 {
		return nil, errors.New("nodes: lists no node")
	}
	for i, raw := range doc.Nodes {
		var loose struct {
			Name any `json:"name"`
		}
		_ = json.Unmarshal(raw, &loose)
		name, _ := loose.Name.(string)
		where := fmt.Sprintf("nodes[%d]", i)
		if name != "" {
			where = fmt.Sprintf("node %q", name)
		}
		var nd nodeDoc
		if err := strictJSON(raw, &nd); err != nil {
			return nil, fmt.Errorf("%s: %v", where, err)
		}
		if nd.Name == "" {
			return nil, fmt.Errorf("%s: no name", where)
		}
		if nd.Token != "" {
			return nil, fmt.Errorf("%s: holds a token: name a token-file instead", where)
		}
		nf.Nodes = append(nf.Nodes, NodeSpec{Name: nd.Name, Inputs: nd.Inputs})
	}
	return nf, nil
}

// strictJSON decodes data into v, refusing unknown keys, with errors that
// name the key rather than Go types.
func strictJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	var te *json.UnmarshalTypeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &te):
		field := te.Field
		if i := strings.LastIndex(field, "."); i >= 0 {
			field = field[i+1:]
		}
		return fmt.Errorf("%s: a %s where %s is wanted", field, te.Value, kindName(te.Type))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return fmt.Errorf("unknown key %s (keys are the render flags' names, such as max-pods)", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return err
}

func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Slice:
		return "a list"
	case reflect.String:
		return "a string"
	case reflect.Int32, reflect.Int, reflect.Int64:
		return "a number"
	case reflect.Struct, reflect.Map:
		return "a mapping"
	}
	return t.String()
}

// Overlay returns base with every option over sets (a non-empty value)
// replacing base's: lists are replaced, not appended to. A token-file in
// over replaces base's token, whatever its source.
func Overlay(base, over Inputs) Inputs {
	out := base
	bv, ov := reflect.ValueOf(&out).Elem(), reflect.ValueOf(over)
	for i := 0; i < ov.NumField(); i++ {
		if f := ov.Field(i); !f.IsZero() {
			bv.Field(i).Set(f)
		}
	}
	if over.TokenFile != "" || over.Token != "" {
		out.Token, out.TokenFile, out.TokenEnv = over.Token, over.TokenFile, over.TokenEnv
	}
	return out
}
