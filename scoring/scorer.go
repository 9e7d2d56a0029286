package scoring

import (
	"math"
	"sort"
)

// Scorer is a compiled model: bin lookups prepared once so Score allocates nothing.
// It is safe for concurrent use.
type Scorer struct {
	m       *Model
	vars    []compiledVar
	index   map[string]int // variable name -> model position
	reasons []reasonText   // per variable: stable code and sentences, prepared once
}

type compiledVar struct {
	name        string
	categorical bool
	// numeric: ranges sorted by lower bound; uppers[i] is the exclusive upper bound of range i.
	rangeIdx []int     // bin index of each range, in ascending order
	uppers   []float64 // +Inf for the last
	lowers   []float64 // -Inf for the first
	// missing is the bin a missing value scores through: the missing bin, or,
	// when training saw no missing value, the worst attribute (fewest points)
	// so an unknown value is never rewarded.
	missing    int
	hasMissing bool // the model has a real missing bin
	specials   []float64
	specIdx    []int
	cats       map[string]int // categorical level -> bin index
	other      int            // bin for unseen levels, -1 if none
	points     []int
	best       int // the most points any attribute gives
	linearScan bool
}

// linearScanMax is the number of ranges up to which a linear scan beats a
// binary search (the common scorecard has 3–8 bins).
const linearScanMax = 8

// Result is the outcome of scoring one row. Reuse it across calls to avoid allocation.
type Result struct {
	Score  int
	PD     float64
	Grade  string
	Bins   []int  // bin index chosen per variable (model order)
	Points []int  // points per variable (model order)
	Absent []bool // the row did not carry the variable at all (scored as missing)
}

// Features is one merchant's feature values by name, as a feature file holds
// them (amounts in major units). A name with no entry is absent: its variable
// scores through the missing bin and the reasons say so. NaN is a present but
// NULL value (e.g. no refund rate without sales) and scores through the
// missing bin without being reported as absent data.
type Features struct {
	Num map[string]float64
	Str map[string]string
}

