package pipeline

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/lendhq/lend"
	"github.com/lendhq/lend/loans"
)

// Review 54: an open line whose merchant dropped out of the features file
// kept its limit for ever. Now an active one whose as-of is more than
// StaleAfterDays (default 3) days before the run's is frozen for stale_data,
// and unfrozen when the merchant comes back (unless delinquent).

// review54Sales is a features row with lower 90-day sales than review46Row's, so
// that a merchant's assessed limit changes.
func review54Sales(id string) string { return id + ",0.01,0.10,400,9999,2,0,food" }

func review54Run(t *testing.T, st loans.Store, file, asOf string, days *int) RefreshSummary {
	t.Helper()
	sum, err := RefreshLimits(context.Background(), RefreshOptions{Features: file, AsOf: asOf, Engine: review46Engine(t), Store: st, StaleAfterDays: days})
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

func review54Line(t *testing.T, st loans.Store, id string) loans.CreditLine {
	t.Helper()
	l, err := st.CreditLine(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// review54Delinquent makes id draw its whole line as a 6-month term loan on
// 2026-01-02 and miss the first installment: close of business through
// 2026-03-15 leaves it past due (as TestReview12FrozenLineCounted).
func review54Delinquent(t *testing.T, st loans.Store, id string) {
	t.Helper()
	ctx := context.Background()
	line := review54Line(t, st, id)
	app, err := st.CreateApplication(ctx, loans.Cmd{MerchantID: id, IdempotencyKey: "app-" + id},
		loans.Application{Currency: line.Currency, AmountMinor: line.LimitMinor, TermPeriods: 6, Decision: loans.DecisionApproved,
			Offer: &loans.Offer{AmountMinor: line.LimitMinor, APR: line.APR, TermPeriods: 6}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.AcceptApplication(ctx, loans.Cmd{MerchantID: id, IdempotencyKey: "acc-" + id}, loans.AcceptRequest{ApplicationID: app.ID, On: "2026-01-02"}); err != nil {
		t.Fatal(err)
	}
}

func review54Close(t *testing.T, st loans.Store) {
	t.Helper()
	through, _ := time.Parse(loans.DateLayout, "2026-03-15")
	if _, err := st.CloseOfBusiness(context.Background(), through, nil); err != nil {
		t.Fatal(err)
	}
}

// TestReview54StaleBoundary, hand-worked with the default (3 days, frozen
// when MORE than 3 days old). Night 1 (2024-01-01) opens m1, m2, m3; m3 then
// draws 100.00. Files from then on carry m1 only.
//   - 2024-01-04: m2, m3 are 3 days old (Jan 4 - Jan 1): not frozen;
//     not_refreshed 2, stale_frozen 0.
//   - 2024-01-05: 4 days old: both frozen stale_data, limit, drawn (0 and
//     100.00), APR and as-of (2024-01-01) kept; not_refreshed still 2 (the
//     frozen lines are open), stale_frozen 2, ids [m2 m3]. m3 refuses a draw.
//   - 2024-01-05 again: nothing more frozen, nothing written.
//
// Before the fix both lines stayed active.
func TestReview54StaleBoundary(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	all := review46File(t, "all.csv", review46Head, review46Row("m1", "400"), review46Row("m2", "400"), review46Row("m3", "400"))
	one := review46File(t, "one.csv", review46Head, review46Row("m1", "400"))
	if s := review54Run(t, st, all, "2024-01-01", nil); s.New != 3 {
		t.Fatalf("night 1 %+v", s)
	}
	if _, err := st.Draw(ctx, loans.Cmd{MerchantID: "m3", IdempotencyKey: "d1"}, loans.DrawRequest{AmountMinor: 10_000}); err != nil {
		t.Fatal(err)
	}
	m2, m3 := review54Line(t, st, "m2"), review54Line(t, st, "m3")

	s := review54Run(t, st, one, "2024-01-04", nil)
	if s.NotRefreshed != 2 || s.StaleFrozen != 0 || review54Line(t, st, "m2").Status != loans.LineActive {
		t.Fatalf("3 days: %+v; want 2 not refreshed, none frozen", s)
	}
	s = review54Run(t, st, one, "2024-01-05", nil)
	if s.NotRefreshed != 2 || s.StaleFrozen != 2 || !reflect.DeepEqual(s.StaleFrozenIDs.List(), []string{"m2", "m3"}) || s.Unfrozen != 0 {
		t.Fatalf("4 days: %+v; want 2 not refreshed, 2 stale-frozen [m2 m3]", s)
	}
	for _, before := range []loans.CreditLine{m2, m3} {
		l := review54Line(t, st, before.MerchantID)
		if l.Status != loans.LineFrozen || l.FrozenReason != loans.FrozenByStaleData || l.LimitMinor != before.LimitMinor ||
			l.DrawnMinor != before.DrawnMinor || l.APR != before.APR || l.AsOf != "2024-01-01" || l.AvailableMinor != 0 {
			t.Errorf("%s after 4 days: %+v; want frozen stale_data, limit %d, drawn %d kept", l.MerchantID, l, before.LimitMinor, before.DrawnMinor)
		}
	}
	_, err := st.Draw(ctx, loans.Cmd{MerchantID: "m3", IdempotencyKey: "d2"}, loans.DrawRequest{AmountMinor: 100})
	if lend.ErrorCode(err) != lend.ECONFLICT {
		t.Errorf("draw on a stale-frozen line: %v; want %s", err, lend.ECONFLICT)
	}
	s = review54Run(t, st, one, "2024-01-05", nil)
	if s.StaleFrozen != 0 || s.NotRefreshed != 2 || s.Written != 0 {
		t.Errorf("re-run: %+v; want nothing frozen or written, 2 not refreshed", s)
	}
}

// TestReview54ZeroAndDelinquentUntouched: with StaleAfterDays 0 a line one
// night old (2024-01-01 -> 2024-01-02) is frozen; m2, frozen for delinquency
// by close of business and missing from the file, is left exactly as it was
// (its reason stays delinquency) though 31 days old.
func TestReview54ZeroAndDelinquentUntouched(t *testing.T) {
	st := openStore(t)
	all := review46File(t, "all.csv", review46Head, review46Row("m1", "400"), review46Row("m2", "400"), review46Row("m3", "400"))
	one := review46File(t, "one.csv", review46Head, review46Row("m1", "400"))
	review54Run(t, st, all, "2024-01-01", nil)
	review54Delinquent(t, st, "m2")
	review54Close(t, st)
	frozen := review54Line(t, st, "m2")
	if frozen.FrozenReason != loans.FrozenByDelinquency {
		t.Fatalf("m2 %+v; want frozen for delinquency", frozen)
	}
	s := review54Run(t, st, one, "2024-01-02", new(0))
	if s.StaleFrozen != 1 || !reflect.DeepEqual(s.StaleFrozenIDs.List(), []string{"m3"}) {
		t.Fatalf("0 days: %+v; want m3 frozen", s)
	}
	s = review54Run(t, st, one, "2024-02-01", nil)
	if s.StaleFrozen != 0 || s.NotRefreshed != 2 {
		t.Errorf("31 days: %+v; want nothing more frozen", s)
	}
	if after := review54Line(t, st, "m2"); !reflect.DeepEqual(after, frozen) {
		t.Errorf("delinquent line changed: %+v -> %+v", frozen, after)
	}
}

// TestReview54Reappears: m2 and m3 are stale-frozen as of 2024-01-05 (4 days).
// m3 then becomes delinquent (its term loan's first installment missed; close
// of business leaves a stale_data freeze alone). On 2024-01-06 all three are
// back with lower sales (review54Sales: sales_amount_90d 9999, not 29999):
//   - m2 is unfrozen: active, reason cleared, as-of 2024-01-06 and the limit
//     m1 gets for the same row (m1 was never frozen), which differs from
//     night 1's; summary unfrozen 1;
//   - m3 stays frozen, reason delinquency, its limit kept (frozen 1).
func TestReview54Reappears(t *testing.T) {
	st := openStore(t)
	all := review46File(t, "all.csv", review46Head, review46Row("m1", "400"), review46Row("m2", "400"), review46Row("m3", "400"))
	one := review46File(t, "one.csv", review46Head, review46Row("m1", "400"))
	back := review46File(t, "back.csv", review46Head, review54Sales("m1"), review54Sales("m2"), review54Sales("m3"))
	review54Run(t, st, all, "2024-01-01", nil)
	review54Delinquent(t, st, "m3")
	old := review54Line(t, st, "m2")
	if s := review54Run(t, st, one, "2024-01-05", nil); s.StaleFrozen != 2 {
		t.Fatalf("%+v; want m2, m3 stale-frozen", s)
	}
	review54Close(t, st)
	m3 := review54Line(t, st, "m3")
	if m3.FrozenReason != loans.FrozenByStaleData {
		t.Fatalf("m3 after close of business %+v; want stale_data still", m3)
	}
	s := review54Run(t, st, back, "2024-01-06", nil)
	if s.Unfrozen != 1 || s.Frozen != 1 || s.StaleFrozen != 0 || s.NotRefreshed != 0 {
		t.Errorf("back: %+v; want 1 unfrozen (m2), 1 frozen (m3)", s)
	}
	m1, m2 := review54Line(t, st, "m1"), review54Line(t, st, "m2")
	if m2.Status != loans.LineActive || m2.FrozenReason != "" || m2.AsOf != "2024-01-06" || m2.LimitMinor != m1.LimitMinor || m2.LimitMinor == old.LimitMinor {
		t.Errorf("m2 back: %+v; want active, as-of 2024-01-06, limit %d (m1's), not %d", m2, m1.LimitMinor, old.LimitMinor)
	}
	after := review54Line(t, st, "m3")
	if after.Status != loans.LineFrozen || after.FrozenReason != loans.FrozenByDelinquency || after.LimitMinor != m3.LimitMinor || after.APR != m3.APR {
		t.Errorf("m3 back while delinquent: %+v; want frozen for delinquency, limit %d kept", after, m3.LimitMinor)
	}
	if s := review54Run(t, st, back, "2024-01-06", nil); s.Unfrozen != 0 || s.Written != 0 {
		t.Errorf("re-run: %+v; want nothing unfrozen or written", s)
	}
}

// TestReview54StaleAfterDaysRange: -1 and 366 are refused (EINVALID on
// field stale-after-days) before anything is read; 365 is allowed.
func TestReview54StaleAfterDaysRange(t *testing.T) {
	st := openStore(t)
	one := review46File(t, "one.csv", review46Head, review46Row("m1", "400"))
	for _, n := range []int{-1, 366} {
		_, err := RefreshLimits(context.Background(), RefreshOptions{Features: one, AsOf: "2024-01-01", Engine: review46Engine(t), Store: st, StaleAfterDays: new(n)})
		var e *lend.Error
		if lend.ErrorCode(err) != lend.EINVALID || !asLendError(err, &e) || e.Field != "stale-after-days" {
			t.Errorf("StaleAfterDays %d: %v; want EINVALID on stale-after-days", n, err)
		}
	}
	if s := review54Run(t, st, one, "2024-01-01", new(365)); s.New != 1 {
		t.Errorf("365: %+v", s)
	}
}

func asLendError(err error, e **lend.Error) bool {
	le, ok := err.(*lend.Error)
	*e = le
	return ok
}
