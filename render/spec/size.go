package spec

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/kubebake/kubebake/internal/inputs"
)

// UserDataLimits are the documented user-data limits of clouds, in bytes
// of the output as kubebake writes it (before any base64 encoding the
// cloud's API asks for).
var UserDataLimits = map[string]struct {
	Bytes int
	Note  string
}{
	"aws":       {16384, "EC2: 16 KB, in raw form, before base64"},
	"azure":     {65535, "customData: 64 KB"},
	"openstack": {49149, "Nova: 65535 bytes of base64, which is 49149 raw"},
	"gcp":       {262144, "a metadata value: 256 KB"},
}

// cloudNames are the clouds of UserDataLimits, sorted.
func cloudNames() []string {
	clouds := make([]string, 0, len(UserDataLimits))
	for c := range UserDataLimits {
		clouds = append(clouds, c)
	}
	sort.Strings(clouds)
	return clouds
}

func parseMaxSize(s string) (int, error) {
	if l, ok := UserDataLimits[strings.ToLower(s)]; ok {
		return l.Bytes, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%q: want a number of bytes, or aws, azure, openstack or gcp", s)
	}
	return n, nil
}

// CheckSize says whether output of n bytes fits --max-size; the error
// names the limit and what makes the output smaller.
func (s *Spec) CheckSize(n int) error {
	if s.MaxSize == 0 || n <= s.MaxSize {
		return nil
	}
	limit := strconv.Itoa(s.MaxSize) + " bytes"
	if l, ok := UserDataLimits[strings.ToLower(s.MaxSizeName)]; ok {
		limit = fmt.Sprintf("%s's limit of %d bytes (%s)", strings.ToLower(s.MaxSizeName), l.Bytes, l.Note)
	}
	return inputs.Errorf("--max-size", "the output is %d bytes, more than %s%s", n, limit, s.sizeHints())
}

// sizeHints says what makes the output smaller: "; try ...", or "".
func (s *Spec) sizeHints() string {
	var hints []string
	if s.JoinBinary == JoinEmbedded {
		hints = append(hints, "--join-binary baked (the agent in the image)")
	}
	if s.Info().Gzip && !s.Gzip {
		hints = append(hints, "--gzip")
	}
	if len(s.CAs) > 1 {
		hints = append(hints, "fewer --ca certificates (pin the next CA with --ca-cert-hash instead)")
	}
	if len(hints) == 0 {
		return ""
	}
	return "; try " + strings.Join(hints, ", ")
}

// SizeLine is the size of output meant for user-data, to print once it
// is written, so that a user sees how close it is to a cloud's limit:
// "name: N bytes", and its share of --max-size; "" when the format is not
// user-data.
func (s *Spec) SizeLine(name string, n int) string {
	if !s.Info().UserData {
		return ""
	}
	limit := ""
	if s.MaxSize > 0 {
		limit = fmt.Sprintf(" (%d%% of --max-size %s, %d bytes)", n*100/s.MaxSize, s.MaxSizeName, s.MaxSize)
	}
	return fmt.Sprintf("%s: %d bytes%s", name, n, limit)
}

// SizeWarning says, of user-data output of n bytes written to name, which
// clouds' user-data limits it is above, and what makes it smaller; "" when
// it fits them all, when the format is not user-data, or when --max-size
// names the limit that matters (CheckSize holds it).
func (s *Spec) SizeWarning(name string, n int) string {
	if !s.Info().UserData || s.MaxSize > 0 {
		return ""
	}
	var over []string
	for _, c := range cloudNames() {
		if l := UserDataLimits[c].Bytes; n > l {
			unit := ""
			if len(over) == 0 {
				unit = " bytes"
			}
			over = append(over, fmt.Sprintf("%s (%d%s)", c, l, unit))
		}
	}
	if len(over) == 0 {
		return ""
	}
	size := fmt.Sprintf("%d bytes", n)
	if n >= 1e6 {
		size = fmt.Sprintf("%.1f MB", float64(n)/1e6)
	}
	hint := s.sizeHints()
	if hint == "" {
		hint = "; serve it from a URL, or bake it into the image"
	}
	return fmt.Sprintf("%s is %s, more than the user-data limit of %s%s", name, size, AndList(over), hint)
}

// AndList is "a", "a and b", "a, b and c".
func AndList(s []string) string {
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}
