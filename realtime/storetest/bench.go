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

// SeedYear stores a year of perDay transactions a day (every 29th a
// refund, 50 buyers) for merchant m, in batches of realtime.MaxBatchRows,
// and returns the start of that year (History's from for all of them).
func SeedYear(b testing.TB, s realtime.Store, m string, perDay int) time.Time {
	ctx := context.Background()
	from := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var rows []realtime.StoredTx
	for d := 0; d < 365; d++ {
		for i := 0; i < perDay; i++ {
			ts := from.AddDate(0, 0, d).Add(time.Duration(8*3600+i*(12*3600/perDay)) * time.Second)
			typ := "sale"
			if (d+i)%29 == 0 {
				typ = "refund"
			}
			amt := int64(20+(d*7+i*13)%40) * 1_000_000
			rows = append(rows, realtime.StoredTx{TS: ts.Format(time.RFC3339), Amount: fmt.Sprint(amt / 1_000_000), Type: typ,
				BuyerID: fmt.Sprintf("b%d", (d+i)%50), TSUs: ts.UnixMicro(), AmountMicro: amt})
		}
	}
	for i := 0; i < len(rows); i += realtime.MaxBatchRows {
		part := rows[i:min(i+realtime.MaxBatchRows, len(rows))]
		if _, _, err := s.Append(ctx, realtime.Batch{MerchantID: m, IdempotencyKey: fmt.Sprintf("seed-%d", i), RequestHash: "h", Rows: len(part), CreatedAt: time.Now()}, part); err != nil {
			b.Fatal(err)
		}
	}
	return from
}
