package scoring

import (
	"math"
	"testing"
)

// isoKnots is a hand-made isotonic calibration for the interpolation tests.
var isoKnots = []Knot{{Score: 10, PD: 0.5}, {Score: 20, PD: 0.3}, {Score: 40, PD: 0.1}}

func isoScorer(knots []Knot) *Scorer {
	return &Scorer{m: &Model{Calibration: Calibration{Method: CalibrationIsotonic, Knots: knots}}}
}

// TestIsotonicPDInterpolation: PD at, between and beyond the knots
// (10, 0.5), (20, 0.3), (40, 0.1), worked by hand:
//
//	score 5   below the first knot: flat, 0.5
//	score 10  at a knot: 0.5
//	score 15  halfway 10..20: 0.5 + (5/10)·(0.3−0.5) = 0.4
//	score 18  0.5 + (8/10)·(−0.2) = 0.34
//	score 20  at a knot: 0.3
//	score 30  halfway 20..40: 0.3 + (10/20)·(0.1−0.3) = 0.2
//	score 35  0.3 + (15/20)·(−0.2) = 0.15
//	score 40  at the last knot: 0.1
//	score 900 beyond the last knot: flat, 0.1
func TestIsotonicPDInterpolation(t *testing.T) {
	s := isoScorer(isoKnots)
	for _, c := range []struct {
		score int
		want  float64
	}{{-1000, 0.5}, {5, 0.5}, {10, 0.5}, {15, 0.4}, {18, 0.34}, {20, 0.3}, {30, 0.2}, {35, 0.15}, {40, 0.1}, {900, 0.1}} {
		if got := s.PD(c.score); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("PD(%d) = %.15g, want %g", c.score, got, c.want)
		}
	}
	one := isoScorer([]Knot{{Score: 600.5, PD: 0.02}})
	for _, sc := range []int{-5, 600, 601, 5000} {
		if got := one.PD(sc); got != 0.02 {
			t.Errorf("one knot: PD(%d) = %v, want 0.02 everywhere", sc, got)
		}
	}
}

// TestIsotonicPDAllocatesNothing: the isotonic PD is on the scoring hot path.
func TestIsotonicPDAllocatesNothing(t *testing.T) {
	s := isoScorer(isoKnots)
	sink := 0.0
	if n := testing.AllocsPerRun(100, func() { sink += s.PD(27) }); n != 0 {
		t.Errorf("PD allocated %v times per call", n)
	}
	_ = sink
}

// TestIsotonicPDNeverRises: over a wide score range, a higher score never
// gets a higher PD, including at a knot where two neighbours share a PD.
func TestIsotonicPDNeverRises(t *testing.T) {
	s := isoScorer([]Knot{{Score: -3.5, PD: 0.9}, {Score: 0, PD: 0.4}, {Score: 7.25, PD: 0.4}, {Score: 100, PD: 0.0001}})
	prev := math.Inf(1)
	for sc := -50; sc <= 200; sc++ {
		pd := s.PD(sc)
		if pd > prev {
			t.Fatalf("PD(%d) = %v rises above PD(%d) = %v", sc, pd, sc-1, prev)
		}
		prev = pd
	}
}

// TestCalibrationValidation: Compile refuses every calibration that could give
// a NaN, out-of-range or rising PD, and accepts a valid isotonic one.
func TestCalibrationValidation(t *testing.T) {
	iso := func(k ...Knot) func(m *Model) {
		return func(m *Model) { m.Calibration = Calibration{Method: CalibrationIsotonic, Knots: k} }
	}
	cases := []struct {
		name, want string
		edit       func(m *Model)
	}{
		{"unknown method", "must be logistic or isotonic", func(m *Model) { m.Calibration.Method = "spline" }},
		{"logistic with knots", "no knots", func(m *Model) { m.Calibration.Knots = isoKnots }},
		{"logistic rising", "b < 0", func(m *Model) { m.Calibration.B = 0.01 }},
		{"isotonic no knots", "1 to 1000 knots", iso()},
		{"isotonic with a", "not a and b", func(m *Model) { iso(isoKnots...)(m); m.Calibration.A = 1 }},
		{"isotonic pd rises", "knot 1: pd 0.6 rises", iso(Knot{10, 0.5}, Knot{20, 0.6})},
		{"isotonic score repeats", "knot 1: score 10 must be above", iso(Knot{10, 0.5}, Knot{10, 0.4})},
		{"isotonic score falls", "knot 2: score 15 must be above", iso(Knot{10, 0.5}, Knot{20, 0.4}, Knot{15, 0.3})},
		{"isotonic pd zero", "knot 0: score 10 must be finite and pd 0", iso(Knot{10, 0})},
		{"isotonic pd one", "knot 0: score 10 must be finite and pd 1", iso(Knot{10, 1})},
		{"isotonic pd NaN", "knot 1: score 20 must be finite and pd NaN", iso(Knot{10, 0.5}, Knot{20, math.NaN()})},
		{"isotonic score Inf", "knot 0: score +Inf", iso(Knot{math.Inf(1), 0.5})},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := mutate(t, c.edit)
			m.ID = "" // the content changed on purpose; the hash check is tested elsewhere
			_, err := Compile(m)
			wantInvalid(t, err, c.want)
		})
	}
	m := mutate(t, iso(isoKnots...))
	m.ID = ""
	s, err := Compile(m)
	if err != nil {
		t.Fatalf("valid isotonic calibration refused: %v", err)
	}
	if got := s.PD(15); math.Abs(got-0.4) > 1e-12 {
		t.Errorf("compiled PD(15) = %v, want 0.4", got)
	}
}
