package scoring

import (
	"math"
	"sort"
	"strconv"

	"github.com/lendhq/lend"
)

// Artifact limits: a model beyond these is refused rather than half-served.
const (
	MaxVariables      = 512
	MaxBinsPerVar     = 256
	MaxCategoriesBin  = 10000
	MaxGrades         = 26
	MaxProducts       = 16
	MaxWorseWhenRules = 256
	// MaxPoints bounds the points of one attribute, so a score (at most
	// MaxVariables attributes) can never overflow.
	MaxPoints = 1_000_000_000
)

// LoadScorer reads, validates and compiles an artifact file.
func LoadScorer(path string) (*Scorer, error) {
	m, err := LoadFile(path)
	if err != nil {
		return nil, err
	}
	s, err := Compile(m)
	if err != nil {
		return nil, lend.Wrap(lend.EINVALID, err, "model %s: %s", path, lend.ErrorMessage(err))
	}
	return s, nil
}

// Compile validates m beyond Parse (every bin well formed, ranges ordered and
// contiguous, calibration usable, grades ascending) and compiles it. Use it
// for any artifact that did not come straight from training.
func Compile(m *Model) (*Scorer, error) {
	if m == nil {
		return nil, lend.Errorf(lend.EINVALID, "no model")
	}
	if m.FormatVersion != FormatVersion {
		return nil, lend.Errorf(lend.EINVALID, "unsupported artifact format_version %d (this build reads %d)", m.FormatVersion, FormatVersion)
	}
	if err := validateModel(m); err != nil {
		return nil, err
	}
	return NewScorer(m), nil
}

// validateModel is Validate plus every check Compile makes (bins, ranges,
// calibration, grades): Parse applies it too, so an artifact read from a file
// is never scored by a trusting NewScorer (lend score, lend evaluate) when the
// engine would refuse it.
func validateModel(m *Model) error {
	if err := m.Validate(); err != nil {
		return err
	}
	if len(m.Variables) > MaxVariables {
		return lend.Errorf(lend.ETOOLARGE, "model has %d variables (at most %d)", len(m.Variables), MaxVariables)
	}
	seen := make(map[string]bool, len(m.Variables))
	for i := range m.Variables {
		v := &m.Variables[i]
		if seen[v.Name] {
			return lend.Errorf(lend.EINVALID, "variable %s appears twice", v.Name)
		}
		seen[v.Name] = true
		if err := validateVariable(v); err != nil {
			return err
		}
	}
	if err := validateCalibration(&m.Calibration); err != nil {
		return err
	}
	if len(m.Grades) > MaxGrades {
		return lend.Errorf(lend.EINVALID, "model has %d grades (at most %d)", len(m.Grades), MaxGrades)
	}
	names := map[string]bool{}
	prev := 0.0
	for i, g := range m.Grades {
		if g.Name == "" || names[g.Name] {
			return lend.Errorf(lend.EINVALID, "grade %d: name %q empty or repeated", i, g.Name)
		}
		names[g.Name] = true
		if !(g.MaxPD > prev) || g.MaxPD > 1 {
			return lend.Errorf(lend.EINVALID, "grade %s: max_pd %v must rise above the previous grade's (%v) and be at most 1", g.Name, g.MaxPD, prev)
		}
		prev = g.MaxPD
	}
	return nil
}

