package render

import (
	"testing"

	"github.com/kubebake/kubebake/embed"
	"github.com/kubebake/kubebake/render/spec"
)

// BenchmarkRender renders each format in process with the real embedded
// agent (skipped when make embed has not run). scripts/bench.sh measures
// whole processes against the butane CLI.
func BenchmarkRender(b *testing.B) {
	agent, err := embed.Load("amd64")
	if err != nil {
		b.Skip(err)
	}
	for _, f := range []spec.Format{FormatIgnition, FormatButane, FormatCloudInit} {
		b.Run(string(f), func(b *testing.B) {
			in := sampleInputs()
			in.Format = string(f)
			s := mustSpec(b, in)
			var n int
			for i := 0; i < b.N; i++ {
				out, err := Render(s, &agent)
				if err != nil {
					b.Fatal(err)
				}
				n = len(out)
			}
			b.ReportMetric(float64(n), "bytes/output")
		})
	}
}
