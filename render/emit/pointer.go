package emit

import (
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"

	ignition "github.com/coreos/ignition/v2/config"
	"github.com/kubebake/kubebake/render/spec"
)

// The few fields of an Ignition config a pointer uses, as Ignition's
// schema names them.
type (
	pointerConfig struct {
		Ignition pointerIgnition `json:"ignition"`
	}
	pointerIgnition struct {
		Version  string           `json:"version"`
		Config   pointerMerge     `json:"config"`
		Security *pointerSecurity `json:"security,omitempty"`
	}
	pointerMerge struct {
		Merge []pointerResource `json:"merge"`
	}
	pointerSecurity struct {
		TLS struct {
			CertificateAuthorities []pointerResource `json:"certificateAuthorities"`
		} `json:"tls"`
	}
	pointerResource struct {
		Source       string               `json:"source"`
		Verification *pointerVerification `json:"verification,omitempty"`
	}
	pointerVerification struct {
		Hash string `json:"hash"`
	}
)

// ignitionVersions are the config versions of the variants (as Butane
// translates them).
var ignitionVersions = map[spec.Variant]string{spec.VariantFCOS: "3.5.0", spec.VariantFlatcar: "3.4.0"}

// Pointer is the user-data of --pointer: an Ignition config whose
// ignition.config.merge fetches boot (the boot part, which holds the
// token) from s.Pointer and accepts it only if its sha512 matches, and
// which trusts s.PointerCA for that fetch. It holds no secret in any
// encoding: the URL, the hash of the boot part and a public CA. It is
// checked with Ignition's own parser.
func Pointer(boot []byte, s *spec.Spec) ([]byte, error) {
	version, ok := ignitionVersions[s.Variant]
	if !ok {
		return nil, fmt.Errorf("internal error: no Ignition version for variant %q", s.Variant)
	}
	sum := sha512.Sum512(boot)
	cfg := pointerConfig{Ignition: pointerIgnition{
		Version: version,
		Config: pointerMerge{Merge: []pointerResource{{
			Source:       s.Pointer,
			Verification: &pointerVerification{Hash: "sha512-" + hex.EncodeToString(sum[:])},
		}}},
	}}
	if len(s.PointerCA) > 0 {
		sec := &pointerSecurity{}
		sec.TLS.CertificateAuthorities = []pointerResource{{
			Source: "data:;base64," + base64.StdEncoding.EncodeToString(s.PointerCA),
		}}
		cfg.Ignition.Security = sec
	}
	out, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	if _, rpt, err := ignition.Parse(out); err != nil || rpt.IsFatal() {
		return nil, fmt.Errorf("internal error: Ignition refuses the pointer config: %v %s", err, rpt.String())
	}
	return append(out, '\n'), nil
}
