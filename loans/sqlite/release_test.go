package sqlite

import (
	"testing"

	"github.com/lendhq/lend"
	"github.com/lendhq/lend/loans"
)

// TestReleaseFailureLeavesNothingWritten: when a command ran but ending its
// savepoint fails, the caller is told EINTERNAL, so nothing of the command
// may be committed with its group: a merchant told a repayment failed, who
// pays again under a new key, would otherwise have paid twice. Before, the
// writes stayed inside the open savepoint and the group's COMMIT kept them.
//
// Loan: 1,000.00 at 12% over 1 month from 2024-01-15. A 300.00 repayment on
// the disbursement day (no interest earned yet: all principal) whose RELEASE
// fails leaves 1,000.00 outstanding and no repayment; the retry with the
// same key then runs once: 700.00 outstanding, one repayment.
func TestReleaseFailureLeavesNothingWritten(t *testing.T) {
	s, ids := monthLoans(t, "m1")
	l := loans.Loan{ID: ids[0]}
	pay := func() (loans.Repayment, error) {
		return s.Repay(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "pay"}, loans.RepayRequest{LoanID: l.ID, AmountMinor: 30_000})
	}
	releaseFaults.Store(1)
	defer releaseFaults.Store(0)
	if _, err := pay(); lend.ErrorCode(err) != lend.EINTERNAL {
		t.Fatalf("repayment whose RELEASE failed: %v, want EINTERNAL", err)
	}
	got, err := s.Loan(ctx, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	rps, err := s.Repayments(ctx, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.PrincipalOutstandingMinor != 100_000 || len(rps) != 0 {
		t.Fatalf("after a failed repayment: outstanding %d, %d repayments; want 100,000 and none", got.PrincipalOutstandingMinor, len(rps))
	}
	rp, err := pay()
	if err != nil {
		t.Fatal(err)
	}
	if rp.After.PrincipalOutstandingMinor != 70_000 {
		t.Fatalf("retry: outstanding %d, want 70,000", rp.After.PrincipalOutstandingMinor)
	}
	if rps, _ = s.Repayments(ctx, l.ID); len(rps) != 1 {
		t.Fatalf("%d repayments after the retry, want 1", len(rps))
	}
	mustReconcile(t, s)
}
