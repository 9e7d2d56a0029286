package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/lendhq/lend/loans"
)

// Review 12: a merchant with an open credit line that is missing from the
// night's features file kept its old line with nothing in the summary saying
// so. The summary now counts those lines (NotRefreshed) and lists the first
// few ids; the lines themselves are left as they are (no rule in SPEC or docs
// says what to do with them).

// TestReview12NotRefreshedCounted is the hand-worked example. Night 1
// (2024-01-01) opens lines for m1, m2, m3 (tenure 400 days: all approved by
// the golden policy, so 3 new). Night 2 (2024-01-02) has features for m1 and
// m3 only: 2 merchants scored, and 1 open line (m2) not refreshed. m2's line
// stays byte for byte what night 1 wrote (as-of 2024-01-01); m1 and m3 carry
// night 2's as-of.
func TestReview12NotRefreshedCounted(t *testing.T) {
	eng := review46Engine(t)
	st := openStore(t)
	ctx := context.Background()
	all := review46File(t, "all.csv", review46Head, review46Row("m1", "400"), review46Row("m2", "400"), review46Row("m3", "400"))
	part := review46File(t, "part.csv", review46Head, review46Row("m1", "400"), review46Row("m3", "400"))
	first, err := RefreshLimits(ctx, RefreshOptions{Features: all, AsOf: "2024-01-01", Engine: eng, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	if first.New != 3 || first.NotRefreshed != 0 || first.NotRefreshedIDs != (MerchantIDs{}) {
		t.Fatalf("night 1 = %+v; want 3 new, none not refreshed", first)
	}
	m2Before, err := st.CreditLine(ctx, "m2")
	if err != nil {
		t.Fatal(err)
	}
	second, err := RefreshLimits(ctx, RefreshOptions{Features: part, AsOf: "2024-01-02", Engine: eng, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	if second.Merchants != 2 || second.NotRefreshed != 1 || !reflect.DeepEqual(second.NotRefreshedIDs.List(), []string{"m2"}) {
		t.Errorf("night 2 = %+v; want 2 merchants, 1 not refreshed: [m2]", second)
	}
	m2After, err := st.CreditLine(ctx, "m2")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m2Before, m2After) || m2After.AsOf != "2024-01-01" {
		t.Errorf("m2's line changed: before %+v\nafter %+v", m2Before, m2After)
	}
	for _, id := range []string{"m1", "m3"} {
		l, err := st.CreditLine(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if l.AsOf != "2024-01-02" {
			t.Errorf("%s as-of %s; want 2024-01-02 (refreshed)", id, l.AsOf)
		}
	}
	// The JSON the CLI prints: the count and the ids as an array.
	b, err := json.Marshal(second)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	if raw["not_refreshed"] != float64(1) || !reflect.DeepEqual(raw["not_refreshed_ids"], []any{"m2"}) {
		t.Errorf("JSON %s; want not_refreshed 1, not_refreshed_ids [\"m2\"]", b)
	}
	// Round trip: the CLI tests decode the summary back.
	var back RefreshSummary
	if err := json.Unmarshal(b, &back); err != nil || back != second {
		t.Errorf("round trip %+v (%v); want %+v", back, err, second)
	}
}

// TestReview12FrozenLineCounted: an open line is active or frozen. m2 draws
// its whole line as a term loan on 2026-01-02 and misses its first
// installment; close of business through 2026-03-15 freezes its line. A
// features file without m2 then leaves the frozen line as it is and counts it:
// 1 not refreshed, [m2].
func TestReview12FrozenLineCounted(t *testing.T) {
	eng := review46Engine(t)
	st := openStore(t)
	ctx := context.Background()
	all := review46File(t, "all.csv", review46Head, review46Row("m1", "400"), review46Row("m2", "400"), review46Row("m3", "400"))
	part := review46File(t, "part.csv", review46Head, review46Row("m1", "400"), review46Row("m3", "400"))
	if _, err := RefreshLimits(ctx, RefreshOptions{Features: all, AsOf: "2024-01-01", Engine: eng, Store: st}); err != nil {
		t.Fatal(err)
	}
	line, err := st.CreditLine(ctx, "m2")
	if err != nil {
		t.Fatal(err)
	}
	app, err := st.CreateApplication(ctx, loans.Cmd{MerchantID: "m2", IdempotencyKey: "app-1"},
		loans.Application{Currency: line.Currency, AmountMinor: line.LimitMinor, TermPeriods: 6, Decision: loans.DecisionApproved,
			Offer: &loans.Offer{AmountMinor: line.LimitMinor, APR: line.APR, TermPeriods: 6}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.AcceptApplication(ctx, loans.Cmd{MerchantID: "m2", IdempotencyKey: "acc-1"}, loans.AcceptRequest{ApplicationID: app.ID, On: "2026-01-02"}); err != nil {
		t.Fatal(err)
	}
	through, _ := time.Parse(loans.DateLayout, "2026-03-15")
	if _, err := st.CloseOfBusiness(ctx, through, nil); err != nil {
		t.Fatal(err)
	}
	frozen, err := st.CreditLine(ctx, "m2")
	if err != nil || frozen.Status != loans.LineFrozen {
		t.Fatalf("m2 after a missed installment = %+v %v; want frozen", frozen, err)
	}
	sum, err := RefreshLimits(ctx, RefreshOptions{Features: part, AsOf: "2024-01-02", Engine: eng, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	if sum.NotRefreshed != 1 || !reflect.DeepEqual(sum.NotRefreshedIDs.List(), []string{"m2"}) {
		t.Errorf("summary %+v; want 1 not refreshed: [m2] (frozen lines are open)", sum)
	}
	after, err := st.CreditLine(ctx, "m2")
	if err != nil || !reflect.DeepEqual(frozen, after) {
		t.Errorf("m2's frozen line changed: %+v -> %+v (%v)", frozen, after, err)
	}
}

// TestReview12NotRefreshedBound: 13 open lines missing from the file, given
// out of order (m12, m11, ..., m00), plus a closed one (cl) that lends nothing
// and is not counted. Count 13; the ids are the 10 smallest in byte order:
// m00 .. m09 (m10, m11, m12 left out).
func TestReview12NotRefreshedBound(t *testing.T) {
	left := map[string]*loans.CreditLine{"cl": {MerchantID: "cl", Status: loans.LineClosed}}
	for i := 12; i >= 0; i-- {
		id := fmt.Sprintf("m%02d", i)
		st := loans.LineActive
		if i%4 == 0 {
			st = loans.LineFrozen
		}
		left[id] = &loans.CreditLine{MerchantID: id, Status: st}
	}
	n, ids := notRefreshed(left)
	want := MerchantIDs{"m00", "m01", "m02", "m03", "m04", "m05", "m06", "m07", "m08", "m09"}
	if n != 13 || ids != want {
		t.Errorf("notRefreshed = %d %v; want 13 %v", n, ids, want)
	}
	if n, ids := notRefreshed(nil); n != 0 || len(ids.List()) != 0 {
		t.Errorf("no lines left: %d %v; want 0 and no ids", n, ids)
	}
	if b, _ := json.Marshal(MerchantIDs{}); string(b) != "[]" {
		t.Errorf("empty ids marshal to %s; want []", b)
	}
}
