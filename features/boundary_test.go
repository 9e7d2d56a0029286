package features

import (
	"context"
	"testing"
	"time"
)

// TestWindowBoundaries puts sales exactly on the window and bucket edges.
// W(N) = [as_of − N days, as_of): a sale at exactly as_of − N days counts, one
// second earlier does not, and a row at as_of does not. as_of = 2024-07-01
// (midnight UTC); 2024 is a leap year, so as_of − 366 days = 2023-07-01.
//
//	row  ts                   amount  age (days)      W(30) W(90) W(365) bucket
//	a    2024-06-30 23:59:59   64     1s              yes   yes   yes    B1
//	b    2024-06-01 00:00:00    1     30 exactly      yes   yes   yes    B1
//	c    2024-05-31 23:59:59    2     30 + 1s         no    yes   yes    B2
//	d    2024-04-02 00:00:00    4     90 exactly      no    yes   yes    B3
//	e    2023-07-07 00:00:00    8     360 exactly     no    no    yes    B12
//	f    2023-07-02 00:00:00   16     365 exactly     no    no    yes    none
//	g    2023-07-01 23:59:59   32     365 + 1s        no    no    no     none
//	h    2024-07-01 00:00:00  128     0 (at as_of)    excluded everywhere
//
// sales_amount_30d = 64+1 = 65; _90d = 65+2+4 = 71; _180d = 71 (no sale in
// (90, 180]); _365d = 71+8+16 = 95. Counts: 2, 4, 6. active_days_90d: dates
// 06-30, 06-01, 05-31, 04-02 = 4. months_active_12m: B1, B2, B3, B12 = 4.
// tenure_days: first sale g, 365 days + 1 s → floor 365. days_since_last_sale:
// a, 1 s → 0. sales_growth_90d: nothing in [as_of−180, as_of−90) → NULL.
func TestWindowBoundaries(t *testing.T) {
	asOf := time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)
	rows := []Tx{
		{MerchantID: "m", TS: "2024-06-30 23:59:59", Amount: "64", Type: "sale"},
		{MerchantID: "m", TS: "2024-06-01 00:00:00", Amount: "1", Type: "sale"},
		{MerchantID: "m", TS: "2024-05-31 23:59:59", Amount: "2", Type: "sale"},
		{MerchantID: "m", TS: "2024-04-02 00:00:00", Amount: "4", Type: "sale"},
		{MerchantID: "m", TS: "2023-07-07 00:00:00", Amount: "8", Type: "sale"},
		{MerchantID: "m", TS: "2023-07-02 00:00:00", Amount: "16", Type: "sale"},
		{MerchantID: "m", TS: "2023-07-01 23:59:59", Amount: "32", Type: "sale"},
		{MerchantID: "m", TS: "2024-07-01 00:00:00", Amount: "128", Type: "sale"},
	}
	got, err := ComputeRows(context.Background(), testDB(t), asOf, false, rows)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("got %d rows, want 1", len(got))
	}
	val := map[string]*float64{}
	for i, n := range Names() {
		val[n] = got[0].Values[i]
	}
	for _, tc := range []struct {
		name string
		want float64
	}{
		{"sales_amount_30d", 65}, {"sales_amount_90d", 71}, {"sales_amount_180d", 71}, {"sales_amount_365d", 95},
		{"sales_count_30d", 2}, {"sales_count_90d", 4}, {"sales_count_365d", 6},
		{"active_days_90d", 4}, {"months_active_12m", 4},
		{"tenure_days", 365}, {"days_since_last_sale", 0},
	} {
		if v := val[tc.name]; v == nil || *v != tc.want {
			t.Errorf("%s = %s, want %v", tc.name, fmtVal(v), tc.want)
		}
	}
	if v := val["sales_growth_90d"]; v != nil {
		t.Errorf("sales_growth_90d = %v, want NULL", *v)
	}
}
