package sqlite

import (
	"testing"
)

// A payoff quote that panics inside its read snapshot (parseDate panics on
// a corrupt date; net/http recovers a handler's panic and the service goes
// on) must not put its connection back in the pool inside the open
// transaction: that connection would then refuse every later snapshot
// ("cannot start a transaction within a transaction") and serve every other
// read from the stale snapshot, which also pins the WAL.
//
// Loan 1's disbursement date is corrupted, loan 2 is sound: after quoting
// loan 1 (a panic), quoting loan 2 must work. 1,000.00 at 12%/year over 1
// month from 2024-01-15, quoted on the disbursement day: principal 100,000
// minor, no interest yet.
func TestPayoffQuotePanicLeavesNoConnectionInTransaction(t *testing.T) {
	s, ids := monthLoans(t, "m1", "m2")
	if _, err := s.db.Exec(`UPDATE loans SET disbursed_on = 'not a date' WHERE id = ?`, ids[0]); err != nil {
		t.Fatal(err)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("quoting a loan with a corrupt date did not panic (the test's premise)")
			}
		}()
		_, _ = s.PayoffQuote(ctx, ids[0], day("2024-01-15"))
	}()
	for i := 0; i < MaxReadConns+1; i++ { // whichever pooled connection comes next
		q, err := s.PayoffQuote(ctx, ids[1], day("2024-01-15"))
		if err != nil {
			t.Fatalf("quote %d of the sound loan after a panicked quote: %v", i, err)
		}
		if q.PrincipalMinor != 100_000 || q.InterestMinor != 0 {
			t.Fatalf("quote of the sound loan: %+v, want principal 100000, interest 0", q)
		}
	}
}
