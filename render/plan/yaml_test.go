package plan

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

func checkJSONToYAML(t *testing.T, j []byte) {
	t.Helper()
	want, err1 := yaml.JSONToYAML(j)
	got, err2 := jsonToYAML(j)
	if (err1 == nil) != (err2 == nil) {
		t.Fatalf("%s: JSONToYAML error %v, ours %v", j, err1, err2)
	}
	if err1 == nil && string(got) != string(want) {
		t.Fatalf("%s:\nours\n%s\nJSONToYAML\n%s", j, got, want)
	}
}

// TestJSONToYAML: the kubelet configs kubebake writes, and JSON of every
// kind, as encoding/json writes it (kubeletConfigYAML's input: no
// surrogate-pair escapes, which JSONToYAML's YAML parser refuses), come out
// as sigs.k8s.io/yaml.JSONToYAML writes them.
func TestJSONToYAML(t *testing.T) {
	for _, s := range jsonToYAMLSeeds {
		j, ok := canonicalJSON([]byte(s))
		if !ok {
			t.Fatalf("%s is not JSON", s)
		}
		checkJSONToYAML(t, j)
	}
}

var jsonToYAMLSeeds = []string{
	`{"apiVersion":"kubelet.config.k8s.io/v1beta1","kind":"KubeletConfiguration","authentication":{"anonymous":{"enabled":false},"webhook":{"enabled":true,"cacheTTL":"0s"},"x509":{"clientCAFile":"/etc/kubernetes/pki/ca.crt"}},"maxPods":110,"registerWithTaints":[{"key":"example.com/gpu","value":"g5","effect":"NoSchedule"}],"clusterDNS":["10.96.0.10"],"evictionHard":{"memory.available":"100Mi"},"imageGCHighThresholdPercent":70,"cpuCFSQuotaPeriod":"100ms","podPidsLimit":-1,"featureGates":{"A":true},"enforceNodeAllocatable":["pods"],"containerLogMaxSize":"10Mi","kubeAPIQPS":5.5,"reservedMemory":[{"numaNode":0,"limits":{"memory":"1Gi"}}],"staticPodURLHeader":{"a":["b"]},"empty":{},"none":null,"list":[]}`,
	`{"n":[0,-0,1,-1,1.0,1.5,-2.25,1e3,1E3,1e+21,1e-7,9223372036854775807,9223372036854775808,18446744073709551615,18446744073709551616,-9223372036854775808,-9223372036854775809,1e400,0.1,123456789012345678901234567890]}`,
	`{"s":["","1","true","null","~","yes","no","on","off","0x10","0o7","1_000",".inf","-.nan","2001-12-14","a: b","- a","#c","'q'","\"dq\"","\u00e9","\ud83d\ude00","\t","a\nb","  lead","trail  ","=","<<","*a","&a","!t","%p","@a","` + "`" + `b"]}`,
	`{"2":"two","10":"ten","1":"one","b":{"z":1,"a":2},"B":3,"a1":4,"a10":5,"a2":6}`, // digits, but no cycle
	`[1,"a",null,true,false,{"k":[]}]`, `"x"`, `1`, `null`, `{}`, `[]`,
}

// FuzzJSONToYAML: whatever JSON encoding/json writes, the same YAML as
// JSONToYAML (the seeds are TestJSONToYAML's).
func FuzzJSONToYAML(f *testing.F) {
	for _, s := range jsonToYAMLSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if j, ok := canonicalJSON(data); ok && !digitKeys(j) {
			checkJSONToYAML(t, j)
		}
	})
}

// digitKeys reports whether an object in j has two keys with digits.
// go.yaml.in/yaml/v2 sorts keys with an order that is not one for such
// keys ({"10","1BX0","8"} is a cycle: "10" < "1BX0" < "8" < "10"), so it
// writes them in an order that depends on Go's map order: JSONToYAML
// itself gives no one answer to compare with. Kubelet config keys (field
// names, feature gates, eviction signals) are not such.
func digitKeys(j []byte) bool {
	var walk func(v any) bool
	walk = func(v any) bool {
		switch v := v.(type) {
		case map[string]any:
			n := 0
			for k, e := range v {
				if strings.ContainsAny(k, "0123456789") {
					n++
				}
				if n > 1 || walk(e) {
					return true
				}
			}
		case []any:
			for _, e := range v {
				if walk(e) {
					return true
				}
			}
		}
		return false
	}
	var v any
	return json.Unmarshal(j, &v) == nil && walk(v)
}

// canonicalJSON is data as encoding/json writes it, numbers as written.
func canonicalJSON(data []byte) ([]byte, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil || dec.More() {
		return nil, false
	}
	j, err := json.Marshal(v)
	return j, err == nil
}
