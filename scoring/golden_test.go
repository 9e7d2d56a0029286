package scoring

import (
	"bytes"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

func loadGolden(t testing.TB) *Model {
	t.Helper()
	m, err := LoadFile(filepath.Join("testdata", "golden_model.json"))
	if err != nil {
		t.Fatalf("golden model: %v", err)
	}
	return m
}

func goldenEngine(t testing.TB) *Engine {
	t.Helper()
	e, err := NewEngine(loadGolden(t), nil)
	if err != nil {
		t.Fatalf("engine: %v", err)
	}
	return e
}

func feats(num map[string]float64, cat string) *Features {
	f := &Features{Num: num, Str: map[string]string{}}
	if cat != "\x00" {
		f.Str["category"] = cat
	}
	return f
}

// The feature rows of testdata/golden_cases.md.
func m1() *Features {
	return feats(map[string]float64{"refund_rate_90d": 0.01, "sales_trend_12m": 0.10, "tenure_days": 400,
		"sales_amount_90d": 29999, "days_since_last_sale": 2, "chargeback_count_180d": 0}, "food")
}

func goldenApplications() map[string]*Application {
	m5 := m1()
	m5.Num["days_since_last_sale"] = 45
	return map[string]*Application{
		"m1": {Merchant: Merchant{ID: "m1", Features: m1()}, AmountMinor: 1000000, TermMonths: 12, Product: ProductTermLoan},
		"m2": {Merchant: Merchant{ID: "m2", ExposureMinor: 300000, Features: feats(map[string]float64{"refund_rate_90d": 0.03, "sales_trend_12m": 0.0,
			"tenure_days": 200, "sales_amount_90d": 59999, "days_since_last_sale": 3, "chargeback_count_180d": 1}, "retail")},
			AmountMinor: 1500000, TermMonths: 12, Product: ProductTermLoan},
		"m3": {Merchant: Merchant{ID: "m3", Features: feats(map[string]float64{"refund_rate_90d": 0.01,
			"tenure_days": 200, "sales_amount_90d": 150000, "days_since_last_sale": 1, "chargeback_count_180d": 0}, "pets")},
			AmountMinor: 500000, TermMonths: 6, Product: ProductCreditLine},
		"m4": {Merchant: Merchant{ID: "m4", Features: feats(map[string]float64{"refund_rate_90d": 0.15, "sales_trend_12m": -0.30,
			"tenure_days": 60, "sales_amount_90d": 9000, "days_since_last_sale": 10, "chargeback_count_180d": 5}, "travel")},
			AmountMinor: 100000, TermMonths: 6, Product: ProductTermLoan},
		"m5": {Merchant: Merchant{ID: "m5", Delinquent: true, Features: m5}, AmountMinor: 100000, TermMonths: 6, Product: ProductTermLoan},
		"m7": {Merchant: Merchant{ID: "m7", ExposureMinor: 150000, Features: feats(map[string]float64{"refund_rate_90d": 0.02, "sales_trend_12m": -0.05,
			"tenure_days": 365, "sales_amount_90d": 45000.5, "days_since_last_sale": 0, "chargeback_count_180d": 0}, "retail")},
			AmountMinor: 2000000, TermMonths: 12, Product: ProductCreditLine},
		"m8": {Merchant: Merchant{ID: "m8", ExposureMinor: 2000000, Features: m1()}, AmountMinor: 100000, TermMonths: 12, Product: ProductTermLoan},
		"m9": {Merchant: Merchant{ID: "m9", Features: m1()}, AmountMinor: 40000, TermMonths: 12, Product: ProductTermLoan},
	}
}

type wantDecision struct {
	score            int
	pd, grade        string
	outcome          string
	offered          int64
	policy           []string // policy reason codes
	scoreReasons     []string // code(points lost)
	monthly          int64
	source           string
	limit, el, avail int64
	bound            string
	apr              string
	clamped          bool
}

// TestGoldenDecisions checks every figure of testdata/golden_cases.md.
func TestGoldenDecisions(t *testing.T) {
	e := goldenEngine(t)
	want := map[string]wantDecision{
		"m1": {score: 235, pd: "0.003173", grade: "A", outcome: Approved, offered: 1000000, policy: []string{ReasonApproved},
			monthly: 1161800, source: CapacityFromModel, limit: 1740000, el: 4417, avail: 1740000, bound: BoundSalesMultiple, apr: "0.0926"},
		"m2": {score: 180, pd: "0.047426", grade: "C", outcome: CounterOffer, offered: 1200000, policy: []string{ReasonCounterOffer},
			scoreReasons: []string{"R03(25)", "R01(15)", "R02(15)"},
			monthly:      2210308, source: CapacityFromModel, limit: 1500000, el: 56912, avail: 1200000, bound: BoundGradeCap, apr: "0.1280"},
		"m3": {score: 165, pd: "0.095349", grade: "D", outcome: Approved, offered: 500000, policy: []string{ReasonApproved},
			scoreReasons: []string{"R02-MISSING(25)", "R03(25)", "R04(20)"},
			monthly:      5000000, source: CapacityFromObserved, limit: 910000, el: 69415, avail: 910000, bound: BoundELBudget, apr: "0.1500", clamped: true},
		"m4": {score: 80, pd: "0.880797", grade: "E", outcome: Declined,
			policy:       []string{ReasonTenureTooShort, ReasonRefundRateHigh, ReasonChargebacks, ReasonPDAboveCutoff},
			scoreReasons: []string{"R03(45)", "R01(40)", "R02(40)", "R04(30)"}},
		"m5": {score: 235, pd: "0.003173", grade: "A", outcome: Declined, policy: []string{ReasonDelinquent, ReasonDormant}},
		"m7": {score: 205, pd: "0.014064", grade: "B", outcome: CounterOffer, offered: 1050000, policy: []string{ReasonCounterOffer},
			scoreReasons: []string{"R01(15)", "R02(15)"},
			monthly:      1616846, source: CapacityFromModel, limit: 1200000, el: 13502, avail: 1050000, bound: BoundProductCap, apr: "0.1013"},
		"m8": {score: 235, pd: "0.003173", grade: "A", outcome: Declined, policy: []string{ReasonNoAvailableCredit},
			monthly: 1161800, source: CapacityFromModel, limit: 1740000, el: 4417, avail: 0, bound: BoundSalesMultiple, apr: "0.0926"},
		"m9": {score: 235, pd: "0.003173", grade: "A", outcome: Declined, policy: []string{ReasonAmountBelowMinimum},
			monthly: 1161800, source: CapacityFromModel, limit: 1740000, el: 4417, avail: 1740000, bound: BoundSalesMultiple, apr: "0.0926"},
	}
	apps := goldenApplications()
	for name, w := range want {
		t.Run(name, func(t *testing.T) {
			d, err := e.Decide(apps[name])
			if err != nil {
				t.Fatal(err)
			}
			if d.Score != w.score || d.PD != w.pd || d.Grade != w.grade {
				t.Errorf("score/pd/grade = %d/%s/%s, want %d/%s/%s", d.Score, d.PD, d.Grade, w.score, w.pd, w.grade)
			}
			if d.Outcome != w.outcome || d.OfferedMinor != w.offered {
				t.Errorf("outcome %s %d, want %s %d", d.Outcome, d.OfferedMinor, w.outcome, w.offered)
			}
			if got := codes(d.Reasons); !equal(got, w.policy) {
				t.Errorf("policy reasons %v, want %v", got, w.policy)
			}
			if got := lostCodes(d.ScoreReasons); !equal(got, w.scoreReasons) {
				t.Errorf("score reasons %v, want %v", got, w.scoreReasons)
			}
			if d.ModelID == "" || d.ModelID != e.ModelID() {
				t.Errorf("model id %q", d.ModelID)
			}
			if w.limit == 0 {
				if d.Line != nil || d.Pricing != nil {
					t.Errorf("declined on policy but has line %+v pricing %+v", d.Line, d.Pricing)
				}
				return
			}
			l := d.Line
			if l.MonthlySalesMinor != w.monthly || l.CapacitySource != w.source || l.LimitMinor != w.limit ||
				l.ExpectedLossMinor != w.el || l.AvailableMinor != w.avail || l.BoundBy != w.bound {
				t.Errorf("line %+v, want monthly %d (%s) limit %d el %d avail %d bound %s", *l, w.monthly, w.source, w.limit, w.el, w.avail, w.bound)
			}
			if d.Pricing.APR != w.apr || d.Pricing.Clamped != w.clamped {
				t.Errorf("pricing %+v, want apr %s clamped %v", *d.Pricing, w.apr, w.clamped)
			}
		})
	}
}

// TestGoldenPricingComponents checks the explanation strings of m2 and m3.
func TestGoldenPricingComponents(t *testing.T) {
	e := goldenEngine(t)
	apps := goldenApplications()
	for _, c := range []struct {
		name string
		want Pricing
	}{
		{"m2", Pricing{FundingCostAnnual: "0.0500", ExpectedLossAnnual: "0.0379408", OperatingMarginAnnual: "0.0400",
			RiskBasedAPR: "0.1279408", MaxAPR: "0.1500", APR: "0.1280"}},
		{"m3", Pricing{FundingCostAnnual: "0.0500", ExpectedLossAnnual: "0.0762792", OperatingMarginAnnual: "0.0400",
			RiskBasedAPR: "0.1662792", MaxAPR: "0.1500", APR: "0.1500", Clamped: true}},
	} {
		d, err := e.Decide(apps[c.name])
		if err != nil {
			t.Fatal(err)
		}
		if *d.Pricing != c.want {
			t.Errorf("%s pricing %+v, want %+v", c.name, *d.Pricing, c.want)
		}
	}
}

// TestGoldenScores checks the scoring-only rows (special, NULL, absent).
func TestGoldenScores(t *testing.T) {
	s, err := Compile(loadGolden(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		f       *Features
		points  []int
		score   int
		pd      float64
		grade   string
		reasons []string
		absent  []bool
	}{
		{"s6", feats(map[string]float64{"refund_rate_90d": math.NaN(), "sales_trend_12m": 0.07, "tenure_days": -9}, ""),
			[]int{10, 55, 20, 30}, 115, 0.5621765009, "E", []string{"R01(50)", "R03(50)", "R04(20)"}, []bool{false, false, false, false}},
		{"s0", &Features{}, []int{10, 30, 25, 30}, 95, 0.7772998611, "E",
			[]string{"R01-MISSING(50)", "R02-MISSING(25)", "R03-MISSING(45)", "R04-MISSING(20)"}, []bool{true, true, true, true}},
		{"m1", m1(), []int{60, 55, 70, 50}, 235, 0.0031726828, "A", nil, []bool{false, false, false, false}},
	} {
		r := s.NewResult()
		s.ScoreFeatures(c.f, r)
		if r.Score != c.score || math.Abs(r.PD-c.pd) > 1e-10 || r.Grade != c.grade || !equalInts(r.Points, c.points) || !equalBools(r.Absent, c.absent) {
			t.Errorf("%s: got score %d pd %.10f grade %s points %v absent %v", c.name, r.Score, r.PD, r.Grade, r.Points, r.Absent)
		}
		if got := lostCodes(s.TopReasons(r, MaxReasons, nil)); !equal(got, c.reasons) {
			t.Errorf("%s: reasons %v, want %v", c.name, got, c.reasons)
		}
	}
}

// TestMissingReasonSaysSo: the sentence of an absent variable says the data was missing.
func TestMissingReasonSaysSo(t *testing.T) {
	e := goldenEngine(t)
	d, err := e.Decide(goldenApplications()["m3"])
	if err != nil {
		t.Fatal(err)
	}
	r := d.ScoreReasons[0]
	if !r.Missing || r.Variable != "sales_trend_12m" || !bytes.Contains([]byte(r.Text), []byte("no sales trend 12m data")) {
		t.Fatalf("first reason %+v does not say sales_trend_12m was missing", r)
	}
}

// TestGoldenDecisionFile pins the whole decision JSON (regenerate with -update
// after checking the diff against golden_cases.md).
func TestGoldenDecisionFile(t *testing.T) {
	e := goldenEngine(t)
	apps := goldenApplications()
	var out bytes.Buffer
	for _, name := range []string{"m1", "m2", "m3", "m4", "m5", "m7", "m8", "m9"} {
		d, err := e.Decide(apps[name])
		if err != nil {
			t.Fatal(err)
		}
		d.ModelID = "golden" // the id is the content hash, which tracks the artifact struct
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		out.Write(b)
		out.WriteByte('\n')
	}
	path := filepath.Join("testdata", "decisions.golden.jsonl")
	if *update {
		if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Errorf("decisions differ from %s:\n%s", path, out.String())
	}
}

func codes(rs []Reason) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Code)
	}
	return out
}

func lostCodes(rs []Reason) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Code+"("+itoaTest(r.PointsLost)+")")
	}
	return out
}

func itoaTest(i int) string { b, _ := json.Marshal(i); return string(b) }

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func equalBools(a, b []bool) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
