// Package status is how a node says how its join went, to whoever looks
// without logging in:
//
//   - /run/kubebake/status.json: the phase (waiting-for-token, discovering,
//     verified, kubelet-started, joined, failed), the last failure's class
//     and one-line reason, the endpoint, attempts and times. Rewritten
//     atomically on every change; mode 0644, because it names nothing
//     secret: never the token (a reason that looks like one is redacted),
//     only endpoints, CA pins and what went wrong.
//   - Cluster API's sentinel, /run/cluster-api/bootstrap-success.complete,
//     holding "success", written once the kubelet has its own credentials
//     (its kubeconfig exists), not when the agent merely verified the
//     cluster. Beside it, kubebake's failure marker,
//     /run/cluster-api/bootstrap-failure.kubebake: written when the join
//     failed for good (the agent will not be restarted: exit 3 or 78), one
//     line "<class>: <reason>"; removed on success. Cluster API has no
//     failure sentinel of its own (its issues #2554, #6476).
//   - One line on the console (the cloud's serial output) when the join
//     finishes, and when the class of failure changes: never a line per
//     retry, never the token.
//
// The package has no flags and no exits; kubebake-join drives it.
package status

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/kubebake/kubebake/internal/atomicfile"
)

// Paths, relative to the node's root.
const (
	File           = "/run/kubebake/status.json"
	SuccessFile    = "/run/cluster-api/bootstrap-success.complete"
	FailureFile    = "/run/cluster-api/bootstrap-failure.kubebake"
	SuccessContent = "success"
	// Console is where the summary lines go; Kmsg is tried when the
	// console cannot be opened.
	Console = "/dev/console"
	Kmsg    = "/dev/kmsg"
)

// Phase is where the join is.
type Phase string

const (
	WaitingForToken Phase = "waiting-for-token"
	Discovering     Phase = "discovering"
	Verified        Phase = "verified"
	KubeletStarted  Phase = "kubelet-started"
	Joined          Phase = "joined"
	Failed          Phase = "failed"
)

// Class names a failure, as kubebake-join's exit statuses do.
type Class string

const (
	Transient Class = "transient" // unreachable, not ready: retried
	Unproven  Class = "unproven"  // answered, proved nothing: retried
	Refused   Class = "refused"   // a cluster signing with the token, CA unpinned: final
	BadConfig Class = "bad-config"
)

