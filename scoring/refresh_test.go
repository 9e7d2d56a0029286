package scoring

import "testing"

func TestRefreshLine(t *testing.T) {
	eligible := func(limit int64) *Assessment {
		return &Assessment{MerchantID: "m", Eligible: true, Line: &LineAssessment{LimitMinor: limit}}
	}
	declined := &Assessment{MerchantID: "m"}
	line := func(limit, drawn int64, status string) *LineState {
		return &LineState{LimitMinor: limit, DrawnMinor: drawn, Status: status}
	}
	for _, c := range []struct {
		name       string
		prev       *LineState
		a          *Assessment
		delinquent bool
		want       *LineState
		change     string
	}{
		{"new line", nil, eligible(500000), false, line(500000, 0, LineActive), ChangeNew},
		{"no line, declined", nil, declined, false, nil, ChangeDeclined},
		{"raised", line(300000, 100000, LineActive), eligible(500000), false, line(500000, 100000, LineActive), ChangeRaised},
		{"lowered", line(500000, 100000, LineActive), eligible(300000), false, line(300000, 100000, LineActive), ChangeLowered},
		{"lowered but not below drawn", line(500000, 400000, LineActive), eligible(300000), false, line(400000, 400000, LineActive), ChangeLowered},
		{"unchanged", line(500000, 0, LineActive), eligible(500000), false, line(500000, 0, LineActive), ChangeUnchanged},
		{"frozen stays frozen", line(500000, 200000, LineFrozen), eligible(900000), false, line(500000, 200000, LineFrozen), ChangeFrozen},
		{"frozen even when declined", line(500000, 200000, LineFrozen), declined, false, line(500000, 200000, LineFrozen), ChangeFrozen},
		{"delinquent freezes", line(500000, 200000, LineActive), declined, true, line(500000, 200000, LineFrozen), ChangeFrozen},
		{"declined cuts to drawn", line(500000, 120000, LineActive), declined, false, line(120000, 120000, LineDeclined), ChangeDeclined},
		{"declined with nothing drawn", line(500000, 0, LineActive), declined, false, line(0, 0, LineDeclined), ChangeDeclined},
		{"declined never raises", line(100000, 300000, LineActive), declined, false, line(100000, 300000, LineDeclined), ChangeDeclined},
		{"reinstated", line(0, 0, LineDeclined), eligible(200000), false, line(200000, 0, LineActive), ChangeRaised},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, change, err := RefreshLine(c.prev, c.a, c.delinquent)
			if err != nil {
				t.Fatal(err)
			}
			if change != c.change || (got == nil) != (c.want == nil) || (got != nil && *got != *c.want) {
				t.Fatalf("got %+v %s, want %+v %s", got, change, c.want, c.change)
			}
			// idempotent: refreshing the new line with the same assessment changes nothing
			if got != nil && got.Status == LineActive {
				again, ch2, _ := RefreshLine(got, c.a, c.delinquent)
				if *again != *got || ch2 != ChangeUnchanged {
					t.Fatalf("second refresh %+v %s", again, ch2)
				}
			}
		})
	}
}

func TestRefreshLineBadInput(t *testing.T) {
	a := &Assessment{MerchantID: "m"}
	for _, prev := range []*LineState{{LimitMinor: -1, Status: LineActive}, {DrawnMinor: -5, Status: LineActive}, {Status: "closed"}} {
		if _, _, err := RefreshLine(prev, a, false); err == nil {
			t.Errorf("%+v accepted", prev)
		}
	}
	if _, _, err := RefreshLine(nil, nil, false); err == nil {
		t.Error("nil assessment accepted")
	}
}

// TestRefreshFromEngine: the assessments of golden_cases.md drive the rule
// (m1 line 1,740,000 on term_loan; m4 declined).
func TestRefreshFromEngine(t *testing.T) {
	e := goldenEngine(t)
	apps := goldenApplications()
	a1, err := e.Assess(&apps["m1"].Merchant, ProductTermLoan)
	if err != nil {
		t.Fatal(err)
	}
	got, ch, err := RefreshLine(&LineState{LimitMinor: 2000000, DrawnMinor: 1900000, Status: LineActive}, a1, false)
	if err != nil || ch != ChangeLowered || got.LimitMinor != 1900000 {
		t.Fatalf("m1: %+v %s %v (want lowered to the drawn 1900000, not the assessed 1740000)", got, ch, err)
	}
	a4, _ := e.Assess(&apps["m4"].Merchant, ProductTermLoan)
	got, ch, _ = RefreshLine(&LineState{LimitMinor: 500000, DrawnMinor: 0, Status: LineActive}, a4, false)
	if ch != ChangeDeclined || got.LimitMinor != 0 {
		t.Fatalf("m4: %+v %s", got, ch)
	}
}
