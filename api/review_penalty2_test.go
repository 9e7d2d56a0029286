package api_test

// Review (helper-43) of the change that charges penalty interest to the
// oldest overdue installment: the schedule and repayment responses, through
// the API (every response validated against openapi.yaml).

import (
	"context"
	"fmt"
	"testing"

	"github.com/lendhq/lend/loans"
)

// TestReviewPenalty2ScheduleShowsPenaltyAndItsPaymentCures: 3,000.00 over 3
// months at 18% (TestEndToEnd's loan: installment 1 = 4,500 interest +
// 98,515 principal). Unpaid, close of business through 5 days after its due
// date charges penalty at 12% a year on 98,515 for those 5 days:
// 5 × 98,515 × 0.12 / 365 = 59,109 / 365 = 161.94 → 162, all on
// installment 1. GET schedule shows penalty_minor 162 on installment 1 (and
// validates against openapi.yaml); paying what it shows unpaid, 98,515 +
// 4,500 + 162 = 103,177, the next day allocates 162 to penalty and cures
// the loan: DPD 0 in the response and after close of business, the line
// active again, penalty_paid_minor 162 on the installment.
func TestReviewPenalty2ScheduleShowsPenaltyAndItsPaymentCures(t *testing.T) {
	e := newLoansEnv(t)
	ctx := context.Background()
	var app appResp
	e.mustCall(201, "POST", "/v1/applications", e.merchA, map[string]any{"amount_minor": 300_000, "term_months": 3}, "app", &app)
	var loan loans.Loan
	e.mustCall(201, "POST", fmt.Sprintf("/v1/applications/%d/accept", app.ID), e.merchA, nil, "accept", &loan)
	loanPath := fmt.Sprintf("/v1/loans/%d", loan.ID)
	var sched struct {
		Installments []loans.Installment `json:"installments"`
	}
	e.mustCall(200, "GET", loanPath+"/schedule", e.merchA, nil, "", &sched)
	due1, err := loans.ParseDate("due_date", sched.Installments[0].DueDateText)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.loans.CloseOfBusiness(ctx, due1.AddDate(0, 0, 5), nil); err != nil {
		t.Fatal(err)
	}
	e.mustCall(200, "GET", loanPath+"/schedule", e.merchA, nil, "", &sched)
	in := sched.Installments[0]
	if in.PenaltyMinor != 162 || in.UnpaidMinor() != 103_177 {
		t.Fatalf("installment 1 five days late: %+v (unpaid %d), want penalty 162, unpaid 103,177", in, in.UnpaidMinor())
	}
	var rep loans.Repayment
	e.mustCall(201, "POST", loanPath+"/repayments", e.merchA, map[string]any{"amount_minor": 103_177,
		"value_date": due1.AddDate(0, 0, 6).Format(loans.DateLayout)}, "cure", &rep)
	if rep.Allocation.PenaltyMinor != 162 || rep.Allocation.OverdueInterestMinor != 4_500 || rep.Allocation.OverduePrincipalMinor != 98_515 || rep.After.DPD != 0 {
		t.Fatalf("repayment %+v, want penalty 162, interest 4,500, principal 98,515, DPD 0", rep)
	}
	if _, err := e.loans.CloseOfBusiness(ctx, due1.AddDate(0, 0, 6), nil); err != nil {
		t.Fatal(err)
	}
	e.mustCall(200, "GET", loanPath, e.merchA, nil, "", &loan)
	var line loans.CreditLine
	e.mustCall(200, "GET", "/v1/merchants/m_A/credit-line", e.merchA, nil, "", &line)
	e.mustCall(200, "GET", loanPath+"/schedule", e.merchA, nil, "", &sched)
	if loan.DPD != 0 || loan.PenaltyReceivableMinor != 0 || line.Status != loans.LineActive || sched.Installments[0].PenaltyPaidMinor != 162 {
		t.Fatalf("after the cure: DPD %d penalty %d line %s installment 1 %+v; want 0, 0, active, penalty paid 162",
			loan.DPD, loan.PenaltyReceivableMinor, line.Status, sched.Installments[0])
	}
}
