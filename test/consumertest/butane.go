package consumertest

import (
	"testing"

	butane "github.com/coreos/butane/config"
	"github.com/coreos/butane/config/common"
)

// TranslateButane translates a Butane config to Ignition with the Butane
// library (the code of the `butane` command), as a user of --format butane
// would, and fails the test on any report entry: warnings and infos
// included, since Butane's own --strict fails on warnings and a clean
// rendered config should draw none.
func TranslateButane(t testing.TB, config []byte) []byte {
	t.Helper()
	ign, report, err := butane.TranslateBytes(config, common.TranslateBytesOptions{Pretty: true})
	if err != nil {
		t.Fatalf("butane refuses the config: %v\n%s", err, report)
	}
	if len(report.Entries) > 0 {
		t.Fatalf("butane reports on the config:\n%s", report)
	}
	return ign
}
