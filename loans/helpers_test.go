package loans

import "github.com/lendhq/lend"

func fieldOf(err error) string { return lend.ErrorField(err) }

// chargePenalty adds penalty x to s as close of business does on day d: to
// the loan's receivable and to the oldest installment overdue on d (for a
// test's free-standing penalty with none overdue, the oldest unpaid one,
// else the last: migration 0006's rule).
func chargePenalty(s *State, x int64, d Date) {
	if x == 0 || len(s.Installments) == 0 {
		return
	}
	_, i := s.overdue(d)
	if i < 0 {
		i = len(s.Installments) - 1
		for j, in := range s.Installments {
			if !in.Paid() {
				i = j
				break
			}
		}
	}
	s.Installments[i].PenaltyMinor += x
	s.Loan.PenaltyReceivableMinor += x
}
