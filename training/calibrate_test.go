package training

import (
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/lendhq/lend/scoring"
)

// isoRows is the hand-worked PAV example: score → outcomes (1 = bad).
//
//	score 10: 1 1      n 2, bads 2, rate 1
//	score 20: 1 0      n 2, bads 1, rate 0.5
//	score 30: 1 1      n 2, bads 2, rate 1    (rises: a violator)
//	score 40: 0 0      n 2, bads 0, rate 0
//	score 50: 1 0      n 2, bads 1, rate 0.5  (rises: a violator)
//	score 60: 0 0 0 0  n 4, bads 0, rate 0
var isoScore = []int{10, 10, 20, 20, 30, 30, 40, 40, 50, 50, 60, 60, 60, 60}
var isoY = []int8{1, 1, 1, 0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0}

// TestIsotonicKnotsHandWorked checks the PAV fit against the arithmetic below.
func TestIsotonicKnotsHandWorked(t *testing.T) {
	cases := []struct {
		name    string
		minRows int
		want    []scoring.Knot
	}{
		// minRows 2: every score is its own chunk.
		//   push 10 (1); push 20 (0.5); push 30 (1) ≥ 0.5 → pool 20+30: 3/4 = 0.75,
		//   mean score (2·20+2·30)/4 = 25; 0.75 < 1, stop.
		//   push 40 (0); push 50 (0.5) ≥ 0 → pool 40+50: 1/4 = 0.25, mean 45; 0.25 < 0.75.
		//   push 60 (0).  Blocks: [10] 1, [20,30] 0.75, [40,50] 0.25, [60] 0.
		//   Clamp: 1 → 1−1e-4 = 0.9999, 0 → 1e-4. First knot at its lowest score 10,
		//   last at its highest 60, the others at their mean scores.
		{"pav", 2, []scoring.Knot{{Score: 10, PD: 0.9999}, {Score: 25, PD: 0.75}, {Score: 45, PD: 0.25}, {Score: 60, PD: 1e-4}}},
		// minRows 4: chunks of >= 4 rows: 10+20 (n 4, bads 3, 0.75),
		//   30+40 (n 4, bads 2, 0.5, mean (60+80)/4 = 35), 50+60 (n 6, bads 1, 1/6).
		//   Rates already fall: no pooling. Knots (10, 0.75), (35, 0.5), (60, 1/6).
		{"chunks", 4, []scoring.Knot{{Score: 10, PD: 0.75}, {Score: 35, PD: 0.5}, {Score: 60, PD: 1.0 / 6}}},
		// minRows 7: 10..40 make the first chunk (2+2+2+2 = 8 rows, bads 5);
		//   50+60 is only 6 rows, so it joins it: one block, 14 rows, 6 bads,
		//   rate 6/14; one knot at the mean score
		//   (2·10+2·20+2·30+2·40+2·50+4·60)/14 = 540/14.
		{"short last chunk", 7, []scoring.Knot{{Score: 540.0 / 14, PD: 6.0 / 14}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := isotonicKnots(isoScore, isoY, c.minRows)
			if len(got) != len(c.want) {
				t.Fatalf("got %d knots %v, want %v", len(got), got, c.want)
			}
			for k := range got {
				if math.Abs(got[k].Score-c.want[k].Score) > 1e-12 || math.Abs(got[k].PD-c.want[k].PD) > 1e-12 {
					t.Errorf("knot %d = %+v, want %+v", k, got[k], c.want[k])
				}
			}
		})
	}
	// Row order must not matter: the same rows reversed give the same knots.
	rs, ry := make([]int, len(isoScore)), make([]int8, len(isoY))
	for i := range isoScore {
		rs[len(rs)-1-i], ry[len(ry)-1-i] = isoScore[i], isoY[i]
	}
	if a, b := isotonicKnots(isoScore, isoY, 2), isotonicKnots(rs, ry, 2); !reflect.DeepEqual(a, b) {
		t.Errorf("row order changed the fit: %v vs %v", a, b)
	}
	if k := isotonicKnots(nil, nil, 2); k != nil {
		t.Errorf("no rows gave knots %v", k)
	}
}

// TestCalibrateChoosesRows: isotonic fits the training part (block floor
// max(200, 1%) rows), logistic the test part, and either falls back to all
// rows when its part lacks MinCalibrationBads bads or goods.
func TestCalibrateChoosesRows(t *testing.T) {
	// 1,000 training rows: scores 0..999, bad when score < 300 (300 bads, 700 goods).
	trS, trY := make([]int, 1000), make([]int8, 1000)
	for i := range trS {
		trS[i] = i
		if i < 300 {
			trY[i] = 1
		}
	}
	teS, teY := []int{5, 500}, []int8{1, 0} // too few bads for the test part alone
	c, err := calibrate("", trS, trY, teS, teY)
	if err != nil {
		t.Fatal(err)
	}
	// Floor max(200, ceil(0.01·1000) = 10) = 200 rows: chunks 0–199 (all bad),
	// 200–399 (100 bads: 0.5), 400–599, 600–799, 800–999 (no bads).
	// PAV pools the three bad-free chunks (0 ≥ 0): rows 400–999, mean score 699.5.
	// Knots: (0, 1 → 0.9999), (299.5, 0.5), (999, 0 → 1e-4) (last knot at its top score).
	want := []scoring.Knot{{Score: 0, PD: 0.9999}, {Score: 299.5, PD: 0.5}, {Score: 999, PD: 1e-4}}
	if c.Method != scoring.CalibrationIsotonic || c.FittedOn != "train" || c.N != 1000 || !reflect.DeepEqual(c.Knots, want) {
		t.Errorf("isotonic default: got %+v, want method isotonic on train (1000 rows) with knots %v", c, want)
	}
	// Logistic needs overlap to converge: flip rows 150 (to good) and 850 (to bad).
	lgY := append([]int8(nil), trY...)
	lgY[150], lgY[850] = 0, 1
	c, err = calibrate(scoring.CalibrationLogistic, trS, lgY, teS, teY)
	if err != nil {
		t.Fatal(err)
	}
	if c.Method != scoring.CalibrationLogistic || c.FittedOn != "all" || c.N != 1002 || len(c.Knots) != 0 || !(c.B < 0) {
		t.Errorf("logistic: got %+v, want fitted on all 1002 rows with b < 0 and no knots", c)
	}
	c, err = calibrate(scoring.CalibrationIsotonic, trS[:40], trY[:40], teS, teY) // 40 bads, 0 goods
	if err != nil {
		t.Fatal(err)
	}
	if c.FittedOn != "all" || c.N != 42 {
		t.Errorf("isotonic on a one-class training part: fitted on %q (%d rows), want all (42)", c.FittedOn, c.N)
	}
}

// TestCalibrationOption: an unknown calibration method is refused by name.
func TestCalibrationOption(t *testing.T) {
	o := Defaults()
	o.Data, o.Target = "x.csv", "bad"
	if o.Calibration != scoring.CalibrationIsotonic {
		t.Errorf("default calibration %q, want isotonic", o.Calibration)
	}
	o.Calibration = "platt"
	if err := o.validate(); err == nil || !strings.Contains(err.Error(), "calibration") {
		t.Errorf("calibration %q: error %v, want one naming calibration", o.Calibration, err)
	}
}
