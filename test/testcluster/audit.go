package testcluster

import (
	"bufio"
	"encoding/json"
	"os"
	"testing"
)

// audit.k8s.io/v1 Policy, the part the harness uses.
type auditPolicy struct {
	APIVersion string      `json:"apiVersion"`
	Kind       string      `json:"kind"`
	OmitStages []string    `json:"omitStages,omitempty"`
	Rules      []auditRule `json:"rules"`
}

type auditRule struct {
	Level     string       `json:"level"`
	Resources []auditGroup `json:"resources,omitempty"`
}

type auditGroup struct {
	Group     string   `json:"group"`
	Resources []string `json:"resources,omitempty"`
}

// auditPolicyDoc logs every request with its body, except Secrets, whose
// bodies would put token secrets in the log: those at Metadata.
func auditPolicyDoc() auditPolicy {
	return auditPolicy{
		APIVersion: "audit.k8s.io/v1",
		Kind:       "Policy",
		OmitStages: []string{"RequestReceived"},
		Rules: []auditRule{
			{Level: "Metadata", Resources: []auditGroup{{Group: "", Resources: []string{"secrets"}}}},
			{Level: "Request"},
		},
	}
}

// AuditEvent is the part of an audit.k8s.io/v1 Event tests look at.
type AuditEvent struct {
	Stage      string `json:"stage"`
	Verb       string `json:"verb"`
	RequestURI string `json:"requestURI"`
	UserAgent  string `json:"userAgent"`
	User       struct {
		Username string   `json:"username"`
		Groups   []string `json:"groups"`
	} `json:"user"`
	SourceIPs      []string `json:"sourceIPs"`
	ResponseStatus struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
	RequestReceivedTimestamp string `json:"requestReceivedTimestamp"`
}

// AuditEvents reads the audit log written so far.
func (c *Cluster) AuditEvents(t testing.TB) []AuditEvent {
	t.Helper()
	f, err := os.Open(c.AuditLogFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var events []AuditEvent
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
	for sc.Scan() {
		var e AuditEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("audit log %s: %v", c.AuditLogFile, err)
		}
		events = append(events, e)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return events
}

// AuditEventsBy returns the audit events of requests made as username (for a
// bootstrap token: "system:bootstrap:<token-id>").
func (c *Cluster) AuditEventsBy(t testing.TB, username string) []AuditEvent {
	t.Helper()
	var out []AuditEvent
	for _, e := range c.AuditEvents(t) {
		if e.User.Username == username {
			out = append(out, e)
		}
	}
	return out
}
