package loans

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// fuzzApp builds an application from fuzz input: every string field from s
// (so escapes, HTML characters, non-ASCII and invalid UTF-8 occur), the
// numbers from n, and optional parts from flags.
func fuzzApp(s string, n int64, flags uint8, sec int64, nsec int64) Application {
	app := Application{ID: n, MerchantID: s, Currency: "EUR", AmountMinor: n * 7, Product: ProductKind(s), TermPeriods: int(n % 61),
		Method: Annuity, Frequency: Monthly, DayCount: DayCount(s), Decision: DecisionApproved, ModelID: s, Grade: "B",
		Status: s, CreatedAt: time.Unix(sec, nsec).UTC()}
	if flags&1 != 0 {
		app.Reasons = []string{s, "amount_above_available"}
	} else if flags&2 != 0 {
		app.Reasons = []string{}
	}
	if flags&4 != 0 {
		app.Offer = &Offer{AmountMinor: -n, APR: Rate(n % 10_000_000), TermPeriods: int(n % 7), InstallmentMinor: n / 3,
			TotalInterestMinor: n / 5, ExpiresAt: time.Unix(sec/2, nsec).In(time.FixedZone("", int(n%50_000)))}
	}
	if flags&8 != 0 {
		app.EveryDays = int(n % 400)
	}
	if flags&16 != 0 {
		app.LoanID = n / 11
	}
	return app
}

// FuzzApplicationJSON: MarshalApplication is json.Marshal byte for byte,
// and the fast path is taken for the plain values a decision holds.
func FuzzApplicationJSON(f *testing.F) {
	f.Add("m_1", int64(500000), uint8(0b10110), int64(1_767_225_600), int64(123456789))
	f.Add("a<b>&\"c\\", int64(-1), uint8(0xff), int64(-62_135_596_800), int64(0))
	f.Add("caf\xc3\xa9\xff\u2028\n", int64(1<<62), uint8(5), int64(253_402_300_800), int64(1))
	f.Fuzz(func(t *testing.T, s string, n int64, flags uint8, sec, nsec int64) {
		app := fuzzApp(s, n, flags, sec, nsec)
		want, werr := json.Marshal(&app)
		got, gerr := MarshalApplication(&app)
		if (werr != nil) != (gerr != nil) || !bytes.Equal(got, want) {
			t.Fatalf("MarshalApplication:\n got %s (%v)\nwant %s (%v)", got, gerr, want, werr)
		}
		if _, ok := AppendApplicationFields(nil, &app); ok != (plain(s) && werr == nil) {
			t.Fatalf("fast path taken: %v for %q (encoding error %v)", ok, s, werr)
		}
	})
}

// FuzzInstallmentsJSON: AppendInstallmentsJSON is encoding/json's array.
func FuzzInstallmentsJSON(f *testing.F) {
	f.Add("2026-01-31", int64(45_840), 3)
	f.Add("<&>\"", int64(-7), 0)
	f.Add("", int64(0), -1)
	f.Fuzz(func(t *testing.T, due string, n int64, count int) {
		var s []Installment
		if count >= 0 {
			s = []Installment{}
		}
		for i := range count % 30 {
			s = append(s, Installment{Seq: i + 1, DueDate: time.Unix(n, 0), DueDateText: due, PrincipalMinor: n + int64(i),
				InterestMinor: -n, PrincipalPaidMinor: n / 2, InterestPaidMinor: n / 3, Accrued: i%2 == 0, BalanceAfterMinor: n * int64(i), CarriedInterestMinor: int64(i%3) * n})
		}
		want, _ := json.Marshal(s)
		got, ok := AppendInstallmentsJSON([]byte("x"), s)
		if ok != (plain(due) || len(s) == 0) {
			t.Fatalf("fast path taken: %v for %q", ok, due)
		}
		if ok && !bytes.Equal(got[1:], want) {
			t.Fatalf("AppendInstallmentsJSON:\n got %s\nwant %s", got[1:], want)
		}
	})
}

// TestDecisionJSONGolden pins the encoding of a typical decision (approved,
// with an offer and a 12-month preview) to the bytes encoding/json wrote
// before the fast path existed.
func TestDecisionJSONGolden(t *testing.T) {
	start := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	app := Application{ID: 42, MerchantID: "m_1", Currency: "USD", AmountMinor: 500_000, Product: ProductTerm, TermPeriods: 12,
		Method: Annuity, Frequency: Monthly, DayCount: DayCount30360, Decision: DecisionApproved, Reasons: []string{},
		ModelID: "bench", Grade: "B", Offer: &Offer{AmountMinor: 500_000, APR: 180_000, TermPeriods: 12, InstallmentMinor: 45_840,
			TotalInterestMinor: 50_080, ExpiresAt: start.AddDate(0, 0, 4)}, Status: AppOpen,
		CreatedAt: time.Date(2026, 11, 25, 1, 2, 3, 456789000, time.UTC)}
	got, err := MarshalApplication(&app)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"id":42,"merchant_id":"m_1","currency":"USD","amount_minor":500000,"product":"term","term_periods":12,"method":"annuity","frequency":"monthly","day_count":"30/360","decision":"approved","reasons":[],"model_id":"bench","grade":"B","offer":{"amount_minor":500000,"apr":"0.1800","term_periods":12,"installment_minor":45840,"total_interest_minor":50080,"expires_at":"2026-11-29T00:00:00Z"},"status":"open","created_at":"2026-11-25T01:02:03.456789Z"}`
	if std, _ := json.Marshal(app); string(got) != want || string(std) != want {
		t.Fatalf("got  %s\nwant %s\nencoding/json %s", got, want, std)
	}
	sched, err := BuildSchedule(Terms{PrincipalMinor: 500_000, Rate: 180_000, Periods: 2, Start: start})
	if err != nil {
		t.Fatal(err)
	}
	inst, _ := AppendInstallmentsJSON(nil, sched)
	const wantInst = `[{"seq":1,"due_date":"2026-12-25","principal_minor":248139,"interest_minor":7500,"principal_paid_minor":0,"interest_paid_minor":0,"balance_after_minor":251861},{"seq":2,"due_date":"2027-01-25","principal_minor":251861,"interest_minor":3778,"principal_paid_minor":0,"interest_paid_minor":0,"balance_after_minor":0}]`
	if std, _ := json.Marshal(sched); string(inst) != wantInst || string(std) != wantInst {
		t.Fatalf("got  %s\nwant %s\nencoding/json %s", inst, wantInst, std)
	}
}
