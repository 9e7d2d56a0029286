package storetest

import (
	"errors"
	"testing"

	"github.com/lendhq/lend"
	"github.com/lendhq/lend/loans"
)

func init() {
	register("ApplicationLineCheck", testApplicationLineCheck)
}

// testApplicationLineCheck: an application carrying the line its decision
// was taken against (Cmd.Line) is written only while that is still the
// stored line. A draw (which stamps updated_at) and a repayment (which
// changes drawn_minor without it) each make the old line stale: the
// application is refused with ErrLineChanged and nothing is kept under its
// key, so the retry with the fresh line and another decision succeeds. A
// stored key replays even with a stale line; a merchant without a line is
// refused like a changed one.
func testApplicationLineCheck(t *testing.T, open Opener) {
	s := openAt(t, open, "2011-09-20")
	line(t, s, "m1", 100_000, "0.24")
	app := func(amount int64) loans.Application {
		a := approvedApp(amount)
		a.MerchantID = "m1"
		return a
	}
	create := func(key string, l loans.CreditLine, amount int64) (loans.Application, error) {
		return s.CreateApplication(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: key, Line: &l}, app(amount))
	}
	l0 := mustLine(t, s, "m1")
	first, err := create("a1", l0, 5_000)
	if err != nil {
		t.Fatalf("application on the current line: %v", err)
	}

	draw, err := s.Draw(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "d1"}, loans.DrawRequest{AmountMinor: 20_000, Currency: "EUR"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = create("a2", l0, 5_000)
	if !errors.Is(err, loans.ErrLineChanged) || lend.ErrorCode(err) != lend.ECONFLICT {
		t.Fatalf("application on the line before a draw: %v, want ErrLineChanged (%s)", err, lend.ECONFLICT)
	}
	// Nothing was kept under a2: another decision under it is a new application.
	l1 := mustLine(t, s, "m1")
	second, err := create("a2", l1, 6_000)
	if err != nil || second.AmountMinor != 6_000 || second.ID == first.ID {
		t.Fatalf("retry on the fresh line: %+v, %v; want a new application of 60.00", second, err)
	}

	// A repayment changes what is drawn, not updated_at.
	if _, err := s.Repay(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "r1"}, loans.RepayRequest{LoanID: draw.ID, AmountMinor: 5_000}); err != nil {
		t.Fatal(err)
	}
	l2 := mustLine(t, s, "m1")
	if l2.DrawnMinor == l1.DrawnMinor || !l2.UpdatedAt.Equal(l1.UpdatedAt) {
		t.Fatalf("repayment: drawn %d → %d, updated_at %v → %v; the test wants drawn changed and updated_at not",
			l1.DrawnMinor, l2.DrawnMinor, l1.UpdatedAt, l2.UpdatedAt)
	}
	if _, err := create("a3", l1, 5_000); !errors.Is(err, loans.ErrLineChanged) {
		t.Fatalf("application on the line before a repayment: %v, want ErrLineChanged", err)
	}
	if _, err := create("a3", l2, 5_000); err != nil {
		t.Fatalf("application on the line after the repayment: %v", err)
	}

	// A stored key replays whatever line comes with the retry.
	again, err := create("a1", l0, 5_000)
	if err != nil || again.ID != first.ID || !again.CreatedAt.Equal(first.CreatedAt) {
		t.Fatalf("replay with a stale line: %+v, %v; want application %d", again, err, first.ID)
	}

	// No line at all.
	_, err = s.CreateApplication(ctx, loans.Cmd{MerchantID: "m9", IdempotencyKey: "n1", Line: &loans.CreditLine{MerchantID: "m9"}},
		loans.Application{MerchantID: "m9", AmountMinor: 1_000, Decision: loans.DecisionDeclined, Reasons: []string{"no_credit_line"}})
	if !errors.Is(err, loans.ErrLineChanged) {
		t.Fatalf("application against a line that does not exist: %v, want ErrLineChanged", err)
	}
	mustReconcile(t, s)
}

// approvedApp is an approved 12-month application of amount at 24%.
func approvedApp(amount int64) loans.Application {
	apr, _ := loans.ParseRate("apr", "0.24")
	return loans.Application{Currency: "EUR", AmountMinor: amount, TermPeriods: 12, Decision: loans.DecisionApproved,
		Reasons: []string{}, ModelID: "m1", Grade: "B", Offer: &loans.Offer{AmountMinor: amount, APR: apr, TermPeriods: 12}}
}

func mustLine(t testing.TB, s loans.Store, merchant string) loans.CreditLine {
	t.Helper()
	l, err := s.CreditLine(ctx, merchant)
	if err != nil {
		t.Fatal(err)
	}
	return l
}
