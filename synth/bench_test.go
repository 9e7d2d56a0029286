package synth

import (
	"context"
	"testing"
)

// BenchmarkGenerate measures end-to-end generation of 50,000 merchants (about
// 5 million transactions) to Parquet; the 100-million-row figure is in
// docs/perf/gen.md. Reports transactions per second.
func BenchmarkGenerate(b *testing.B) {
	for _, format := range []Format{FormatParquet, FormatCSV} {
		b.Run(string(format), func(b *testing.B) {
			var rows int64
			for b.Loop() {
				sum, err := Generate(context.Background(), Config{Merchants: 50000, Seed: 1, Format: format}, b.TempDir())
				if err != nil {
					b.Fatal(err)
				}
				rows += sum.Transactions
			}
			b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
