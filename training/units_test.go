package training

import (
	"math"
	"testing"

	"github.com/lendhq/lend/scoring"
)

// Expected values below are worked out by hand in testdata/hand_computed.md.

func near(t *testing.T, name string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol || math.IsNaN(got) {
		t.Errorf("%s = %.7f, want %.7f", name, got, want)
	}
}

func TestWoEIV(t *testing.T) {
	for _, c := range []struct {
		name        string
		g, b        int
		woe, ivTerm float64
	}{
		{"A", 60, 10, 1.0986123, 0.4394449},
		{"B", 40, 40, -0.6931472, 0.2772589},
		{"C zero bads", 10, 0, 2.3513753, 0.2233807},
		{"D empty", 0, 0, 0, 0},
	} {
		w, iv := woeIV(c.g, c.b, 100, 50)
		near(t, c.name+" woe", w, c.woe, 1e-6)
		near(t, c.name+" iv", iv, c.ivTerm, 1e-6)
	}
	// variable IV through finishBins
	bv := binnedVar{v: scoring.Variable{Bins: []scoring.Bin{{Kind: scoring.BinRange, Count: 70, Bads: 10}, {Kind: scoring.BinRange, Count: 80, Bads: 40}}}}
	finishBins(&bv, 100, 50)
	near(t, "IV", bv.iv, 0.7167038, 1e-6)
}

func TestAUCKSByHand(t *testing.T) {
	score := []int{1, 3, 3, 2, 3, 4, 5}
	y := []int8{1, 1, 1, 0, 0, 0, 0}
	near(t, "AUC", AUC(score, y), 0.75, 1e-12)
	near(t, "KS", KS(score, y), 0.5, 1e-12)
	m := computeMetrics(score, []float64{.5, .5, .5, .5, .5, .5, .5}, y, 1)
	near(t, "Gini", m.Gini, 0.5, 1e-12)
	if !(m.AUCLow <= m.AUC && m.AUC <= m.AUCHigh) {
		t.Errorf("AUC %.3f outside its bootstrap interval [%.3f, %.3f]", m.AUC, m.AUCLow, m.AUCHigh)
	}
}

// TestAUCMannWhitney checks AUC against the pairwise definition on a larger
// sample with many ties (the pair count is the definition, not a formula).
func TestAUCMannWhitney(t *testing.T) {
	var score []int
	var y []int8
	for i := 0; i < 300; i++ {
		score = append(score, (i*37)%23)
		y = append(y, int8((i*11)%7/5))
	}
	u, pairs := 0.0, 0.0
	for i := range score {
		for j := range score {
			if y[i] == 1 && y[j] == 0 {
				pairs++
				switch {
				case score[j] > score[i]:
					u++
				case score[j] == score[i]:
					u += 0.5
				}
			}
		}
	}
	near(t, "AUC", AUC(score, y), u/pairs, 1e-12)
}

func TestBrierLogLossPSI(t *testing.T) {
	pd := []float64{0.2, 0.8, 0.5, 0.1}
	y := []int8{0, 1, 1, 0}
	near(t, "Brier", Brier(pd, y), 0.085, 1e-12)
	near(t, "LogLoss", LogLoss(pd, y), 0.3111987, 1e-6)
	near(t, "PSI", PSI([]float64{.5, .5}, []float64{.6, .4}), 0.0405465, 1e-6)
	near(t, "PSI same", PSI([]float64{.3, .7}, []float64{.3, .7}), 0, 1e-15)
}

func TestBaseShares(t *testing.T) {
	for _, c := range []struct {
		base float64
		p    int
		want []int
	}{
		{515.9767770, 2, []int{258, 258}},
		{-7, 3, []int{-2, -2, -3}},
		{10, 4, []int{3, 3, 2, 2}},
	} {
		got := baseShares(c.base, c.p)
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("baseShares(%g, %d) = %v, want %v", c.base, c.p, got, c.want)
				break
			}
		}
	}
	f := 20 / math.Ln2
	near(t, "factor", f, 28.8539008, 1e-6)
	near(t, "offset", 600-f*math.Log(50), 487.1228762, 1e-6)
	if pts := int(math.Round(-f*-0.8*0.5)) + 258; pts != 270 {
		t.Errorf("points = %d, want 270", pts)
	}
}

// TestCoarseMonotonic: fine cells whose bad rates go up, down, up; the
// ascending-WoE partition must merge the dip, and every group meets the minimum.
func TestCoarseMonotonic(t *testing.T) {
	cells := []cell{{100, 40}, {100, 30}, {100, 35}, {100, 20}, {100, 10}}
	G, B := 500-135, 135
	ends, iv := coarse(cells, G, B, 5, 100, 1)
	if ends == nil || iv <= 0 {
		t.Fatalf("no partition")
	}
	prev := math.Inf(-1)
	start := 0
	for _, e := range ends {
		var c cell
		for _, f := range cells[start:e] {
			c.n += f.n
			c.b += f.b
		}
		w, _ := woeIV(c.g(), c.b, G, B)
		if w <= prev {
			t.Fatalf("WoE not ascending: %v", ends)
		}
		prev = w
		start = e
	}
	// bad rates 40,30,35,20,10 %: cells 2 and 3 (30%, 35%) must be merged.
	want := []int{1, 3, 4, 5}
	if len(ends) != len(want) {
		t.Fatalf("ends = %v, want %v", ends, want)
	}
	for i := range want {
		if ends[i] != want[i] {
			t.Fatalf("ends = %v, want %v", ends, want)
		}
	}
	// A minimum of 250 rows per group allows at most two groups.
	ends, _ = coarse(cells, G, B, 5, 250, 1)
	if len(ends) > 2 {
		t.Errorf("min count ignored: %v", ends)
	}
}

func TestTargetLabels(t *testing.T) {
	for _, c := range []struct {
		name string
		col  *Column
		bad  string
		want []int8
		err  bool
	}{
		{"01", &Column{Kind: KindNumeric, Num: []float64{0, 1, 1}}, "", []int8{0, 1, 1}, false},
		{"text bad", &Column{Kind: KindCategorical, Str: []string{"good", "bad"}}, "bad", []int8{0, 1}, false},
		{"text needs bad", &Column{Kind: KindCategorical, Str: []string{"good", "bad"}}, "", nil, true},
		{"three", &Column{Kind: KindNumeric, Num: []float64{0, 1, 2}}, "", nil, true},
		{"constant", &Column{Kind: KindNumeric, Num: []float64{1, 1}}, "", nil, true},
		{"missing", &Column{Kind: KindNumeric, Num: []float64{1, math.NaN()}}, "", nil, true},
		{"unknown bad", &Column{Kind: KindCategorical, Str: []string{"a", "b"}}, "c", nil, true},
	} {
		got, err := targetLabels(c.col, c.bad)
		if (err != nil) != c.err {
			t.Errorf("%s: err = %v", c.name, err)
			continue
		}
		for i := range c.want {
			if got[i] != c.want[i] {
				t.Errorf("%s: %v, want %v", c.name, got, c.want)
				break
			}
		}
	}
}
