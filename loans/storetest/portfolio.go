package storetest

import (
	"reflect"
	"testing"

	"github.com/lendhq/lend/loans"
)

func init() { register("PortfolioByBucketAndModel", testPortfolioByBucketAndModel) }

// testPortfolioByBucketAndModel: the portfolio an officer reads, worked by
// hand. m1 has the 99,000.00 loan of 2026-01-01 (loan99k) and misses its
// installments: on 2026-03-05 installment 1 (due 02-01) is 32 days past due,
// bucket 31-60, and m1's line is frozen. m2 borrows 10,000.00 on 03-06,
// current. PAR30 = 99,000.00 / 109,000.00 = 0.908257 → 9083 bps. The open
// lines by the model that last decided them: m1 (frozen) and m2 by mA,
// 200,000.00 + 50,000.00 limit, 99,000.00 + 10,000.00 drawn; m3, first
// decided by mB and re-decided by mC, only under mC.
func testPortfolioByBucketAndModel(t *testing.T, open Opener) {
	s := openAt(t, open, "2026-01-01")
	upsert := func(merchant, model string, limitMinor int64) {
		t.Helper()
		r, _ := loans.ParseRate("apr", "0.12")
		if _, err := s.UpsertCreditLines(ctx, []loans.CreditLineUpdate{{MerchantID: merchant, Currency: "EUR", LimitMinor: limitMinor,
			APR: r, Grade: "B", ModelID: model, AsOf: "2026-01-01"}}); err != nil {
			t.Fatal(err)
		}
	}
	pf, err := s.Portfolio(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if pf.AsOf != "" || pf.OutstandingMinor != 0 || pf.PAR30Bps != 0 || len(pf.ByStatus) != 0 || len(pf.LinesByModel) != 0 || pf.LinesByModel == nil {
		t.Fatalf("empty store's portfolio %+v", pf)
	}
	l := loan99k(t, s) // m1's line: model "m1"; re-decided by mA below
	upsert("m1", "mA", 20_000_000)
	upsert("m2", "mA", 5_000_000)
	upsert("m3", "mB", 3_000_000)
	upsert("m3", "mC", 4_000_000)
	if _, err := s.CloseOfBusiness(ctx, day("2026-03-05"), nil); err != nil {
		t.Fatal(err)
	}
	termLoan(t, s, "m2", 1_000_000, "0.12", 3, "2026-03-06")
	got, err := s.Loan(ctx, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.DPD != 32 || got.Bucket != loans.Bucket31to60 || got.PrincipalOutstandingMinor != 9_900_000 {
		t.Fatalf("m1's loan on 03-05: dpd %d bucket %s principal %d, want 32, 31-60, 9,900,000", got.DPD, got.Bucket, got.PrincipalOutstandingMinor)
	}
	if cl, _ := s.CreditLine(ctx, "m1"); cl.Status != loans.LineFrozen {
		t.Fatalf("m1's line %s, want frozen", cl.Status)
	}
	pf, err = s.Portfolio(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if pf.AsOf != "2026-03-05" || pf.OutstandingMinor != 10_900_000 || pf.PAR30Bps != 9083 {
		t.Fatalf("as of %q, outstanding %d, PAR30 %d bps; want 2026-03-05, 10,900,000, 9083", pf.AsOf, pf.OutstandingMinor, pf.PAR30Bps)
	}
	wantStatus := map[string]loans.PortfolioCell{"active": {Count: 2, OutstandingMinor: 10_900_000}}
	wantBucket := map[string]loans.PortfolioCell{loans.Bucket31to60: {Count: 1, OutstandingMinor: 9_900_000},
		loans.BucketCurrent: {Count: 1, OutstandingMinor: 1_000_000}}
	if !reflect.DeepEqual(pf.ByStatus, wantStatus) || !reflect.DeepEqual(pf.ByBucket, wantBucket) {
		t.Fatalf("by status %+v, by bucket %+v; want %+v, %+v", pf.ByStatus, pf.ByBucket, wantStatus, wantBucket)
	}
	wantLines := map[string]loans.LineCell{"mA": {Count: 2, LimitMinor: 25_000_000, DrawnMinor: 10_900_000},
		"mC": {Count: 1, LimitMinor: 4_000_000}}
	if !reflect.DeepEqual(pf.LinesByModel, wantLines) {
		t.Fatalf("lines by model %+v, want %+v", pf.LinesByModel, wantLines)
	}
}
