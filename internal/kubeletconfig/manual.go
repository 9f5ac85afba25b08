package kubeletconfig

import (
	"encoding/json"
	"fmt"
)

// Copied from k8s.io/component-base/logs/api/v1 (types.go): the JSON
// methods of TimeOrMetaDuration, which the generator does not copy.

func (t TimeOrMetaDuration) MarshalJSON() ([]byte, error) {
	if t.SerializeAsString {
		return t.Duration.MarshalJSON()
	}
	// Marshal as integer for backwards compatibility
	return json.Marshal(t.Duration.Duration)
}

func (t *TimeOrMetaDuration) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		// string values unmarshal as metav1.Duration
		t.SerializeAsString = true
		return json.Unmarshal(b, &t.Duration)
	}
	t.SerializeAsString = false
	if err := json.Unmarshal(b, &t.Duration.Duration); err != nil {
		return fmt.Errorf("invalid duration %q: %w", string(b), err)
	}
	return nil
}

// The constants kubebake uses.
const (
	KubeletAuthorizationModeWebhook KubeletAuthorizationMode = "Webhook"
)
