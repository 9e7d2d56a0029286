package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/lendhq/lend/realtime"
)

// BenchAppend measures the ingest path's store calls for one batch of rows
// transactions: LatestBatchID then Append, spread over 100 merchants, and
// reports rows per second.
func BenchAppend(b *testing.B, s realtime.Store, rows int) {
	ctx := context.Background()
	batch := make([]realtime.StoredTx, rows)
	for i := range batch {
		batch[i] = Tx(fmt.Sprintf("2024-03-01T00:%02d:%02dZ", i/60%60, i%60), "sale")
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m := fmt.Sprintf("m%03d", i%100)
		if _, err := s.LatestBatchID(ctx, m); err != nil {
			b.Fatal(err)
		}
		if _, existed, err := s.Append(ctx, realtime.Batch{MerchantID: m, IdempotencyKey: fmt.Sprintf("k%d", i), RequestHash: "h", Rows: rows, CreatedAt: time.Now()}, batch); err != nil || existed {
			b.Fatal(existed, err)
		}
	}
	b.ReportMetric(float64(b.N*rows)/b.Elapsed().Seconds(), "rows/s")
}