func validateVariable(v *Variable) error {
	if v.Type != "numeric" && v.Type != "categorical" {
		return lend.Errorf(lend.EINVALID, "variable %s: type %q (want numeric or categorical)", v.Name, v.Type)
	}
	if len(v.Bins) > MaxBinsPerVar {
		return lend.Errorf(lend.ETOOLARGE, "variable %s has %d bins (at most %d)", v.Name, len(v.Bins), MaxBinsPerVar)
	}
	var missing, other int
	type rng struct{ lo, hi float64 }
	var ranges []rng
	specials := map[float64]bool{}
	cats := map[string]bool{}
	for j, b := range v.Bins {
		where := func() string { return v.Name + " bin " + strconv.Itoa(j) }
		if b.Points > MaxPoints || b.Points < -MaxPoints {
			return lend.Errorf(lend.EINVALID, "variable %s: points %d out of range -%d..%d", where(), b.Points, MaxPoints, MaxPoints)
		}
		switch b.Kind {
		case BinRange:
			if v.Type != "numeric" {
				return lend.Errorf(lend.EINVALID, "variable %s: range bin %d in a categorical variable", v.Name, j)
			}
			lo, hi := math.Inf(-1), math.Inf(1)
			if b.Lower != nil {
				lo = *b.Lower
			}
			if b.Upper != nil {
				hi = *b.Upper
			}
			if math.IsNaN(lo) || math.IsNaN(hi) || !(lo < hi) {
				return lend.Errorf(lend.EINVALID, "variable %s: lower %v must be below upper %v", where(), lo, hi)
			}
			ranges = append(ranges, rng{lo, hi})
		case BinMissing:
			missing++
		case BinSpecial:
			if v.Type != "numeric" || b.Special == nil || !finite(*b.Special) || specials[*b.Special] {
				return lend.Errorf(lend.EINVALID, "variable %s: a special bin needs one finite code, not repeated, in a numeric variable", where())
			}
			specials[*b.Special] = true
		case BinCategory:
			if v.Type != "categorical" || len(b.Categories) == 0 || len(b.Categories) > MaxCategoriesBin {
				return lend.Errorf(lend.EINVALID, "variable %s: a category bin needs 1..%d levels in a categorical variable", where(), MaxCategoriesBin)
			}
			for _, c := range b.Categories {
				if c == "" || cats[c] {
					return lend.Errorf(lend.EINVALID, "variable %s: level %q empty or in two bins", where(), c)
				}
				cats[c] = true
			}
		case BinOther:
			other++
		default:
			return lend.Errorf(lend.EINVALID, "variable %s: unknown kind %q", where(), b.Kind)
		}
	}
	if missing > 1 || other > 1 {
		return lend.Errorf(lend.EINVALID, "variable %s: more than one missing or other bin", v.Name)
	}
	if v.Type == "numeric" && len(ranges) == 0 {
		return lend.Errorf(lend.EINVALID, "variable %s: a numeric variable needs range bins", v.Name)
	}
	sort.Slice(ranges, func(a, b int) bool { return ranges[a].lo < ranges[b].lo })
	for k := 1; k < len(ranges); k++ {
		if ranges[k-1].hi != ranges[k].lo {
			return lend.Errorf(lend.EINVALID, "variable %s: ranges [%v, %v) and [%v, %v) overlap or leave a gap", v.Name,
				ranges[k-1].lo, ranges[k-1].hi, ranges[k].lo, ranges[k].hi)
		}
	}
	// a special code inside a range is allowed: it is checked first and
	// shadows the range, as bureau codes like -9 do.
	return nil
}

// validateCalibration refuses a calibration that could give a PD outside
// (0, 1), NaN, or a PD that rises with the score (higher scores are safer).
func validateCalibration(c *Calibration) error {
	switch c.Method {
	case CalibrationLogistic:
		if !finite(c.A) || !finite(c.B) || c.B >= 0 || len(c.Knots) != 0 {
			return lend.Errorf(lend.EINVALID, "calibration must be logistic with finite a and b < 0 (higher scores safer) and no knots; got a=%v b=%v, %d knots", c.A, c.B, len(c.Knots))
		}
	case CalibrationIsotonic:
		if c.A != 0 || c.B != 0 {
			return lend.Errorf(lend.EINVALID, "calibration: isotonic takes knots, not a and b (got a=%v b=%v)", c.A, c.B)
		}
		if len(c.Knots) == 0 || len(c.Knots) > MaxCalibrationKnots {
			return lend.Errorf(lend.EINVALID, "calibration: isotonic needs 1 to %d knots; got %d", MaxCalibrationKnots, len(c.Knots))
		}
		for i, k := range c.Knots {
			if !finite(k.Score) || !(k.PD >= MinCalibratedPD && k.PD <= MaxCalibratedPD) {
				return lend.Errorf(lend.EINVALID, "calibration knot %d: score %v must be finite and pd %v within [%v, %v]", i, k.Score, k.PD, MinCalibratedPD, MaxCalibratedPD)
			}
			if i > 0 && !(k.Score > c.Knots[i-1].Score) {
				return lend.Errorf(lend.EINVALID, "calibration knot %d: score %v must be above the previous knot's %v", i, k.Score, c.Knots[i-1].Score)
			}
			if i > 0 && k.PD > c.Knots[i-1].PD {
				return lend.Errorf(lend.EINVALID, "calibration knot %d: pd %v rises above the previous knot's %v (higher scores must never be riskier)", i, k.PD, c.Knots[i-1].PD)
			}
		}
	default:
		return lend.Errorf(lend.EINVALID, "calibration must be logistic or isotonic; got method %q", c.Method)
	}
	return nil
}
