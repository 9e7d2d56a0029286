package scoring

import (
	"encoding/json"
	"math"
	"testing"
)

// TestScoreHotPathAllocatesNothing: every per-row scoring entry point and
// the reasons allocate nothing once the Result and reason buffer exist.
func TestScoreHotPathAllocatesNothing(t *testing.T) {
	s, err := Compile(loadGolden(t))
	if err != nil {
		t.Fatal(err)
	}
	r := s.NewResult()
	num := []float64{0.03, -0.2, 200, math.NaN()}
	str := []string{"", "", "", "travel"}
	f := m1()
	cols := []string{"category", "merchant_id", "refund_rate_90d", "tenure_days"} // no sales_trend_12m
	b := s.Bind(cols)
	rowNum := []float64{math.NaN(), math.NaN(), 0.01, 400}
	rowStr := []string{"food", "m1", "", ""}
	reasons := make([]Reason, 0, MaxReasons)
	for name, fn := range map[string]func(){
		"Score":         func() { s.Score(num, str, r) },
		"ScoreFeatures": func() { s.ScoreFeatures(f, r) },
		"ScoreRow":      func() { s.ScoreRow(b, rowNum, rowStr, r) },
		"TopReasons":    func() { reasons = s.TopReasons(r, MaxReasons, reasons[:0]) },
	} {
		if n := testing.AllocsPerRun(200, fn); n != 0 {
			t.Errorf("%s allocates %.1f times per call", name, n)
		}
	}
}

// TestScoreEntryPointsAgree: by position, by name and by bound columns give
// the same points for the same row (m2 of golden_cases.md: 45+40+45+50 = 180).
func TestScoreEntryPointsAgree(t *testing.T) {
	s, err := Compile(loadGolden(t))
	if err != nil {
		t.Fatal(err)
	}
	a, bRes, c := s.NewResult(), s.NewResult(), s.NewResult()
	s.Score([]float64{0.03, 0.0, 200, 0}, []string{"", "", "", "retail"}, a)
	s.ScoreFeatures(feats(map[string]float64{"refund_rate_90d": 0.03, "sales_trend_12m": 0, "tenure_days": 200}, "retail"), bRes)
	bind := s.Bind([]string{"tenure_days", "category", "sales_trend_12m", "refund_rate_90d"})
	s.ScoreRow(bind, []float64{200, 0, 0, 0.03}, []string{"", "retail", "", ""}, c)
	for _, r := range []*Result{a, bRes, c} {
		if r.Score != 180 || !equalInts(r.Points, []int{45, 40, 45, 50}) || r.Grade != "C" {
			t.Errorf("got %d %v %s, want 180 [45 40 45 50] C", r.Score, r.Points, r.Grade)
		}
	}
	if len(bind.Missing) != 0 {
		t.Errorf("bind reports missing %v", bind.Missing)
	}
	if miss := s.Bind([]string{"tenure_days"}).Missing; !equal(miss, []string{"refund_rate_90d", "sales_trend_12m", "category"}) {
		t.Errorf("missing = %v", miss)
	}
}

// TestMissingBinFallback: a variable without a missing bin scores an unknown
// value at its worst attribute, never at 0 points by accident.
func TestMissingBinFallback(t *testing.T) {
	m := loadGolden(t)
	bins := m.Variables[0].Bins[1:] // refund_rate_90d without its missing bin: 60, 45, 20
	m.Variables[0].Bins = bins
	s, err := Compile(m)
	if err != nil {
		t.Fatal(err)
	}
	r := s.NewResult()
	s.ScoreFeatures(&Features{Num: map[string]float64{"refund_rate_90d": math.NaN()}}, r)
	if r.Points[0] != 20 {
		t.Errorf("NaN without a missing bin scored %d, want the worst attribute 20", r.Points[0])
	}
}

