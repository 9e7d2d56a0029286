package scoring

import (
	"math"
	"sort"
)

// Scorer is a compiled model: bin lookups prepared once so Score allocates nothing.
// It is safe for concurrent use.
type Scorer struct {
	m    *Model
	vars []compiledVar
}

type compiledVar struct {
	categorical bool
	// numeric: ranges sorted by lower bound; uppers[i] is the exclusive upper bound of range i.
	rangeIdx []int     // bin index of each range, in ascending order
	uppers   []float64 // +Inf for the last
	lowers   []float64 // -Inf for the first
	missing  int       // bin index for missing values, -1 if none
	specials []float64 // special codes
	specIdx  []int
	cats     map[string]int // categorical level -> bin index
	other    int            // bin for unseen levels, -1 if none
	points   []int
}

// Result is the outcome of scoring one row. Reuse it across calls to avoid allocation.
type Result struct {
	Score  int
	PD     float64
	Grade  string
	Bins   []int // bin index chosen per variable (model order)
	Points []int // points per variable (model order)
}

// NewScorer compiles m for scoring.
func NewScorer(m *Model) *Scorer {
	s := &Scorer{m: m, vars: make([]compiledVar, len(m.Variables))}
	for i, v := range m.Variables {
		cv := compiledVar{categorical: v.Type == "categorical", missing: -1, other: -1, points: make([]int, len(v.Bins))}
		type rb struct {
			idx    int
			lo, hi float64
		}
		var ranges []rb
		for j, b := range v.Bins {
			cv.points[j] = b.Points
			switch b.Kind {
			case BinRange:
				lo, hi := math.Inf(-1), math.Inf(1)
				if b.Lower != nil {
					lo = *b.Lower
				}
				if b.Upper != nil {
					hi = *b.Upper
				}
				ranges = append(ranges, rb{j, lo, hi})
			case BinMissing:
				cv.missing = j
			case BinSpecial:
				if b.Special != nil {
					cv.specials = append(cv.specials, *b.Special)
					cv.specIdx = append(cv.specIdx, j)
				}
			case BinCategory:
				if cv.cats == nil {
					cv.cats = map[string]int{}
				}
				for _, c := range b.Categories {
					cv.cats[c] = j
				}
			case BinOther:
				cv.other = j
			}
		}
		sort.Slice(ranges, func(a, b int) bool { return ranges[a].lo < ranges[b].lo })
		for _, r := range ranges {
			cv.rangeIdx = append(cv.rangeIdx, r.idx)
			cv.lowers = append(cv.lowers, r.lo)
			cv.uppers = append(cv.uppers, r.hi)
		}
		s.vars[i] = cv
	}
	return s
}

// Model returns the compiled model.
func (s *Scorer) Model() *Model { return s.m }

// NewResult returns a Result sized for this model.
func (s *Scorer) NewResult() *Result {
	return &Result{Bins: make([]int, len(s.vars)), Points: make([]int, len(s.vars))}
}

// BinNumeric returns the bin index of numeric value x for variable i, or -1
// when no bin holds it (a value outside every range and no missing bin).
// NaN is missing; a special code goes to its own bin; otherwise the range with
// lower <= x < upper.
func (s *Scorer) BinNumeric(i int, x float64) int {
	cv := &s.vars[i]
	if math.IsNaN(x) {
		return cv.missing
	}
	for k, sp := range cv.specials {
		if x == sp {
			return cv.specIdx[k]
		}
	}
	// first range whose upper bound exceeds x
	k := sort.SearchFloat64s(cv.uppers, x)
	for k < len(cv.uppers) && cv.uppers[k] <= x {
		k++
	}
	if k < len(cv.uppers) && x >= cv.lowers[k] {
		return cv.rangeIdx[k]
	}
	return cv.missing
}

// BinCategorical returns the bin index of level v for variable i; "" is missing.
func (s *Scorer) BinCategorical(i int, v string) int {
	cv := &s.vars[i]
	if v == "" {
		return cv.missing
	}
	if j, ok := cv.cats[v]; ok {
		return j
	}
	if cv.other >= 0 {
		return cv.other
	}
	return cv.missing
}

// Score scores one row. num[i] is variable i's value if numeric (NaN = missing);
// str[i] its level if categorical ("" = missing); either may be nil when the
// model has no variable of that type. A variable whose value falls in no bin
// scores 0 points and has Bins[i] = -1.
func (s *Scorer) Score(num []float64, str []string, r *Result) {
	total := 0
	for i := range s.vars {
		var j int
		if s.vars[i].categorical {
			v := ""
			if str != nil {
				v = str[i]
			}
			j = s.BinCategorical(i, v)
		} else {
			x := math.NaN()
			if num != nil {
				x = num[i]
			}
			j = s.BinNumeric(i, x)
		}
		r.Bins[i] = j
		p := 0
		if j >= 0 {
			p = s.vars[i].points[j]
		}
		r.Points[i] = p
		total += p
	}
	r.Score = total
	r.PD = s.PD(total)
	r.Grade = s.GradeOf(r.PD)
}

// PD returns the calibrated probability of default for a score.
func (s *Scorer) PD(score int) float64 {
	c := s.m.Calibration
	return 1 / (1 + math.Exp(-(c.A + c.B*float64(score))))
}

// GradeOf returns the grade whose PD band holds pd.
func (s *Scorer) GradeOf(pd float64) string {
	for _, g := range s.m.Grades {
		if pd <= g.MaxPD {
			return g.Name
		}
	}
	return s.m.Grades[len(s.m.Grades)-1].Name
}
