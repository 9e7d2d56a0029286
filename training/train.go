package training

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/lendhq/lend"
	"github.com/lendhq/lend/scoring"
)

// Training limits and defaults.
const (
	MinRows            = 50  // rows a data set needs before training means anything
	MinClassRows       = 10  // goods and bads the training part needs
	MinCalibrationBads = 50  // bads (and goods) the test part needs to carry the calibration alone
	ReasonsPerRow      = 4   // reason codes `lend score` prints
	MaxSpecials        = 20  // --special codes
	MaxStepwiseVars    = 100 // candidates stepwise selection may consider
	// IsotonicMinBlockRows and IsotonicMinBlockShare set the smallest PAV
	// block of an isotonic calibration: the larger of 200 rows and 1% of the
	// rows fitted, so no knot's PD rests on a handful of outcomes.
	IsotonicMinBlockRows  = 200
	IsotonicMinBlockShare = 0.01
)

// Options are the training options. Zero values take the documented defaults
// through Defaults.
type Options struct {
	Data           string    // CSV/TSV/Parquet file
	Target         string    // target column
	Bad            string    // the bad value when the target is not 0/1
	ID             string    // identifier column, never a variable
	Exclude        []string  // columns left out
	Special        []float64 // special numeric codes with their own bins
	SkipRows       int       // lines before the header; -1 detects two header lines
	TestFrac       float64   // share of rows in the test part (stratified, seeded)
	SplitBy        string    // out-of-time split: the latest TestFrac of this column are the test part
	Seed           uint64
	MaxBins        int
	MinBinShare    float64
	Monotonic      string // auto, asc, desc
	MinIV          float64
	MaxCorr        float64
	Stepwise       bool
	L2             float64
	PDO            float64
	BaseScore      float64
	BaseOdds       float64
	CapacityTarget string
	// Calibration is the score-to-PD method: "isotonic" (the default; ""
	// means it too) fitted on the training part, or "logistic" (Platt
	// scaling, fitted on the test part as before isotonic existed).
	Calibration string
	// Tune is "auto" (choose MaxBins, MinBinShare, MinIV and L2 by k-fold
	// cross-validation inside the training part when it has at most
	// TuneMaxRows rows; see tune) or "off"/"" (use the options as given).
	Tune      string
	CreatedAt time.Time
}

// Defaults returns the documented defaults.
func Defaults() Options {
	return Options{SkipRows: -1, TestFrac: 0.3, Seed: 42, MaxBins: 8, MinBinShare: 0.05, Monotonic: TrendAuto,
		MinIV: 0.02, MaxCorr: 0.7, PDO: 20, BaseScore: 600, BaseOdds: 50, Calibration: scoring.CalibrationIsotonic,
		Tune: TuneOff}
}

func (o *Options) validate() error {
	switch {
	case o.Data == "":
		return lend.FieldErrorf("data", "a data file is required")
	case o.Target == "":
		return lend.FieldErrorf("target", "a target column is required")
	case o.TestFrac < 0 || o.TestFrac >= 0.9:
		return lend.FieldErrorf("test-frac", "must be in [0, 0.9), got %g", o.TestFrac)
	case o.MaxBins < 2 || o.MaxBins > MaxBinsLimit:
		return lend.FieldErrorf("max-bins", "must be in [2, %d], got %d", MaxBinsLimit, o.MaxBins)
	case o.MinBinShare < 0.01 || o.MinBinShare > 0.5:
		return lend.FieldErrorf("min-bin-share", "must be in [0.01, 0.5], got %g", o.MinBinShare)
	case o.Monotonic != TrendAuto && o.Monotonic != TrendAsc && o.Monotonic != TrendDesc:
		return lend.FieldErrorf("monotonic", "must be auto, asc or desc, got %q", o.Monotonic)
	case o.MinIV < 0 || math.IsNaN(o.MinIV):
		return lend.FieldErrorf("min-iv", "must be >= 0")
	case !(o.MaxCorr > 0 && o.MaxCorr <= 1):
		return lend.FieldErrorf("max-corr", "must be in (0, 1]")
	case o.L2 < 0 || math.IsNaN(o.L2):
		return lend.FieldErrorf("l2", "must be >= 0")
	case !(o.PDO > 0):
		return lend.FieldErrorf("pdo", "must be > 0")
	case !(o.BaseOdds > 0):
		return lend.FieldErrorf("base-odds", "must be > 0")
	case math.IsNaN(o.BaseScore) || math.IsInf(o.BaseScore, 0):
		return lend.FieldErrorf("base-score", "must be a number")
	case len(o.Special) > MaxSpecials:
		return lend.FieldErrorf("special", "at most %d codes", MaxSpecials)
	case o.Calibration != "" && o.Calibration != scoring.CalibrationIsotonic && o.Calibration != scoring.CalibrationLogistic:
		return lend.FieldErrorf("calibration", "must be isotonic or logistic, got %q", o.Calibration)
	case o.Tune != "" && o.Tune != TuneAuto && o.Tune != TuneOff:
		return lend.FieldErrorf("tune", "must be auto or off, got %q", o.Tune)
	case o.SplitBy != "" && o.TestFrac == 0:
		return lend.FieldErrorf("test-frac", "an out-of-time split needs --test-frac > 0")
	}
	for _, s := range o.Special {
		if math.IsNaN(s) || math.IsInf(s, 0) {
			return lend.FieldErrorf("special", "codes must be finite numbers")
		}
	}
	return nil
}