// Status is status.json.
type Status struct {
	Phase Phase `json:"phase"`
	// Class and Reason are the last failure's (kept after a later success
	// of another phase, so one can see what it took).
	Class  Class  `json:"class,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Final says the agent gave up for good (it is not restarted).
	Final bool `json:"final,omitempty"`
	// Endpoint is the endpoint last tried, or the one verified.
	Endpoint string `json:"endpoint,omitempty"`
	// Attempts counts the discovery attempts, over every run of this boot.
	Attempts int       `json:"attempts"`
	Started  time.Time `json:"started"`
	Updated  time.Time `json:"updated"`
	// VerifiedAt, KubeletStartedAt and JoinedAt are when each phase was
	// first reached.
	VerifiedAt       *time.Time `json:"verifiedAt,omitempty"`
	KubeletStartedAt *time.Time `json:"kubeletStartedAt,omitempty"`
	JoinedAt         *time.Time `json:"joinedAt,omitempty"`
}

// Reporter keeps the status of one boot. It is not safe for concurrent use.
type Reporter struct {
	root string
	now  func() time.Time
	// console opens the console for one line; nil means the real one.
	console func() (io.WriteCloser, error)
	st      Status
	// consoleClass is the class the console last heard of.
	consoleClass Class
}

// Options tune a Reporter; the zero value is the node's.
type Options struct {
	Now     func() time.Time
	Console func() (io.WriteCloser, error)
}

// Open reads the status an earlier run of this boot left (the agent is
// restarted on failure: attempts add up, and the console hears a class
// once), or starts a new one.
func Open(root string, o Options) *Reporter {
	r := &Reporter{root: root, now: o.Now, console: o.Console}
	if r.now == nil {
		r.now = time.Now
	}
	if r.console == nil {
		r.console = func() (io.WriteCloser, error) { return openConsole(root) }
	}
	if data, err := os.ReadFile(r.at(File)); err == nil && json.Unmarshal(data, &r.st) == nil {
		r.consoleClass = r.st.Class
		if r.st.Phase == Failed && r.st.Final {
			r.consoleClass = "" // a new run after a final failure: say it again
		}
	}
	if r.st.Started.IsZero() {
		r.st.Started = r.now().UTC()
	}
	return r
}

func (r *Reporter) at(p string) string { return filepath.Join(r.root, filepath.FromSlash(p)) }

// Status returns the current status.
func (r *Reporter) Status() Status { return r.st }

// tokenLike is a bootstrap token; a reason never carries one.
var tokenLike = regexp.MustCompile(`\b[a-z0-9]{6}\.[a-z0-9]{16}\b`)

// oneLine makes a reason one line, without anything that looks like a token.
func oneLine(s string) string {
	s = tokenLike.ReplaceAllString(s, "<token>")
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 400 {
		s = s[:400] + "..."
	}
	return s
}

// write saves status.json atomically.
func (r *Reporter) write() error {
	r.st.Updated = r.now().UTC()
	data, err := json.MarshalIndent(r.st, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.MkdirWrite(r.at(File), append(data, '\n'), 0o644)
}

func (r *Reporter) stamp(p **time.Time) {
	if *p == nil {
		t := r.now().UTC()
		*p = &t
	}
}

// Phase records a phase without a failure: waiting for the token,
// discovering (endpoint empty: all of them), verified (the endpoint that
// passed), kubelet started.
func (r *Reporter) Phase(p Phase, endpoint string) error {
	r.st.Phase, r.st.Final = p, false
	if endpoint != "" {
		r.st.Endpoint = endpoint
	}
	switch p {
	case Verified:
		r.stamp(&r.st.VerifiedAt)
	case KubeletStarted:
		r.stamp(&r.st.KubeletStartedAt)
	}
	return r.write()
}

// Attempt records one failed discovery attempt at endpoint. The console
// hears of it only when its class differs from the last one it heard.
func (r *Reporter) Attempt(endpoint string, class Class, reason string) error {
	r.st.Attempts++
	r.st.Endpoint, r.st.Class, r.st.Reason = endpoint, class, oneLine(reason)
	if r.st.Phase != Discovering {
		r.st.Phase = Discovering
	}
	err := r.write()
	if class != r.consoleClass {
		r.consoleClass = class
		r.say(fmt.Sprintf("not joined yet (%s, attempt %d, retrying): %s", class, r.st.Attempts, r.st.Reason))
	}
	return err
}

// Fail records that a run of the agent ended in failure; final says it
// will not be retried, which also writes the failure marker.
func (r *Reporter) Fail(class Class, reason string, final bool) error {
	r.st.Phase, r.st.Class, r.st.Reason, r.st.Final = Failed, class, oneLine(reason), final
	err := r.write()
	if final {
		if ferr := atomicfile.MkdirWrite(r.at(FailureFile), []byte(string(class)+": "+r.st.Reason+"\n"), 0o644); err == nil {
			err = ferr
		}
		r.say(fmt.Sprintf("join failed for good (%s, after %d attempts): %s", class, r.st.Attempts, r.st.Reason))
		r.consoleClass = class
	} else if class != r.consoleClass {
		r.consoleClass = class
		r.say(fmt.Sprintf("not joined yet (%s, after %d attempts, will be retried): %s", class, r.st.Attempts, r.st.Reason))
	}
	return err
}

// Joined records that the kubelet has its own credentials: the phase, the
// Cluster API sentinel, the failure marker gone, and the console line. A
// second call (the cleanup runs at every boot of a joined node) changes
// nothing and says nothing.
func (r *Reporter) Joined() error {
	if r.st.Phase == Joined {
		if _, err := os.Stat(r.at(SuccessFile)); err == nil {
			return nil
		}
	}
	r.st.Phase, r.st.Final = Joined, false
	r.stamp(&r.st.JoinedAt)
	err := r.write()
	if rerr := os.Remove(r.at(FailureFile)); rerr != nil && !errors.Is(rerr, os.ErrNotExist) && err == nil {
		err = rerr
	}
	if serr := atomicfile.MkdirWrite(r.at(SuccessFile), []byte(SuccessContent), 0o644); err == nil {
		err = serr
	}
	line := "joined: the kubelet has its own credentials"
	if r.st.Endpoint != "" {
		line += " (cluster verified at " + r.st.Endpoint
		if r.st.Attempts > 0 {
			line += fmt.Sprintf(" after %d failed attempts", r.st.Attempts)
		}
		line += ")"
	}
	if r.st.VerifiedAt != nil && r.st.JoinedAt.Sub(r.st.Started) >= 0 {
		line += fmt.Sprintf(", %s after the first start", r.st.JoinedAt.Sub(r.st.Started).Round(time.Second))
	}
	r.say(line)
	return err
}

// say writes one line to the console. A console that cannot be written is
// no failure of the join.
func (r *Reporter) say(line string) {
	w, err := r.console()
	if err != nil {
		return
	}
	defer w.Close()
	io.WriteString(w, "kubebake-join: "+line+"\n")
}

// openConsole opens the console for writing, or else the kernel log (which
// the kernel prints on the console at warning level).
func openConsole(root string) (io.WriteCloser, error) {
	if f, err := os.OpenFile(filepath.Join(root, Console), os.O_WRONLY|os.O_APPEND|syscall.O_NOCTTY, 0); err == nil {
		return f, nil
	}
	f, err := os.OpenFile(filepath.Join(root, Kmsg), os.O_WRONLY, 0)
	if err != nil {
		return nil, err
	}
	return kmsg{f}, nil
}

// kmsg prefixes the line with the warning level, <4>.
type kmsg struct{ f *os.File }

func (k kmsg) Write(p []byte) (int, error) {
	if _, err := k.f.Write(append([]byte("<4>"), p...)); err != nil {
		return 0, err
	}
	return len(p), nil
}
func (k kmsg) Close() error { return k.f.Close() }
