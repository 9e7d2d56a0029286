package training

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
)

// TestSplitByOutOfTime: 200 rows over ten months (20 a month, written in a
// scrambled order). With --split-by month and --test-frac 0.25 the cut falls
// at sorted row 150, inside month 8 (rows 140–159 in month order); ties go to
// test, so months 1–7 train (7×20 = 140 rows) and months 8–10 test (60 rows).
// Months 8–10 carry one extra bad each 20 rows, so the test bad rate differs
// from a random draw's and is counted by hand below.
func TestSplitByOutOfTime(t *testing.T) {
	var b strings.Builder
	b.WriteString("month,x,bad\n")
	testBads := 0
	for k := 0; k < 200; k++ {
		i := (k * 73) % 200 // scrambled file order (73 is prime to 200)
		month := i/20 + 1
		x := i % 20
		bad := 0
		if (x < 6) != (i%7 == 0) {
			bad = 1
		}
		if month >= 8 && x == 10 {
			bad = 1
		}
		if month >= 8 {
			testBads += bad
		}
		fmt.Fprintf(&b, "2024-%02d-01,%d,%d\n", month, x, bad)
	}
	o := Defaults()
	o.Data, o.Target, o.SplitBy, o.TestFrac, o.MinBinShare = writeCSV(t, "oot.csv", b.String()), "bad", "month", 0.25, 0.1
	r, err := Train(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	d := r.Model.Data
	if d.TrainRows != 140 || d.TestRows != 60 {
		t.Fatalf("train %d / test %d rows, want 140 / 60", d.TrainRows, d.TestRows)
	}
	if got := int(math.Round(r.Model.Metrics.Test.BadRate * 60)); got != testBads {
		t.Errorf("test part has %d bads, want %d (months 8–10)", got, testBads)
	}
	for _, v := range r.Model.Variables {
		if v.Name == "month" {
			t.Error("the split column became a variable")
		}
	}
	// An empty split value is an error naming the file row.
	bad := strings.Replace(b.String(), "\n2024-01-01,", "\n,", 1)
	o.Data, o.SplitBy = writeCSV(t, "oot2.csv", bad), "month"
	if _, err := Train(context.Background(), o); err == nil || !strings.Contains(err.Error(), "empty at data row 1") {
		t.Errorf("empty split value: err = %v", err)
	}
}

// TestStepwiseAIC: x1 has two levels with bad rates 40/200 and 100/200; x2 has
// two levels within each x1 level, bad counts 21/19 and 51/49 of 100: nearly
// no information. A one-variable logistic fit on a two-level variable is
// saturated, so its log-likelihood is worked out by hand:
//
//	null:  p = 140/400,  LL0 = 400·(0.35 ln 0.35 + 0.65 ln 0.65) = −258.9787
//	       AIC0 = 2·1 − 2·LL0 = 519.9573
//	x1:    LL1 = 200·(0.2 ln 0.2 + 0.8 ln 0.8) + 200·ln 0.5 = −238.7099
//	       AIC1 = 2·2 − 2·LL1 = 481.4198  (a decrease of 38.54)
//	x1+x2: LL2 ≤ the 4-cell saturated LL = −238.6074 (gain ≤ 0.103 < 1),
//	       so AIC2 ≥ 6 + 477.2148 = 483.2148 > AIC1: stepwise stops after x1.
func TestStepwiseAIC(t *testing.T) {
	var b strings.Builder
	b.WriteString("x1,x2,bad\n")
	cells := []struct{ x1, x2, n, bads int }{{0, 0, 100, 21}, {0, 1, 100, 19}, {1, 0, 100, 51}, {1, 1, 100, 49}}
	for _, c := range cells {
		for i := 0; i < c.n; i++ {
			bad := 0
			if i < c.bads {
				bad = 1
			}
			fmt.Fprintf(&b, "%d,%d,%d\n", c.x1, c.x2, bad)
		}
	}
	o := Defaults()
	o.Data, o.Target, o.TestFrac, o.MinIV = writeCSV(t, "sw.csv", b.String()), "bad", 0, 0
	// Without stepwise both variables enter (x2's IV is tiny but above 0).
	r, err := Train(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Model.Variables) != 2 {
		t.Fatalf("without --stepwise: %d variables, want 2", len(r.Model.Variables))
	}
	o.Stepwise = true
	r, err = Train(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Model.Variables) != 1 || r.Model.Variables[0].Name != "x1" {
		t.Fatalf("stepwise kept %d variables (%v), want x1 only", len(r.Model.Variables), r.Model.Candidates)
	}
	for _, c := range r.Model.Candidates {
		if c.Name == "x2" && !strings.Contains(c.Status, "stepwise") {
			t.Errorf("x2 status %q", c.Status)
		}
	}
	// The AIC figures behind the decision, from the same fits stepwise runs.
	y := make([]int8, 0, 400)
	w1 := make([]float64, 0, 400)
	w2 := make([]float64, 0, 400)
	for _, c := range cells {
		for i := 0; i < c.n; i++ {
			y = append(y, int8(b2i(i < c.bads)))
			w1 = append(w1, float64(c.x1)) // any two-level coding gives the same saturated fit
			w2 = append(w2, float64(c.x2))
		}
	}
	woe := map[int][]float64{1: w1, 2: w2}
	aic := func(vars ...int) float64 {
		f, err := fitLogit(designOf(vars, woe, 400), y, 0)
		if err != nil {
			t.Fatal(err)
		}
		return f.AIC()
	}
	a0, a1, a2 := aic(), aic(1), aic(1, 2)
	near(t, "AIC null", a0, 519.9573, 1e-3)
	near(t, "AIC x1", a1, 481.4198, 1e-3)
	if !(a1 < a0-38) || !(a2 >= 483.2148-1e-3) {
		t.Errorf("AIC null %.4f, x1 %.4f, x1+x2 %.4f: want a decrease of ~38.5 then an increase", a0, a1, a2)
	}
	sel, err := stepwise([]int{1, 2}, woe, y, 0)
	if err != nil || len(sel) != 1 || sel[0] != 1 {
		t.Errorf("stepwise selected %v (err %v), want [1]", sel, err)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
