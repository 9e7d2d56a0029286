package features

// Review tests (helper-12b) of the non-UTF-8 buyer_id commit: online and
// batch agree on a history without buyer ids. Expected values are worked by
// hand in the comments.

import (
	"context"
	"testing"
)

// TestReview12bComputeWithoutBuyersIgnoresBuyerText: with hasBuyer false
// (a file without the buyer_id column) the buyer text is not read, so a
// buyer id that is not UTF-8 (r12Rows line 3, "b\xff") is not refused:
// ComputeRows and an Online without sqleval (staging, notUTF8(false))
// accepted it, but Online.Compute on an OpenOnline (sqleval, validateBatch
// checking every column) refused it as "transactions[1]: buyer_id: not
// valid UTF-8". All 4 sales count: 10+20+30+40 = 100, 4 sales, and
// unique_buyers_90d is NULL (no buyer column).
func TestReview12bComputeWithoutBuyersIgnoresBuyerText(t *testing.T) {
	ctx := context.Background()
	o, err := OpenOnline(ctx, "256MB")
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	row, ok, err := o.Compute(ctx, r12AsOf, false, r12Rows)
	if err != nil || !ok {
		t.Fatalf("Compute(hasBuyer false): ok %v err %v", ok, err)
	}
	r44want(t, row, "sales_amount_30d", 100)
	r44want(t, row, "sales_count_30d", 4)
	if v := r44num(t, row, "unique_buyers_90d"); v != nil {
		t.Errorf("unique_buyers_90d = %v without buyer ids, want NULL", *v)
	}
	rows, err := ComputeRows(ctx, testDB(t), r12AsOf, false, r12Rows)
	if err != nil || len(rows) != 1 {
		t.Fatalf("ComputeRows without buyers: %d rows, %v", len(rows), err)
	}
	compareRow(t, "Compute vs ComputeRows", rows[0], row)

	// With buyer ids the row is still refused, with the batch's reason.
	if _, _, err := o.Compute(ctx, r12AsOf, true, r12Rows); err == nil || err.Error() != "transactions[1]: buyer_id: not valid UTF-8" {
		t.Errorf("Compute(hasBuyer true): err %v", err)
	}
}