// Result is a trained model and what the report needs to draw it.
type Result struct {
	Model    *scoring.Model
	Warnings []string
	// Scores, PDs and labels of the train and test rows, for the report.
	TrainScore, TestScore []int
	TrainPD, TestPD       []float64
	TrainY, TestY         []int8
	// Tuning is every grid point's cross-validated AUC when Options.Tune
	// chose the hyperparameters (nil otherwise).
	Tuning []TunePoint
}

// Train reads the data, builds the scorecard and returns it with its validation figures.
func Train(ctx context.Context, opt Options) (*Result, error) {
	if err := opt.validate(); err != nil {
		return nil, err
	}
	want := []string{opt.Target, opt.ID, opt.SplitBy, opt.CapacityTarget}
	want = append(want, opt.Exclude...)
	tab, err := Read(ctx, opt.Data, ReadOptions{SkipRows: opt.SkipRows, Want: want})
	if err != nil {
		return nil, err
	}
	if tab.Rows < MinRows {
		return nil, lend.Errorf(lend.EINVALID, "data: %s has %d row(s); training needs at least %d", tab.Source, tab.Rows, MinRows)
	}
	y, err := targetLabels(tab.Col(opt.Target), opt.Bad)
	if err != nil {
		return nil, err
	}
	// Canonical row order before the seeded split (see canonicalOrder); the
	// fingerprint is then of the content, not of the file's byte order.
	perm := canonicalOrder(tab, opt.ID)
	y = permuted(y, perm)
	tab.SHA256 = contentSHA256(tab)
	train, test, err := split(tab, y, perm, opt)
	if err != nil {
		return nil, err
	}
	res := &Result{}
	// Candidates.
	skip := map[string]string{opt.Target: "target", opt.ID: "id column", opt.SplitBy: "split column", opt.CapacityTarget: "capacity target"}
	for _, e := range opt.Exclude {
		skip[e] = "excluded"
	}
	specials := slices.Clone(opt.Special)
	slices.Sort(specials)
	specials = slices.Compact(specials)
	cfg := binConfig{maxBins: opt.MaxBins, minShare: opt.MinBinShare, trend: opt.Monotonic, specials: specials}
	var cands []*Column
	var candidates []scoring.Candidate
	for _, c := range tab.Columns {
		if _, ok := skip[c.Name]; ok && c.Name != "" {
			continue
		}
		switch {
		case c.Kind == kindTime || c.Kind == kindIgnored:
			candidates = append(candidates, scoring.Candidate{Name: c.Name, Type: strings.ToLower(c.DuckType), Status: "dropped: neither a number nor text"})
		case c.Kind == KindNumeric && isRowIndex(c.Num):
			candidates = append(candidates, scoring.Candidate{Name: c.Name, Type: c.Kind, Status: "dropped: row index (consecutive unique integers)"})
		default:
			cands = append(cands, c)
		}
	}
	if opt.Tune == TuneAuto && !tuneWanted(opt, len(train)) {
		// Recorded as off: the artifact states the options it was trained with.
		res.Warnings = append(res.Warnings, fmt.Sprintf("--tune auto skipped: %d training rows exceed %d; the options are used as given", len(train), TuneMaxRows))
		opt.Tune = TuneOff
	}
	if tuneWanted(opt, len(train)) {
		// An out-of-time split is tuned out of time too: tune gets the
		// training rows in the split column's order (theirs only).
		var byTime []int
		if opt.SplitBy != "" {
			byTime = timeOrdered(tab.Col(opt.SplitBy), train)
		}
		opt, res.Tuning, err = tune(ctx, cands, y, train, byTime, opt, specials)
		if err != nil {
			return nil, err
		}
		if !slices.ContainsFunc(res.Tuning, func(p TunePoint) bool { return !math.IsNaN(p.CVAUC) }) {
			// Every point failed in some fold (e.g. a time block of one class):
			// the risk officer learns the tuning chose nothing.
			res.Warnings = append(res.Warnings, "--tune auto: no grid point could be validated in every fold (a fold with one class, or no usable variable); the options are used as given")
		}
		cfg.maxBins, cfg.minShare = opt.MaxBins, opt.MinBinShare
	}
	bs, err := binStage(ctx, cands, y, train, cfg)
	if err != nil {
		return nil, err
	}
	binned, woe := bs.binned, bs.woe
	ytr := labelsOf(y, train)
	kept, fit, status, err := selectAndFit(bs, ytr, opt)
	if err != nil {
		return nil, err
	}
	if len(kept) == 0 || fit == nil {
		var why []string
		for _, c := range candidates {
			why = append(why, c.Name+" "+c.Status)
		}
		for _, b := range binned {
			why = append(why, b.v.Name+" "+status[b.v.Name])
		}
		if len(why) == 0 {
			why = append(why, "the file has no column besides the target, id and excluded ones")
		}
		return nil, lend.Errorf(lend.EINVALID, "no usable variable: %s", strings.Join(firstN(why, 8), "; "))
	}
	vifs := vif(kept, woe)

	// Build the model.
	m := &scoring.Model{
		FormatVersion: scoring.FormatVersion,
		Data: scoring.DataFingerprint{Rows: tab.Rows, Columns: len(tab.Columns), SHA256: tab.SHA256,
			BadRate: rate(y), Source: tab.Source, SkipRows: tab.SkipRows, TrainRows: len(train), TestRows: len(test)},
		Options: optionList(opt),
		Target:  opt.Target,
		Grades:  scoring.DefaultGrades(),
		Policy:  scoring.DefaultPolicy(),
	}
	factor := opt.PDO / math.Ln2
	offset := opt.BaseScore - factor*math.Log(opt.BaseOdds)
	m.Scaling = scoring.Scaling{PDO: opt.PDO, BaseScore: opt.BaseScore, BaseOdds: opt.BaseOdds, Factor: factor, Offset: offset}
	m.Intercept = fit.Coef[0]
	shares := baseShares(offset-factor*fit.Coef[0], len(kept))
	for j, i := range kept {
		v := binned[i].v
		v.Coefficient, v.StdErr, v.PValue = fit.Coef[j+1], fit.StdErr[j+1], fit.PValue[j+1]
		v.ReasonCode, v.ReasonText = reasonFor(v.Name)
		v.VIF = vifs[j]
		v.Trend = binned[i].trend
		v.Bins = slices.Clone(v.Bins)
		for b, p := range binPoints(v.Bins, factor, v.Coefficient) {
			v.Bins[b].Points = p + shares[j]
			if unseenBin(v.Bins[b]) {
				v.Bins[b].Label += " " + unseenLabel
			}
		}
		m.Variables = append(m.Variables, v)
		status[v.Name] = "selected"
	}
	dedupeReasonCodes(m.Variables)
	for _, b := range binned {
		candidates = append(candidates, scoring.Candidate{Name: b.v.Name, Type: b.v.Type, IV: b.iv, Status: status[b.v.Name]})
	}
	sort.SliceStable(candidates, func(a, b int) bool { return candidates[a].Name < candidates[b].Name })
	m.Candidates = candidates

	// Scores through the scorer, then the calibration (see calibrate).
	sc := scoring.NewScorer(m)
	trScore := scoreRows(sc, tab, train)
	teScore := scoreRows(sc, tab, test)
	teY := labelsOf(y, test)
	cal, err := calibrate(opt.Calibration, trScore, ytr, teScore, teY)
	if err != nil {
		return nil, err
	}
	m.Calibration = cal
	// Calibration changes PDs, never scores: the scores above stand, and the
	// PDs come from the calibrated scorer's own PD function.
	sc = scoring.NewScorer(m)
	res.TrainScore, res.TestScore = trScore, teScore
	res.TrainPD, res.TestPD = pdsOf(sc, trScore), pdsOf(sc, teScore)
	res.TrainY, res.TestY = ytr, teY
	m.Metrics.Train = computeMetrics(res.TrainScore, res.TrainPD, ytr, opt.Seed)
	m.Metrics.ScoreCuts = scoreCuts(res.TrainScore)
	m.Metrics.ScoreShares = scoreShares(res.TrainScore, m.Metrics.ScoreCuts)
	if len(test) > 0 {
		m.Metrics.Test = computeMetrics(res.TestScore, res.TestPD, teY, opt.Seed+1)
		m.Metrics.Test.PSI = PSI(m.Metrics.ScoreShares, scoreShares(res.TestScore, m.Metrics.ScoreCuts))
		m.Metrics.TestBands = bands(res.TestScore, res.TestPD, teY, 10)
	}
	if opt.CapacityTarget != "" {
		capm, warn, err := fitCapacity(tab, cands, opt.CapacityTarget, train, test)
		if err != nil {
			return nil, err
		}
		if warn != "" {
			res.Warnings = append(res.Warnings, warn)
		}
		m.Capacity = capm
	}
	if err := finish(m, opt.CreatedAt); err != nil {
		return nil, err
	}
	res.Model = m
	return res, nil
}