// TestBinBoundaries: lower bounds closed, upper open, specials first (table).
func TestBinBoundaries(t *testing.T) {
	s, err := Compile(loadGolden(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		v    int
		x    float64
		want int // points
	}{
		{0, 0.0199999, 60}, {0, 0.02, 45}, {0, 0.05, 20}, {0, -1, 60}, {0, math.Inf(1), 20},
		{1, -0.05, 40}, {1, -0.0500001, 15}, {1, 0.05, 55}, {1, math.Inf(-1), 15},
		{2, -9, 20}, {2, -8, 25}, {2, 179.999, 25}, {2, 180, 45}, {2, 365, 70},
	} {
		j := s.BinNumeric(c.v, c.x)
		if got := s.m.Variables[c.v].Bins[j].Points; got != c.want {
			t.Errorf("var %d x=%v: %d points, want %d", c.v, c.x, got, c.want)
		}
	}
	for _, c := range []struct {
		level string
		want  int
	}{{"food", 50}, {"retail", 50}, {"travel", 20}, {"crypto", 30}, {"", 30}, {"Food", 30}} {
		if got := s.m.Variables[3].Bins[s.BinCategorical(3, c.level)].Points; got != c.want {
			t.Errorf("category %q: %d, want %d", c.level, got, c.want)
		}
	}
}

// TestChampionChallenger: the challenger is recorded and never decides; the
// decision is byte-for-byte the same with or without it.
func TestChampionChallenger(t *testing.T) {
	champ := loadGolden(t)
	chall := loadGolden(t)
	chall.Calibration.A = 3 // a much more pessimistic challenger: PD(235) = 1/(1+e^8.75)
	chall.Policy.MaxPD = "0.0001"
	solo, err := NewEngine(champ, nil)
	if err != nil {
		t.Fatal(err)
	}
	both, err := NewEngine(loadGolden(t), chall)
	if err != nil {
		t.Fatal(err)
	}
	for name, app := range goldenApplications() {
		d1, err := solo.Decide(app)
		if err != nil {
			t.Fatal(err)
		}
		d2, err := both.Decide(app)
		if err != nil {
			t.Fatal(err)
		}
		if d2.Challenger == nil || d2.Challenger.ModelID == d2.ModelID || d2.Challenger.ModelID == "" {
			t.Fatalf("%s: challenger not recorded: %+v", name, d2.Challenger)
		}
		sh := d2.Challenger
		d2.Challenger = nil
		if mustJSON(t, d1) != mustJSON(t, d2) {
			t.Errorf("%s: the challenger changed the decision", name)
		}
		if name == "m1" {
			// champion approves; challenger: z = 3 − 11.75 = −8.75, PD = 0.000158 > 0.0001 → declines
			if d1.Outcome != Approved || sh.Outcome != Declined || sh.PD != "0.000158" || !equal(sh.Reasons, []string{ReasonPDAboveCutoff}) {
				t.Errorf("m1 shadow %+v", sh)
			}
		}
	}
	// a challenger without the product records an error, the decision stands
	noLine := loadGolden(t)
	noLine.Policy.Products = noLine.Policy.Products[:1]
	e, err := NewEngine(loadGolden(t), noLine)
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.Decide(goldenApplications()["m3"])
	if err != nil || d.Outcome != Approved || d.Challenger.Error == "" {
		t.Fatalf("decision %+v err %v", d, err)
	}
}

// TestDeterministic: the same application gives the same bytes.
func TestDeterministic(t *testing.T) {
	e := goldenEngine(t)
	for name, app := range goldenApplications() {
		a, _ := e.Decide(app)
		b, _ := e.Decide(app)
		if mustJSON(t, a) != mustJSON(t, b) {
			t.Errorf("%s: two decisions differ", name)
		}
	}
}

// TestConcurrentDecide: one engine serves many goroutines (run with -race).
func TestConcurrentDecide(t *testing.T) {
	e := goldenEngine(t)
	apps := goldenApplications()
	want := map[string]string{}
	for name, app := range apps {
		d, err := e.Decide(app)
		if err != nil {
			t.Fatal(err)
		}
		want[name] = mustJSON(t, d)
	}
	done := make(chan string, 8)
	for g := 0; g < 8; g++ {
		go func() {
			for k := 0; k < 50; k++ {
				for name, app := range apps {
					d, err := e.Decide(app)
					b, _ := json.Marshal(d)
					if err != nil || string(b) != want[name] {
						done <- name
						return
					}
				}
			}
			done <- ""
		}()
	}
	for g := 0; g < 8; g++ {
		if bad := <-done; bad != "" {
			t.Errorf("concurrent decision for %s differs", bad)
		}
	}
}
