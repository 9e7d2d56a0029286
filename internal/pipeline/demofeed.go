package pipeline

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/lendhq/lend"
	"github.com/lendhq/lend/features"
	"github.com/lendhq/lend/realtime"
)

// DemoHistoryKeyPrefix prefixes the idempotency keys of the demo history's
// batches in the real-time store: prefix, shift in days, "-", the batch's
// first row's instant in µs (a batch holds up to realtime.MaxBatchRows rows).
const DemoHistoryKeyPrefix = "demo-history-"

// topUpDemoHistory keeps merchantID's generated transactions (txPath, the
// demo's Parquet file) in the real-time store st ending yesterday: moved by
// whole days so that the generator's as-of falls on today. Without it the
// transaction feed (POST /v1/merchants/{id}/transactions) would see a
// merchant with no history and re-decide its line on the first batch alone,
// which no lender would do: a real deployment backfills the history its
// nightly batch saw. The first start stores the whole history; a start on a
// later day appends, moved by the new shift, the rows that fall after the
// merchant's latest stored transaction (so its last week never goes empty
// and trips the sales-collapse rule). A batch's key names the shift and its
// first row's instant: a start after a crash stores nothing twice. It
// returns the rows stored and the shift.
func topUpDemoHistory(ctx context.Context, st realtime.Store, txPath, merchantID string, asOf, today time.Time) (rows int, shiftDays int, err error) {
	midnight := today.UTC().Truncate(24 * time.Hour)
	shiftDays = int(midnight.Sub(asOf) / (24 * time.Hour))
	have, err := st.History(ctx, merchantID, time.Unix(0, 0))
	if err != nil {
		return 0, 0, err
	}
	latest := int64(math.MinInt64)
	for _, r := range have {
		latest = max(latest, r.TSUs)
	}
	txs, err := demoTransactions(ctx, txPath, merchantID, shiftDays)
	if err != nil {
		return 0, 0, err
	}
	i := 0
	for i < len(txs) && txs[i].TSUs <= latest {
		i++
	}
	txs = txs[i:]
	created := today.UTC()
	for i := 0; i < len(txs); i += realtime.MaxBatchRows {
		part := txs[i:min(i+realtime.MaxBatchRows, len(txs))]
		key := fmt.Sprintf("%s%d-%d", DemoHistoryKeyPrefix, shiftDays, part[0].TSUs)
		b := realtime.Batch{MerchantID: merchantID, IdempotencyKey: key, RequestHash: "demo-history", Rows: len(part), CreatedAt: created}
		if _, _, err := st.Append(ctx, b, part); err != nil {
			return 0, 0, err
		}
	}
	return len(txs), shiftDays, nil
}

// demoTransactions reads merchantID's rows from the demo's Parquet file in
// time order, ts moved shiftDays days later, as the real-time store keeps
// them (the text as a client would send it and the parsed values).
func demoTransactions(ctx context.Context, txPath, merchantID string, shiftDays int) ([]realtime.StoredTx, error) {
	db, err := features.OpenDB(0, "", "")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	res, err := db.QueryContext(ctx, fmt.Sprintf(`SELECT epoch_us(ts) + %d * 86400000000, CAST(amount AS VARCHAR),
		CAST(CAST(amount AS DECIMAL(38,6)) * 1000000 AS BIGINT), type, coalesce(buyer_id, '')
		FROM read_parquet(%s) WHERE merchant_id = %s ORDER BY ts, amount, type, buyer_id`, shiftDays, quoteString(txPath), quoteString(merchantID)))
	if err != nil {
		return nil, lend.Wrap(lend.EINTERNAL, err, "demo: reading %s's transactions: %v", merchantID, firstLine(err))
	}
	defer res.Close()
	var out []realtime.StoredTx
	for res.Next() {
		var r realtime.StoredTx
		if err := res.Scan(&r.TSUs, &r.Amount, &r.AmountMicro, &r.Type, &r.BuyerID); err != nil {
			return nil, lend.Wrap(lend.EINTERNAL, err, "demo: reading %s's transactions: %v", merchantID, err)
		}
		r.TS = time.UnixMicro(r.TSUs).UTC().Format(time.RFC3339Nano)
		out = append(out, r)
	}
	if err := res.Err(); err != nil {
		return nil, lend.Wrap(lend.EINTERNAL, err, "demo: reading %s's transactions: %v", merchantID, err)
	}
	return out, nil
}