// NewScorer compiles m for scoring. It trusts m; use Compile (or LoadScorer)
// for an artifact from outside, which validates it first.
func NewScorer(m *Model) *Scorer {
	s := &Scorer{m: m, vars: make([]compiledVar, len(m.Variables)), index: make(map[string]int, len(m.Variables))}
	for i, v := range m.Variables {
		s.index[v.Name] = i
		cv := compiledVar{name: v.Name, categorical: v.Type == "categorical", missing: -1, other: -1, points: make([]int, len(v.Bins))}
		type rb struct {
			idx    int
			lo, hi float64
		}
		var ranges []rb
		worst := 0
		for j, b := range v.Bins {
			cv.points[j] = b.Points
			if j == 0 || b.Points > cv.best {
				cv.best = b.Points
			}
			if b.Points < v.Bins[worst].Points {
				worst = j
			}
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
				cv.hasMissing = true
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
		if cv.missing < 0 && len(v.Bins) > 0 {
			cv.missing = worst
		}
		sort.SliceStable(ranges, func(a, b int) bool { return ranges[a].lo < ranges[b].lo })
		for _, r := range ranges {
			cv.rangeIdx = append(cv.rangeIdx, r.idx)
			cv.lowers = append(cv.lowers, r.lo)
			cv.uppers = append(cv.uppers, r.hi)
		}
		cv.linearScan = len(cv.uppers) <= linearScanMax
		s.vars[i] = cv
	}
	s.reasons = prepareReasons(m)
	return s
}

// Model returns the compiled model.
func (s *Scorer) Model() *Model { return s.m }

// NumVariables returns the number of model variables.
func (s *Scorer) NumVariables() int { return len(s.vars) }

// VariableIndex returns the model position of the variable named name.
func (s *Scorer) VariableIndex(name string) (int, bool) {
	i, ok := s.index[name]
	return i, ok
}

// NewResult returns a Result sized for this model.
func (s *Scorer) NewResult() *Result {
	n := len(s.vars)
	return &Result{Bins: make([]int, n), Points: make([]int, n), Absent: make([]bool, n)}
}

// BinNumeric returns the bin index of numeric value x for variable i. NaN is
// missing; a special code goes to its own bin; otherwise the range with
// lower <= x < upper; a value in no range (a model whose outer bounds are
// finite) scores as missing. -1 only for a variable with no bins.
func (s *Scorer) BinNumeric(i int, x float64) int { return s.vars[i].binNumeric(x) }

// binNumericSlow handles special codes, many ranges and values in no range.
func (cv *compiledVar) binNumericSlow(x float64) int {
	if x != x { // NaN
		return cv.missing
	}
	for k, sp := range cv.specials {
		if x == sp {
			return cv.specIdx[k]
		}
	}
	// first range whose upper bound exceeds x
	var k int
	if cv.linearScan {
		for k < len(cv.uppers) && cv.uppers[k] <= x {
			k++
		}
	} else {
		k = sort.SearchFloat64s(cv.uppers, x)
		for k < len(cv.uppers) && cv.uppers[k] <= x {
			k++
		}
	}
	if k == len(cv.uppers) && k > 0 && x > math.MaxFloat64 && cv.uppers[k-1] > math.MaxFloat64 {
		k-- // +Inf belongs to the open-ended top range
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
// model has no variable of that type. This is the hot path: it allocates
// nothing. A variable whose value falls in no bin scores through the missing
// bin (or the worst attribute when the model has none).
func (s *Scorer) Score(num []float64, str []string, r *Result) {
	total := 0
	for i := range s.vars {
		cv := &s.vars[i]
		var j int
		if cv.categorical {
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
			j = cv.binNumeric(x)
		}
		total += s.set(r, i, j, false)
	}
	s.finish(r, total)
}

// binNumeric is BinNumeric on a compiled variable, with the common case
// (no special codes, few ranges) first so the hot loop stays tight.
func (cv *compiledVar) binNumeric(x float64) int {
	if x != x { // NaN
		return cv.missing
	}
	if len(cv.specials) == 0 && cv.linearScan {
		// uppers ascend, so the count of uppers <= x is the range index;
		// counting every one (no early exit) compiles to conditional moves,
		// which beats a scan whose exit branch mispredicts on real data
		k := 0
		for _, u := range cv.uppers {
			if u <= x {
				k++
			}
		}
		ups := cv.uppers
		if k < len(ups) && x >= cv.lowers[k] {
			return cv.rangeIdx[k]
		}
	}
	return cv.binNumericSlow(x)
}

// set records bin j for variable i and returns its points.
func (s *Scorer) set(r *Result, i, j int, absent bool) int {
	r.Bins[i] = j
	p := 0
	if j >= 0 {
		p = s.vars[i].points[j]
	}
	r.Points[i] = p
	if r.Absent != nil { // a Result built by hand before Absent existed
		r.Absent[i] = absent
	}
	return p
}

func (s *Scorer) finish(r *Result, total int) {
	r.Score = total
	r.PD = s.PD(total)
	r.Grade = s.GradeOf(r.PD)
}

// ScoreFeatures scores one row given by feature name. A model variable with
// no entry in f scores through its missing bin and is marked Absent, so its
// reasons say the data was missing. Allocates nothing (map lookups only).
func (s *Scorer) ScoreFeatures(f *Features, r *Result) {
	total := 0
	for i := range s.vars {
		cv := &s.vars[i]
		var j int
		absent := false
		if cv.categorical {
			v, ok := f.Str[cv.name]
			absent = !ok
			j = s.BinCategorical(i, v)
		} else {
			x, ok := f.Num[cv.name]
			if !ok {
				x = math.NaN()
				absent = true
			}
			j = cv.binNumeric(x)
		}
		total += s.set(r, i, j, absent)
	}
	s.finish(r, total)
}

// Binding maps the columns of a feature file to model variables, prepared
// once per file so each row is scored by position.
type Binding struct {
	col     []int    // per variable: its column, -1 when the file lacks it
	Missing []string // model variables the file does not carry
}

// Bind prepares a Binding for a file whose columns are named columns.
// Variables the file lacks are listed in Missing and score as absent.
func (s *Scorer) Bind(columns []string) *Binding {
	pos := make(map[string]int, len(columns))
	for c, name := range columns {
		if _, dup := pos[name]; !dup {
			pos[name] = c
		}
	}
	b := &Binding{col: make([]int, len(s.vars))}
	for i := range s.vars {
		c, ok := pos[s.vars[i].name]
		if !ok {
			c = -1
			b.Missing = append(b.Missing, s.vars[i].name)
		}
		b.col[i] = c
	}
	return b
}

// ScoreRow scores one row of a bound file: num[c] is column c's value when
// numeric (NaN = NULL), str[c] its text when categorical. Allocates nothing.
func (s *Scorer) ScoreRow(b *Binding, num []float64, str []string, r *Result) {
	total := 0
	for i := range s.vars {
		c := b.col[i]
		var j int
		switch {
		case c < 0:
			j = s.vars[i].missing
		case s.vars[i].categorical:
			v := ""
			if c < len(str) {
				v = str[c]
			}
			j = s.BinCategorical(i, v)
		default:
			x := math.NaN()
			if c < len(num) {
				x = num[c]
			}
			j = s.vars[i].binNumeric(x)
		}
		total += s.set(r, i, j, c < 0)
	}
	s.finish(r, total)
}

// PD returns the calibrated probability of default for a score. It
// allocates nothing: the isotonic knots are searched in place.
func (s *Scorer) PD(score int) float64 {
	c := &s.m.Calibration
	if c.Method == CalibrationIsotonic {
		return isotonicPD(c.Knots, float64(score))
	}
	return 1 / (1 + math.Exp(-(c.A + c.B*float64(score))))
}

// isotonicPD interpolates linearly between the knots around x and is flat
// beyond the end knots. knots ascend strictly in score (checked at Compile).
func isotonicPD(knots []Knot, x float64) float64 {
	n := len(knots)
	if n == 0 {
		return math.NaN() // refused at Compile; NaN rather than a made-up PD
	}
	if x <= knots[0].Score {
		return knots[0].PD
	}
	if x >= knots[n-1].Score {
		return knots[n-1].PD
	}
	// first knot whose score exceeds x: 1 <= hi <= n-1
	lo, hi := 0, n-1
	for hi-lo > 1 {
		mid := int(uint(lo+hi) >> 1)
		if knots[mid].Score <= x {
			lo = mid
		} else {
			hi = mid
		}
	}
	a, b := knots[lo], knots[hi]
	t := (x - a.Score) / (b.Score - a.Score)
	return a.PD + t*(b.PD-a.PD)
}

// GradeOf returns the grade whose PD band holds pd, compared as the policy
// PD (rounded half-even to 6 decimals, the pd a decision shows), so the grade
// always agrees with the PD stated next to it. NaN gets the last grade.
func (s *Scorer) GradeOf(pd float64) string {
	if pd != pd {
		return s.m.Grades[len(s.m.Grades)-1].Name
	}
	p := float64(policyPD(pd)) / pdScale
	for _, g := range s.m.Grades {
		if p <= g.MaxPD {
			return g.Name
		}
	}
	return s.m.Grades[len(s.m.Grades)-1].Name
}
