package storetest

import (
	"testing"

	"github.com/lendhq/lend"
	"github.com/lendhq/lend/loans"
)

func init() {
	register("BadInput", testBadInput)
	register("ConcurrentDrawsNeverExceedLine", testConcurrentDrawsNeverExceedLine)
}

// testBadInput: each bad command is a typed error naming the problem, and
// nothing is written.
func testBadInput(t *testing.T, open Opener) {
	s := openAt(t, open, "2024-01-10")
	line(t, s, "m1", 100_000, "0.12")
	line(t, s, "m2", 100_000, "0.12")
	l := termLoan(t, s, "m1", 50_000, "0.12", 3, "2024-01-10")
	k := 0
	cmd := func(m string) loans.Cmd {
		k++
		return loans.Cmd{MerchantID: m, IdempotencyKey: "bad" + string(rune('a'+k))}
	}
	cases := []struct {
		name, code, field string
		run               func() error
	}{
		{"zero repayment", lend.EINVALID, "amount_minor", func() error {
			_, err := s.Repay(ctx, cmd("m1"), loans.RepayRequest{LoanID: l.ID, AmountMinor: 0})
			return err
		}},
		{"negative repayment", lend.EINVALID, "amount_minor", func() error {
			_, err := s.Repay(ctx, cmd("m1"), loans.RepayRequest{LoanID: l.ID, AmountMinor: -100})
			return err
		}},
		{"unknown loan", lend.ENOTFOUND, "", func() error {
			_, err := s.Repay(ctx, cmd("m1"), loans.RepayRequest{LoanID: 4242, AmountMinor: 100})
			return err
		}},
		{"another merchant's loan", lend.ENOTFOUND, "", func() error {
			_, err := s.Repay(ctx, cmd("m2"), loans.RepayRequest{LoanID: l.ID, AmountMinor: 100})
			return err
		}},
		{"wrong currency", lend.EINVALID, "currency", func() error {
			_, err := s.Repay(ctx, cmd("m1"), loans.RepayRequest{LoanID: l.ID, AmountMinor: 100, Currency: "USD"})
			return err
		}},
		{"date before disbursement", lend.EINVALID, "value_date", func() error {
			_, err := s.Repay(ctx, cmd("m1"), loans.RepayRequest{LoanID: l.ID, AmountMinor: 100, ValueDate: "2024-01-09"})
			return err
		}},
		{"malformed date", lend.EINVALID, "value_date", func() error {
			_, err := s.Repay(ctx, cmd("m1"), loans.RepayRequest{LoanID: l.ID, AmountMinor: 100, ValueDate: "10/01/2024"})
			return err
		}},
		{"draw above available", lend.EINSUFFICIENT, "amount_minor", func() error {
			_, err := s.Draw(ctx, cmd("m1"), loans.DrawRequest{AmountMinor: 50_001, Currency: "EUR"})
			return err
		}},
		{"zero draw", lend.EINVALID, "amount_minor", func() error {
			_, err := s.Draw(ctx, cmd("m1"), loans.DrawRequest{AmountMinor: 0})
			return err
		}},
		{"draw in wrong currency", lend.EINVALID, "currency", func() error {
			_, err := s.Draw(ctx, cmd("m1"), loans.DrawRequest{AmountMinor: 10, Currency: "GBP"})
			return err
		}},
		{"draw without a line", lend.ENOTFOUND, "", func() error {
			_, err := s.Draw(ctx, cmd("nobody"), loans.DrawRequest{AmountMinor: 10})
			return err
		}},
		{"overpayment beyond payoff", lend.EUNPROCESSABLE, "amount_minor", func() error {
			_, err := s.Repay(ctx, cmd("m1"), loans.RepayRequest{LoanID: l.ID, AmountMinor: 10_000_000})
			return err
		}},
		{"missing idempotency key", lend.EINVALID, "idempotency_key", func() error {
			_, err := s.Repay(ctx, loans.Cmd{MerchantID: "m1"}, loans.RepayRequest{LoanID: l.ID, AmountMinor: 100})
			return err
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := snapshot(t, s)
			err := c.run()
			if lend.ErrorCode(err) != c.code || lend.ErrorField(err) != c.field {
				t.Fatalf("error %v: code %q field %q, want %q %q", err, lend.ErrorCode(err), lend.ErrorField(err), c.code, c.field)
			}
			if after := snapshot(t, s); after != before {
				t.Fatalf("state changed:\n%s\n%s", before, after)
			}
		})
	}
	mustReconcile(t, s)
}

// testConcurrentDrawsNeverExceedLine: 20 concurrent draws of 30% of a line;
// at most 3 succeed and drawn never exceeds the limit.
func testConcurrentDrawsNeverExceedLine(t *testing.T, open Opener) {
	s := openAt(t, open, "2024-01-10")
	line(t, s, "m1", 100_000, "0.12")
	errs := make(chan error, 20)
	for i := 0; i < 20; i++ {
		go func(i int) {
			_, err := s.Draw(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "d" + string(rune('a'+i))}, loans.DrawRequest{AmountMinor: 30_000})
			errs <- err
		}(i)
	}
	ok := 0
	for i := 0; i < 20; i++ {
		err := <-errs
		switch lend.ErrorCode(err) {
		case "":
			ok++
		case lend.EINSUFFICIENT:
		default:
			t.Fatalf("draw: %v", err)
		}
	}
	cl, _ := s.CreditLine(ctx, "m1")
	if ok != 3 || cl.DrawnMinor != 90_000 {
		t.Fatalf("%d draws succeeded, drawn %d", ok, cl.DrawnMinor)
	}
	mustReconcile(t, s)
}
