package plan

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"

	yamlv2 "go.yaml.in/yaml/v2"
)

// jsonToYAML is sigs.k8s.io/yaml's JSONToYAML, byte for byte, without its
// slowest half: JSONToYAML reads the JSON with the YAML parser (to tell
// integers from floats), which took most of a node's own work in a fleet
// whose nodes each have their own taints and max-pods (one kubelet config
// each). Here encoding/json reads it, and each number becomes the value the
// YAML parser makes of that literal (yamlNumber); the same YAML library
// then writes it. TestJSONToYAML and FuzzJSONToYAML hold it to JSONToYAML.
func jsonToYAML(j []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("jsonToYAML: data after the JSON value")
	}
	return yamlv2.Marshal(yamlValues(v))
}

// yamlValues replaces each json.Number in v with yamlNumber's value.
func yamlValues(v any) any {
	switch v := v.(type) {
	case json.Number:
		return yamlNumber(string(v))
	case map[string]any:
		for k, e := range v {
			v[k] = yamlValues(e)
		}
	case []any:
		for i, e := range v {
			v[i] = yamlValues(e)
		}
	}
	return v
}

// yamlNumber is what go.yaml.in/yaml/v2 resolves a JSON number literal to
// (resolve.go: an int, else a uint64, else a float64, else the string).
func yamlNumber(s string) any {
	if i, err := strconv.ParseInt(s, 0, 64); err == nil {
		if i == int64(int(i)) {
			return int(i)
		}
		return i
	}
	if u, err := strconv.ParseUint(s, 0, 64); err == nil {
		return u
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return f
	}
	return s
}
