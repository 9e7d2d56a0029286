package scoring

import (
	"encoding/json"
	"math"
	"testing"
)

// Review 45: defect hunt on scoring. Every expected value is worked out by
// hand from testdata/golden_model.json (see the comments).

// TestReview45ParseRefusesWhatCompileRefuses: `lend score` and `lend
// evaluate` read an artifact with LoadFile (Parse) and score it with
// NewScorer, which trusts it. So Parse must refuse every artifact Compile
// refuses, or an artifact without a calibration scores every row PD 0.5
// (1/(1+e^0): method "" falls to the logistic formula with a = b = 0), one
// with isotonic and no knots scores PD NaN, and one with b > 0 gives a PD
// that rises with the score, all with exit 0.
func TestReview45ParseRefusesWhatCompileRefuses(t *testing.T) {
	for _, c := range []struct {
		name string
		fn   func(m map[string]any)
		want string
	}{
		{"no calibration", func(m map[string]any) { delete(m, "calibration") }, "calibration"},
		{"isotonic without knots", func(m map[string]any) {
			m["calibration"] = map[string]any{"method": "isotonic", "a": 0, "b": 0}
		}, "knots"},
		{"logistic rising", func(m map[string]any) {
			m["calibration"] = map[string]any{"method": "logistic", "a": -6, "b": 0.05}
		}, "b < 0"},
		{"ranges leave a gap", func(m map[string]any) {
			v := m["variables"].([]any)[0].(map[string]any)
			b := v["bins"].([]any)[2].(map[string]any) // [0.02, 0.05) -> [0.03, 0.05)
			b["lower"] = 0.03
		}, "gap"},
		{"grades not ascending", func(m map[string]any) {
			m["grades"] = []any{map[string]any{"name": "A", "max_pd": 0.05}, map[string]any{"name": "B", "max_pd": 0.01},
				map[string]any{"name": "E", "max_pd": 1}}
		}, "max_pd"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var raw map[string]any
			if err := json.Unmarshal(goldenBytes(t), &raw); err != nil {
				t.Fatal(err)
			}
			c.fn(raw)
			b, err := json.Marshal(raw)
			if err != nil {
				t.Fatal(err)
			}
			m, err := Parse(b)
			if err == nil {
				// show what a caller of Parse + NewScorer (lend score) gets
				r := NewScorer(m).NewResult()
				NewScorer(m).Score([]float64{0.01, 0.1, 400, math.NaN()}, []string{"", "", "", "food"}, r)
				t.Fatalf("Parse accepted it; NewScorer then gives score %d PD %v grade %s", r.Score, r.PD, r.Grade)
			}
			wantInvalid(t, err, c.want)
		})
	}
}

// TestReview45GradeFollowsPolicyPD: the decision's pd is the policy PD (the
// calibrated PD rounded half-even to 6 decimals, docs/POLICY.md: "before any
// policy arithmetic"), and the grade picks the multiple and cap. With one
// isotonic knot every score has calibrated PD 0.0100004, so pd is "0.010000"
// = 1%, which is grade A (A <= 1%). The grade must agree with the pd shown:
// A, multiple 1.50 (not B, 1.20).
func TestReview45GradeFollowsPolicyPD(t *testing.T) {
	for _, c := range []struct {
		raw       float64
		pd, grade string
		multiple  string
	}{
		{0.0100004, "0.010000", "A", "1.50"}, // rounds down to 1%: A
		{0.0100005, "0.010000", "A", "1.50"}, // 10000.5 half-even -> 10000: A
		{0.0100006, "0.010001", "B", "1.20"}, // above 1%: B
		{0.0249996, "0.025000", "B", "1.20"}, // rounds up to 2.5%: still B (<= 0.025)
	} {
		m := loadGolden(t)
		m.Calibration = Calibration{Method: CalibrationIsotonic, Knots: []Knot{{Score: 0, PD: c.raw}}}
		e, err := NewEngine(m, nil)
		if err != nil {
			t.Fatal(err)
		}
		a, err := e.Assess(&Merchant{ID: "m1", Features: m1()}, ProductTermLoan)
		if err != nil {
			t.Fatal(err)
		}
		if a.PD != c.pd || a.Grade != c.grade {
			t.Errorf("calibrated PD %v: pd %s grade %s, want pd %s grade %s", c.raw, a.PD, a.Grade, c.pd, c.grade)
			continue
		}
		if a.Line == nil || a.Line.SalesMultiple != c.multiple {
			t.Errorf("calibrated PD %v: line %+v, want multiple %s", c.raw, a.Line, c.multiple)
		}
	}
}

// TestReview45HugePointsRefused: points are int; a (tampered or broken)
// artifact whose points add up past int64 wraps the score. Two variables at
// 2^62 points each sum to 2^63, which wraps to -2^63: the safest possible row
// would score as the riskiest (PD 1, grade E). Such an artifact must be
// refused at load with a message, not scored.
func TestReview45HugePointsRefused(t *testing.T) {
	m := loadGolden(t)
	for _, vi := range []int{0, 2} { // refund_rate_90d (worse higher) and tenure_days: flat points keep the monotone check happy
		for j := range m.Variables[vi].Bins {
			m.Variables[vi].Bins[j].Points = 1 << 62
		}
	}
	s, err := Compile(m)
	if err == nil {
		r := s.NewResult()
		s.ScoreFeatures(m1(), r)
		t.Fatalf("Compile accepted points of 2^62; m1 scores %d (PD %v, grade %s)", r.Score, r.PD, r.Grade)
	}
	wantInvalid(t, err, "points")
}

// TestReview45ReasonsTiesAndBest: reasons are the variables losing the most
// points against their best attribute, ties in model order, none for a
// variable at its best. Golden bins (points): refund_rate_90d best 60,
// sales_trend_12m best 55, tenure_days best 70, category best 50.
//
//	refund 0.03 -> 45 (lost 15); trend -0.05 -> [-0.05, 0.05) 40 (lost 15);
//	tenure 400 -> 70 (lost 0); category "travel" -> 20 (lost 30).
//
// Want R04(30), R01(15), R02(15): the tie R01/R02 in model order, no R03.
func TestReview45ReasonsTiesAndBest(t *testing.T) {
	s, err := Compile(loadGolden(t))
	if err != nil {
		t.Fatal(err)
	}
	r := s.NewResult()
	s.ScoreFeatures(&Features{Num: map[string]float64{"refund_rate_90d": 0.03, "sales_trend_12m": -0.05, "tenure_days": 400},
		Str: map[string]string{"category": "travel"}}, r)
	got := s.TopReasons(r, MaxReasons, nil)
	want := []struct {
		code string
		lost int
	}{{"R04", 30}, {"R01", 15}, {"R02", 15}}
	if len(got) != len(want) {
		t.Fatalf("reasons %+v, want %v", got, want)
	}
	for i, w := range want {
		if got[i].Code != w.code || got[i].PointsLost != w.lost {
			t.Fatalf("reason %d: %s(%d), want %s(%d); all %+v", i, got[i].Code, got[i].PointsLost, w.code, w.lost, got)
		}
	}
	// score: 45 + 40 + 70 + 20 = 175
	if r.Score != 175 {
		t.Fatalf("score %d, want 175", r.Score)
	}
	// n = 2 keeps the first two of the same order
	if two := s.TopReasons(r, 2, nil); len(two) != 2 || two[0].Code != "R04" || two[1].Code != "R01" {
		t.Fatalf("top 2: %+v, want R04 R01", two)
	}
}