// unseenLabel follows the label of a missing or special bin that training
// never saw, whose points are the worst attribute's (see binPoints).
const unseenLabel = "(not seen in training: scored as the worst attribute)"

// unseenBin reports a missing or special-code bin no training row fell in.
func unseenBin(b scoring.Bin) bool {
	return b.Count == 0 && (b.Kind == scoring.BinMissing || b.Kind == scoring.BinSpecial)
}

// binPoints returns each bin's points before the base share:
// round(−factor·coef·WoE), except that a missing or special bin training
// never saw (count 0, WoE 0, which would be neutral points) gets the worst
// attribute's points, the fewest over the bins training saw. The scorer
// promises that an unknown value is never rewarded, and the points table
// must say so, not show neutral points. The "levels not seen in training"
// bin of a categorical variable keeps its own WoE (the rare levels').
func binPoints(bins []scoring.Bin, factor, coef float64) []int {
	pts := make([]int, len(bins))
	worst, seen := 0, false
	for b := range bins {
		pts[b] = int(math.Round(-factor * coef * bins[b].WoE))
		if bins[b].Count > 0 && (!seen || pts[b] < worst) {
			worst, seen = pts[b], true
		}
	}
	if seen {
		for b := range bins {
			if unseenBin(bins[b]) {
				pts[b] = worst
			}
		}
	}
	return pts
}

// finish stamps the content hash and creation time and validates the artifact.
func finish(m *scoring.Model, created time.Time) error {
	id, err := m.ComputeID()
	if err != nil {
		return lend.Wrap(lend.EINTERNAL, err, "model id: %v", err)
	}
	m.ID = id
	if !created.IsZero() {
		m.CreatedAt = created.UTC().Format(time.RFC3339)
	}
	if err := m.Validate(); err != nil {
		return lend.Wrap(lend.EINTERNAL, err, "trained model is invalid: %s", lend.ErrorMessage(err))
	}
	return nil
}

// binnedStage is the first half of the pipeline on a set of training rows:
// every candidate binned, and the WoE of those rows for each usable variable
// (keyed by index into binned; rows in the order given).
type binnedStage struct {
	binned []binnedVar
	woe    map[int][]float64
}

// binStage bins the candidates on rows and computes the rows' WoE columns
// through the scorer's own bin lookup. Train runs it on the training part,
// tune on each fold's fitting rows.
func binStage(ctx context.Context, cands []*Column, y []int8, rows []int, cfg binConfig) (*binnedStage, error) {
	binned := make([]binnedVar, len(cands))
	parallel(len(cands), func(i int) {
		c := cands[i]
		if c.Kind == KindNumeric {
			binned[i] = binNumeric(c.Name, c.Num, y, rows, cfg)
		} else {
			binned[i] = binCategorical(c.Name, c.Str, y, rows, cfg)
		}
	})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var usable []int
	for i, b := range binned {
		if b.reason == "" {
			usable = append(usable, i)
		}
	}
	tmp := &scoring.Model{}
	for _, i := range usable {
		tmp.Variables = append(tmp.Variables, binned[i].v)
	}
	sc := scoring.NewScorer(tmp)
	woe := make(map[int][]float64, len(usable))
	var mu sync.Mutex
	var firstErr error
	parallel(len(usable), func(k int) {
		i := usable[k]
		w, err := woeColumn(sc, k, cands[i], &binned[i], rows, y)
		mu.Lock()
		defer mu.Unlock()
		if err != nil && firstErr == nil {
			firstErr = err
		}
		woe[i] = w
	})
	if firstErr != nil {
		return nil, firstErr
	}
	return &binnedStage{binned: binned, woe: woe}, nil
}

// selectAndFit is the second half of the pipeline: the IV filter, the
// correlation filter in IV order, optional stepwise, and the logistic fit
// with wrong-sign removal. ytr are the labels of the rows binStage saw, in
// its order. It returns the kept variables (indices into bs.binned), the fit
// (nil when no variable survives) and each variable's status.
func selectAndFit(bs *binnedStage, ytr []int8, opt Options) ([]int, *logitFit, map[string]string, error) {
	binned, woe := bs.binned, bs.woe
	status := map[string]string{}
	var pool []int // indices into binned
	for i, b := range binned {
		switch {
		case b.reason != "":
			status[b.v.Name] = "dropped: " + b.reason
		case b.iv < opt.MinIV:
			status[b.v.Name] = fmt.Sprintf("dropped: IV %.4f below --min-iv %g", b.iv, opt.MinIV)
		default:
			pool = append(pool, i)
		}
	}
	// Correlation filter in IV order.
	sort.SliceStable(pool, func(a, b int) bool {
		if binned[pool[a]].iv != binned[pool[b]].iv {
			return binned[pool[a]].iv > binned[pool[b]].iv
		}
		return binned[pool[a]].v.Name < binned[pool[b]].v.Name
	})
	var kept []int
	for _, i := range pool {
		drop := ""
		for _, k := range kept {
			if r := pearson(woe[i], woe[k]); math.Abs(r) > opt.MaxCorr {
				drop = fmt.Sprintf("dropped: |corr(WoE)| %.2f with %s (higher IV) above --max-corr %g", math.Abs(r), binned[k].v.Name, opt.MaxCorr)
				break
			}
		}
		if drop != "" {
			status[binned[i].v.Name] = drop
			continue
		}
		kept = append(kept, i)
	}
	if opt.Stepwise && len(kept) > 0 {
		if len(kept) > MaxStepwiseVars {
			kept = kept[:MaxStepwiseVars]
		}
		sel, err := stepwise(kept, woe, ytr, opt.L2)
		if err != nil {
			return nil, nil, nil, err
		}
		for _, i := range kept {
			if !slices.Contains(sel, i) {
				status[binned[i].v.Name] = "dropped: stepwise AIC did not add it"
			}
		}
		kept = sel
	}
	// Fit; a wrong-sign coefficient (positive on WoE: more evidence of good
	// meaning more risk) removes its variable and the model is refitted.
	for len(kept) > 0 {
		fit, err := fitLogit(designOf(kept, woe, len(ytr)), ytr, opt.L2)
		if err != nil {
			return nil, nil, nil, err
		}
		worst, wc := -1, 0.0
		for j := range kept {
			if c := fit.Coef[j+1]; c > wc {
				worst, wc = j, c
			}
		}
		if worst < 0 {
			return kept, fit, status, nil
		}
		status[binned[kept[worst]].v.Name] = fmt.Sprintf("dropped: wrong-sign coefficient %+.3f", wc)
		kept = slices.Delete(kept, worst, worst+1)
	}
	return nil, nil, status, nil
}

func firstN(v []string, n int) []string {
	if len(v) > n {
		return append(v[:n:n], fmt.Sprintf("... (%d more)", len(v)-n))
	}
	return v
}

// parallel runs f(0..n-1) on GOMAXPROCS workers.
func parallel(n int, f func(i int)) {
	w := min(runtime.GOMAXPROCS(0), n)
	var next int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for k := 0; k < w; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= n {
					return
				}
				f(i)
			}
		}()
	}
	wg.Wait()
}

// isRowIndex reports whether x holds consecutive distinct integers (a pandas
// index column such as the unnamed first column of the Home Credit sample).
func isRowIndex(x []float64) bool {
	if len(x) < MinRows {
		return false
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range x {
		if math.IsNaN(v) || v != math.Trunc(v) {
			return false
		}
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	if hi-lo != float64(len(x)-1) {
		return false
	}
	seen := make([]bool, len(x))
	for _, v := range x {
		k := int(v - lo)
		if seen[k] {
			return false
		}
		seen[k] = true
	}
	return true
}

// binOf is row r's bin of c, the scorer's variable k (-1 when none).
func binOf(sc *scoring.Scorer, k int, c *Column, r int) int {
	if c.Kind == KindNumeric {
		return sc.BinNumeric(k, c.Num[r])
	}
	return sc.BinCategorical(k, c.Str[r])
}

// woeColumn assigns every training row to a bin with the scorer's own lookup
// (so a value on a boundary lands where scoring will put it), checks the
// counts against the binning, and returns the rows' WoE.
func woeColumn(sc *scoring.Scorer, k int, c *Column, bv *binnedVar, rows []int, y []int8) ([]float64, error) {
	bins := bv.v.Bins
	n := make([]int, len(bins))
	b := make([]int, len(bins))
	w := make([]float64, len(rows))
	for t, r := range rows {
		j := binOf(sc, k, c, r)
		if j < 0 {
			return nil, lend.Errorf(lend.EINTERNAL, "variable %s: training row %d falls in no bin", c.Name, r+1)
		}
		n[j]++
		b[j] += int(y[r])
		w[t] = bins[j].WoE
	}
	for j := range bins {
		if n[j] != bins[j].Count || b[j] != bins[j].Bads {
			return nil, lend.Errorf(lend.EINTERNAL, "variable %s bin %s: binning counted %d rows, the scorer %d", c.Name, bins[j].Label, bins[j].Count, n[j])
		}
	}
	return w, nil
}

func pearson(a, b []float64) float64 {
	n := float64(len(a))
	var ma, mb float64
	for i := range a {
		ma += a[i]
		mb += b[i]
	}
	ma /= n
	mb /= n
	var sab, saa, sbb float64
	for i := range a {
		da, db := a[i]-ma, b[i]-mb
		sab += da * db
		saa += da * da
		sbb += db * db
	}
	if saa == 0 || sbb == 0 {
		return 0
	}
	return sab / math.Sqrt(saa*sbb)
}

func designOf(vars []int, woe map[int][]float64, n int) design {
	p := len(vars)
	x := make([]float64, n*p)
	for j, v := range vars {
		col := woe[v]
		for i := 0; i < n; i++ {
			x[i*p+j] = col[i]
		}
	}
	return design{n: n, p: p, x: x}
}

// stepwise is forward selection by AIC: start from the intercept, add the
// candidate that lowers AIC most, stop when none does.
func stepwise(cands []int, woe map[int][]float64, y []int8, l2 float64) ([]int, error) {
	var sel []int
	bases, _ := fitLogit(design{n: len(y)}, y, l2)
	best := bases.AIC()
	for {
		bi, ba := -1, best
		for _, c := range cands {
			if slices.Contains(sel, c) {
				continue
			}
			f, err := fitLogit(designOf(append(slices.Clone(sel), c), woe, len(y)), y, l2)
			if err != nil {
				continue
			}
			if a := f.AIC(); a < ba-1e-9 {
				bi, ba = c, a
			}
		}
		if bi < 0 {
			return sel, nil
		}
		sel = append(sel, bi)
		best = ba
	}
}

// vif returns the variance inflation factors: the diagonal of the inverse
// correlation matrix of the selected WoE columns (0 when it is singular).
func vif(vars []int, woe map[int][]float64) []float64 {
	p := len(vars)
	out := make([]float64, p)
	if p == 1 {
		out[0] = 1
		return out
	}
	r := mat.NewSymDense(p, nil)
	for a := 0; a < p; a++ {
		for b := a; b < p; b++ {
			v := 1.0
			if a != b {
				v = pearson(woe[vars[a]], woe[vars[b]])
			}
			r.SetSym(a, b, v)
		}
	}
	var ch mat.Cholesky
	if !ch.Factorize(r) {
		return out
	}
	var inv mat.SymDense
	if err := ch.InverseTo(&inv); err != nil {
		return out
	}
	for a := 0; a < p; a++ {
		out[a] = inv.At(a, a)
	}
	return out
}

// baseShares splits the rounded base points (offset − factor·intercept) over
// p variables as integers that add up exactly.
func baseShares(base float64, p int) []int {
	total := int(math.Round(base))
	q := total / p
	if total%p != 0 && total < 0 {
		q-- // floor division
	}
	r := total - q*p
	s := make([]int, p)
	for i := range s {
		s[i] = q
		if i < r {
			s[i]++
		}
	}
	return s
}

// dedupeReasonCodes makes hashed codes unique within a model (a collision of
// two 20-bit hashes is unlikely but must not print one code for two reasons).
func dedupeReasonCodes(vs []scoring.Variable) {
	seen := map[string]bool{}
	for i := range vs {
		c := vs[i].ReasonCode
		for k := 2; seen[c]; k++ {
			c = fmt.Sprintf("%s-%d", vs[i].ReasonCode, k)
		}
		vs[i].ReasonCode = c
		seen[c] = true
	}
}

func rate(y []int8) float64 { return float64(count1(y)) / float64(len(y)) }

func count1(y []int8) int {
	n := 0
	for _, v := range y {
		n += int(v)
	}
	return n
}

func labelsOf(y []int8, rows []int) []int8 {
	out := make([]int8, len(rows))
	for k, r := range rows {
		out[k] = y[r]
	}
	return out
}

// rowInputs fills num/str for row r in model variable order.
func rowInputs(m *scoring.Model, cols []*Column, r int, num []float64, str []string) {
	for i, v := range m.Variables {
		c := cols[i]
		if v.Type == KindCategorical {
			if c.Kind == KindNumeric {
				str[i] = ""
				if x := c.Num[r]; !math.IsNaN(x) {
					str[i] = strconv.FormatFloat(x, 'g', -1, 64)
				}
			} else {
				str[i] = c.Str[r]
			}
			continue
		}
		num[i] = c.Num[r]
	}
}

func modelColumns(m *scoring.Model, tab *Table) []*Column {
	cols := make([]*Column, len(m.Variables))
	for i, v := range m.Variables {
		cols[i] = tab.Col(v.Name)
	}
	return cols
}

func scoreRows(sc *scoring.Scorer, tab *Table, rows []int) []int {
	s, _ := scoreAndPD(sc, tab, rows)
	return s
}

// scoreAndPD scores rows of tab with the scorer: the one path every reported score takes.
func scoreAndPD(sc *scoring.Scorer, tab *Table, rows []int) ([]int, []float64) {
	m := sc.Model()
	cols := modelColumns(m, tab)
	num := make([]float64, len(cols))
	str := make([]string, len(cols))
	r := sc.NewResult()
	score := make([]int, len(rows))
	pd := make([]float64, len(rows))
	for k, row := range rows {
		rowInputs(m, cols, row, num, str)
		sc.Score(num, str, r)
		score[k], pd[k] = r.Score, r.PD
	}
	return score, pd
}

// calibrationMethod resolves the calibration option ("" is the default).
func calibrationMethod(o string) string {
	if o == "" {
		return scoring.CalibrationIsotonic
	}
	return o
}

// calibrate fits the score-to-PD map. Isotonic (the default) is fitted on the
// training part, so the test part stays an honest check of it; logistic is
// fitted on the test part, as it always was. Either falls back to all rows
// when its part has fewer than MinCalibrationBads bads or goods.
func calibrate(method string, trScore []int, trY []int8, teScore []int, teY []int8) (scoring.Calibration, error) {
	all := func() ([]int, []int8) {
		return append(slices.Clone(trScore), teScore...), append(slices.Clone(trY), teY...)
	}
	enough := func(y []int8) bool {
		nb := count1(y)
		return nb >= MinCalibrationBads && len(y)-nb >= MinCalibrationBads
	}
	if calibrationMethod(method) == scoring.CalibrationLogistic {
		score, y, on := teScore, teY, "test"
		if !enough(teY) {
			score, y = all()
			on = "all"
		}
		c, err := calibrateLogistic(score, y)
		c.FittedOn = on
		return c, err
	}
	score, y, on := trScore, trY, "train"
	if !enough(trY) {
		score, y = all()
		on = "all"
	}
	c := scoring.Calibration{Method: scoring.CalibrationIsotonic, N: len(score), FittedOn: on}
	c.Knots = isotonicKnots(score, y, max(IsotonicMinBlockRows, int(math.Ceil(IsotonicMinBlockShare*float64(len(score))))))
	if len(c.Knots) == 0 {
		return c, lend.Errorf(lend.EINVALID, "calibration: no rows to fit")
	}
	return c, nil
}

// isoBlock is a run of consecutive distinct scores pooled by the PAV fit.
type isoBlock struct {
	lo, hi   int     // lowest and highest score in the block
	n, bads  int     // rows and bads
	sumScore float64 // Σ score over the rows, for the block's mean score
}

func (b isoBlock) rate() float64 { return float64(b.bads) / float64(b.n) }

func (b isoBlock) merge(c isoBlock) isoBlock {
	return isoBlock{lo: min(b.lo, c.lo), hi: max(b.hi, c.hi), n: b.n + c.n, bads: b.bads + c.bads, sumScore: b.sumScore + c.sumScore}
}

// isotonicKnots fits PD non-increasing in score by pool-adjacent-violators
// with blocks of at least minRows rows, and returns the knots, strictly
// ascending in score and strictly descending in PD:
//
//  1. rows are grouped by distinct score (ascending), and consecutive scores
//     are pooled into chunks of at least minRows rows (a short last chunk
//     joins the one before), so every block is large enough to trust;
//  2. PAV: a chunk whose bad rate is not below the previous block's is merged
//     into it (repeatedly, back down the stack), leaving strictly falling rates;
//  3. each rate is clamped into [MinCalibratedPD, MaxCalibratedPD] and blocks
//     that clamping made equal are pooled;
//  4. a block's knot sits at its mean score, except that the first block's
//     sits at its lowest score and the last block's at its highest, so the PD
//     falls strictly over the whole training score range and ranks rows
//     exactly as the score does (the test AUC of the PD is the score's).
//
// Returns nil for no rows.
func isotonicKnots(score []int, y []int8, minRows int) []scoring.Knot {
	if len(score) == 0 {
		return nil
	}
	ord := make([]int, len(score))
	for i := range ord {
		ord[i] = i
	}
	sort.SliceStable(ord, func(a, b int) bool { return score[ord[a]] < score[ord[b]] })
	// 1. chunks of consecutive distinct scores with >= minRows rows
	var chunks []isoBlock
	cur := isoBlock{lo: score[ord[0]], hi: score[ord[0]]}
	for k, i := range ord {
		s := score[i]
		if k > 0 && s != score[ord[k-1]] && cur.n >= minRows {
			chunks = append(chunks, cur)
			cur = isoBlock{lo: s, hi: s}
		}
		cur.hi = s
		cur.n++
		cur.bads += int(y[i])
		cur.sumScore += float64(s)
	}
	if cur.n < minRows && len(chunks) > 0 {
		chunks[len(chunks)-1] = chunks[len(chunks)-1].merge(cur)
	} else {
		chunks = append(chunks, cur)
	}
	// 2. pool adjacent violators (rates must fall strictly with score)
	var st []isoBlock
	for _, c := range chunks {
		st = append(st, c)
		for len(st) > 1 && st[len(st)-1].rate() >= st[len(st)-2].rate() {
			st = append(st[:len(st)-2], st[len(st)-2].merge(st[len(st)-1]))
		}
	}
	// 3. clamp, pooling blocks the clamp made equal
	clamp := func(p float64) float64 { return min(max(p, scoring.MinCalibratedPD), scoring.MaxCalibratedPD) }
	var blocks []isoBlock
	for _, b := range st {
		if k := len(blocks) - 1; k >= 0 && clamp(b.rate()) == clamp(blocks[k].rate()) {
			blocks[k] = blocks[k].merge(b)
			continue
		}
		blocks = append(blocks, b)
	}
	// 4. knots
	knots := make([]scoring.Knot, len(blocks))
	for k, b := range blocks {
		at := b.sumScore / float64(b.n)
		switch {
		case len(blocks) == 1:
		case k == 0:
			at = float64(b.lo)
		case k == len(blocks)-1:
			at = float64(b.hi)
		}
		knots[k] = scoring.Knot{Score: at, PD: clamp(b.rate())}
	}
	return knots
}

// calibrateLogistic fits PD = 1/(1+exp(−(A + B·score))) by logistic regression of the
// outcome on the score (Platt scaling). The score is standardised for the fit
// and the coefficients mapped back.
func calibrateLogistic(score []int, y []int8) (scoring.Calibration, error) {
	n := len(score)
	var mean, sd float64
	for _, s := range score {
		mean += float64(s)
	}
	mean /= float64(n)
	for _, s := range score {
		d := float64(s) - mean
		sd += d * d
	}
	sd = math.Sqrt(sd / float64(n))
	c := scoring.Calibration{Method: scoring.CalibrationLogistic, N: n}
	if sd == 0 {
		p := rate(y)
		c.A = math.Log(p / (1 - p))
		return c, nil
	}
	x := make([]float64, n)
	for i, s := range score {
		x[i] = (float64(s) - mean) / sd
	}
	f, err := fitLogit(design{n: n, p: 1, x: x}, y, 0)
	if err != nil {
		return c, err
	}
	c.B = f.Coef[1] / sd
	c.A = f.Coef[0] - f.Coef[1]*mean/sd
	return c, nil
}

// bands splits rows sorted by score into k equal groups and compares mean PD
// with the observed bad rate in each.
func bands(score []int, pd []float64, y []int8, k int) []scoring.Band {
	n := len(score)
	if n < k {
		return nil
	}
	ord := make([]int, n)
	for i := range ord {
		ord[i] = i
	}
	sort.SliceStable(ord, func(a, b int) bool { return score[ord[a]] < score[ord[b]] })
	var out []scoring.Band
	for g := 0; g < k; g++ {
		lo, hi := g*n/k, (g+1)*n/k
		b := scoring.Band{MinScore: score[ord[lo]], MaxScore: score[ord[hi-1]], N: hi - lo}
		var sp, sy float64
		for _, i := range ord[lo:hi] {
			sp += pd[i]
			sy += float64(y[i])
		}
		b.MeanPD, b.ObservedBR = sp/float64(b.N), sy/float64(b.N)
		out = append(out, b)
	}
	return out
}

// split returns the training and test row indices: a stratified seeded
// random split, or out of time by --split-by.
// fileRow maps a row position to its 0-based position in the file.
func split(tab *Table, y []int8, fileRow []int, opt Options) (train, test []int, err error) {
	n := len(y)
	if opt.SplitBy != "" {
		c := tab.Col(opt.SplitBy)
		key := func(i int) (float64, string) {
			if c.Kind == KindNumeric {
				return c.Num[i], ""
			}
			return 0, c.Str[i]
		}
		ord := make([]int, n)
		for i := range ord {
			ord[i] = i
			if f, s := key(i); (c.Kind == KindNumeric && math.IsNaN(f)) || (c.Kind != KindNumeric && s == "") {
				return nil, nil, lend.FieldErrorf("split-by", "column %q is empty at data row %d", opt.SplitBy, fileRow[i]+1)
			}
		}
		less := func(a, b int) bool {
			fa, sa := key(a)
			fb, sb := key(b)
			if c.Kind == KindNumeric {
				return fa < fb
			}
			return sa < sb
		}
		sort.SliceStable(ord, func(a, b int) bool { return less(ord[a], ord[b]) })
		cut := ord[int(float64(n)*(1-opt.TestFrac))]
		for i := 0; i < n; i++ {
			if less(i, cut) {
				train = append(train, i)
			} else {
				test = append(test, i)
			}
		}
	} else {
		rng := rand.New(rand.NewPCG(opt.Seed, 0x73706c6974))
		for cls := int8(0); cls <= 1; cls++ {
			var idx []int
			for i, v := range y {
				if v == cls {
					idx = append(idx, i)
				}
			}
			rng.Shuffle(len(idx), func(a, b int) { idx[a], idx[b] = idx[b], idx[a] })
			nt := int(math.Round(opt.TestFrac * float64(len(idx))))
			test = append(test, idx[:nt]...)
			train = append(train, idx[nt:]...)
		}
		slices.Sort(train)
		slices.Sort(test)
	}
	trY := labelsOf(y, train)
	if nb := count1(trY); nb < MinClassRows || len(trY)-nb < MinClassRows {
		return nil, nil, lend.Errorf(lend.EINVALID, "the training part has %d bads and %d goods; it needs at least %d of each", nb, len(trY)-nb, MinClassRows)
	}
	if len(test) > 0 {
		teY := labelsOf(y, test)
		if nb := count1(teY); nb == 0 || nb == len(teY) {
			return nil, nil, lend.Errorf(lend.EINVALID, "the test part (%d rows) has only one class; change --test-frac or --split-by", len(teY))
		}
	}
	return train, test, nil
}

// optionList records the options that shape the model, sorted by name.
func optionList(o Options) []scoring.Option {
	g := func(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
	var sp []string
	for _, s := range o.Special {
		sp = append(sp, g(s))
	}
	ops := []scoring.Option{
		{Name: "bad", Value: o.Bad}, {Name: "base_odds", Value: g(o.BaseOdds)}, {Name: "base_score", Value: g(o.BaseScore)},
		{Name: "calibration", Value: calibrationMethod(o.Calibration)}, {Name: "capacity_target", Value: o.CapacityTarget}, {Name: "exclude", Value: strings.Join(o.Exclude, ",")},
		{Name: "id", Value: o.ID}, {Name: "l2", Value: g(o.L2)}, {Name: "max_bins", Value: strconv.Itoa(o.MaxBins)},
		{Name: "max_corr", Value: g(o.MaxCorr)}, {Name: "min_bin_share", Value: g(o.MinBinShare)}, {Name: "min_iv", Value: g(o.MinIV)},
		{Name: "monotonic", Value: o.Monotonic}, {Name: "pdo", Value: g(o.PDO)}, {Name: "seed", Value: strconv.FormatUint(o.Seed, 10)},
		{Name: "skip_rows", Value: strconv.Itoa(o.SkipRows)}, {Name: "special", Value: strings.Join(sp, ",")},
		{Name: "split_by", Value: o.SplitBy}, {Name: "stepwise", Value: strconv.FormatBool(o.Stepwise)},
		{Name: "target", Value: o.Target}, {Name: "test_frac", Value: g(o.TestFrac)},
	}
	if o.Tune == TuneAuto {
		// Recorded only when on, so artifacts trained without tuning keep their bytes.
		ops = append(ops, scoring.Option{Name: "tune", Value: o.Tune})
		if o.SplitBy != "" {
			// The folds were forward-chaining in the split column (see
			// tune); an artifact without this option was tuned on random
			// stratified folds.
			ops = append(ops, scoring.Option{Name: "tune_folds", Value: "time"})
		}
	}
	sort.Slice(ops, func(a, b int) bool { return ops[a].Name < ops[b].Name })
	return ops
}

// OptionValue returns a recorded training option of m ("" when absent).
func OptionValue(m *scoring.Model, name string) string {
	for _, o := range m.Options {
		if o.Name == name {
			return o.Value
		}
	}
	return ""
}

// fitCapacity fits the repayment-capacity regression on the numeric candidate
// columns. A capacity model that is not available yet is a warning, not a
// failure: scoring falls back to observed sales.
func fitCapacity(tab *Table, cands []*Column, target string, train, test []int) (*scoring.CapacityModel, string, error) {
	tc := tab.Col(target)
	if tc.Kind != KindNumeric {
		return nil, "", lend.FieldErrorf("capacity-target", "column %q is not numeric", target)
	}
	var names []string
	var cols []*Column
	for _, c := range cands {
		if c.Kind == KindNumeric {
			names = append(names, c.Name)
			cols = append(cols, c)
		}
	}
	mk := func(rows []int) ([][]float64, []float64) {
		x := make([][]float64, len(rows))
		yv := make([]float64, len(rows))
		for k, r := range rows {
			x[k] = make([]float64, len(cols))
			for j, c := range cols {
				x[k][j] = c.Num[r]
			}
			yv[k] = tc.Num[r]
		}
		return x, yv
	}
	x, yv := mk(train)
	tx, ty := mk(test)
	capm, err := scoring.FitCapacity(target, names, x, yv, tx, ty)
	if err != nil {
		if lend.ErrorCode(err) == lend.ENOTIMPL {
			return nil, "capacity model not written: " + lend.ErrorMessage(err) + " (scoring falls back to observed sales)", nil
		}
		return nil, "", err
	}
	return capm, "", nil
}

func pdsOf(sc *scoring.Scorer, score []int) []float64 {
	pd := make([]float64, len(score))
	for i, s := range score {
		pd[i] = sc.PD(s)
	}
	return pd
}
