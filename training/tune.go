package training

import (
	"cmp"
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/lendhq/lend/scoring"
)

// Values of Options.Tune.
const (
	TuneAuto = "auto" // cross-validate the grid when the training part is small enough
	TuneOff  = "off"  // use the options as given
)

// Cross-validation of the hyperparameters (Options.Tune "auto").
const (
	TuneFolds = 5 // folds of the training part (stratified, or forward-chaining with SplitBy)
	// TuneMaxRows is the largest training part tuned. The grid costs
	// TuneFolds × 8 binnings and TuneFolds × 64 selections and fits: on
	// 21,000 training rows (Taiwan) that took 13 s against 1 s for one
	// training (2 loaded cores), growing with the rows, while the
	// hyperparameters matter less the more rows there are. Larger parts (the
	// 1,000,000-row benchmark) train as given.
	TuneMaxRows = 50_000
)

// The grid tuned over. The first value of each is its default in Defaults,
// so the default point is tried first and wins every tie.
var (
	tuneMaxBins  = []int{8, 4, 5, 6}
	tuneMinShare = []float64{0.05, 0.10}
	tuneMinIV    = []float64{0.02, 0.05}
	tuneL2       = []float64{0, 0.5, 2, 8}
)

// TunePoint is one grid point and its mean validation AUC over the folds
// (NaN when the pipeline found no usable variable, or failed, in some fold).
type TunePoint struct {
	MaxBins     int
	MinBinShare float64
	MinIV       float64
	L2          float64
	CVAUC       float64
}

// tuneGrid lists the grid points in order. An option set to something other
// than its default is the user's choice and is held fixed; the others range
// over their grid.
func tuneGrid(opt Options) []TunePoint {
	d := Defaults()
	pick := func(grid []float64, v, def float64) []float64 {
		if v != def {
			return []float64{v}
		}
		return grid
	}
	bins := tuneMaxBins
	if opt.MaxBins != d.MaxBins {
		bins = []int{opt.MaxBins}
	}
	var pts []TunePoint
	for _, mb := range bins {
		for _, ms := range pick(tuneMinShare, opt.MinBinShare, d.MinBinShare) {
			for _, iv := range pick(tuneMinIV, opt.MinIV, d.MinIV) {
				for _, l2 := range pick(tuneL2, opt.L2, d.L2) {
					pts = append(pts, TunePoint{MaxBins: mb, MinBinShare: ms, MinIV: iv, L2: l2})
				}
			}
		}
	}
	return pts
}

// tuneWanted reports whether Train cross-validates the hyperparameters.
func tuneWanted(opt Options, trainRows int) bool {
	return opt.Tune == TuneAuto && trainRows <= TuneMaxRows
}

// tune chooses MaxBins, MinBinShare, MinIV and L2 by k-fold
// cross-validation inside the training rows train (positions in y and the
// candidate columns); no other row is read, so the test part cannot steer
// the choice. The folds are stratified and random (stratifiedFolds) when
// byTime is nil. For an out-of-time split (Options.SplitBy) Train passes
// byTime, the training rows in the split column's order (timeOrdered), and
// the folds are forward-chaining (timeFolds): each is validated on the block
// after the rows it is fitted on (no row of it earlier than any of those), as the final model is tested on the
// months after its training part; random folds would let a point validate on
// months earlier than some it was fitted on and reward hyperparameters that
// do not hold forward in time. Each fold runs the training pipeline itself
// (binStage, then selectAndFit) on its fitting rows and scores its
// validation rows with the model's integer points. The criterion is the mean
// validation AUC, fixed before any test figure was seen: AUC and KS are what
// a scorecard is judged by, and the PD is recalibrated after the fit anyway,
// so a probability score such as log loss would reward the logistic's
// calibration, which the artifact does not use. A point must beat the best
// so far strictly, so ties go to the earlier point and the default point is
// first. It returns opt with the winner's values and every point's score, in
// grid order.
func tune(ctx context.Context, cands []*Column, y []int8, train, byTime []int, opt Options, specials []float64) (Options, []TunePoint, error) {
	folds := tuneFoldSplits(y, train, byTime, opt.Seed)
	pts := tuneGrid(opt)
	sums := make([]float64, len(pts))
	for _, fs := range folds {
		if err := scoreFold(ctx, cands, y, fs.fit, fs.val, opt, specials, pts, sums); err != nil {
			return opt, nil, err
		}
	}
	best := -1
	for k := range pts {
		pts[k].CVAUC = sums[k] / float64(len(folds))
		if !math.IsNaN(pts[k].CVAUC) && (best < 0 || pts[k].CVAUC > pts[best].CVAUC) {
			best = k
		}
	}
	if best >= 0 {
		p := pts[best]
		opt.MaxBins, opt.MinBinShare, opt.MinIV, opt.L2 = p.MaxBins, p.MinBinShare, p.MinIV, p.L2
	}
	return opt, pts, nil
}

// foldSplit is one cross-validation fold: the rows fitted on and the rows
// validated on, each sorted by position.
type foldSplit struct{ fit, val []int }

// tuneFoldSplits returns the TuneFolds folds: stratified random ones
// (stratifiedFolds, foldRows) when byTime is nil, forward-chaining ones over
// byTime (timeFolds) otherwise.
func tuneFoldSplits(y []int8, train, byTime []int, seed uint64) []foldSplit {
	if byTime != nil {
		return timeFolds(byTime, TuneFolds)
	}
	folds := stratifiedFolds(y, train, TuneFolds, seed)
	out := make([]foldSplit, len(folds))
	for f := range folds {
		out[f].fit, out[f].val = foldRows(folds, f)
	}
	return out
}

// scoreFold adds each grid point's validation AUC on one fold to sums. The
// binning depends only on MaxBins and MinBinShare, so it runs once per run of
// points sharing them; the points of a run (selection and fit, which take
// most of the time) run in parallel, each writing only its own slot.
func scoreFold(ctx context.Context, cands []*Column, y []int8, fit, val []int, opt Options, specials []float64, pts []TunePoint, sums []float64) error {
	yfit, yval := labelsOf(y, fit), labelsOf(y, val)
	for lo := 0; lo < len(pts); {
		hi := lo + 1
		for hi < len(pts) && pts[hi].MaxBins == pts[lo].MaxBins && pts[hi].MinBinShare == pts[lo].MinBinShare {
			hi++
		}
		cfg := binConfig{maxBins: pts[lo].MaxBins, minShare: pts[lo].MinBinShare, trend: opt.Monotonic, specials: specials}
		bs, err := binStage(ctx, cands, y, fit, cfg)
		if err != nil {
			return err
		}
		parallel(hi-lo, func(j int) {
			k := lo + j
			o := opt
			o.MaxBins, o.MinBinShare, o.MinIV, o.L2 = pts[k].MaxBins, pts[k].MinBinShare, pts[k].MinIV, pts[k].L2
			// A point whose fit fails on a fold is out of the race, not a
			// failed training: the full training part may still fit.
			if kept, lf, _, err := selectAndFit(bs, yfit, o); err != nil || lf == nil {
				sums[k] = math.NaN()
			} else {
				sums[k] += AUC(validationScores(cands, bs, kept, lf, val, o.PDO), yval)
			}
		})
		if err := ctx.Err(); err != nil {
			return err
		}
		lo = hi
	}
	return nil
}

// validationScores scores rows with the fitted variables as the artifact
// would: each variable's points are round(−factor·coefficient·WoE) of the bin
// the scorer's own lookup puts the row in (the worst attribute's for a missing
// or special bin the fold's training rows never saw, see binPoints). The base
// points are left out: a constant does not change an AUC.
func validationScores(cands []*Column, bs *binnedStage, kept []int, lf *logitFit, rows []int, pdo float64) []int {
	factor := pdo / math.Ln2
	tmp := &scoring.Model{}
	for _, i := range kept {
		tmp.Variables = append(tmp.Variables, bs.binned[i].v)
	}
	sc := scoring.NewScorer(tmp)
	score := make([]int, len(rows))
	for j, i := range kept {
		c, pts := cands[i], binPoints(bs.binned[i].v.Bins, factor, lf.Coef[j+1])
		for t, r := range rows {
			b := binOf(sc, j, c, r)
			if b >= 0 {
				score[t] += pts[b]
			}
		}
	}
	return score
}

// stratifiedFolds deals the training rows of each class, shuffled with a
// generator seeded from seed (a stream of its own, not the split's), round
// robin into k folds; each fold's rows are returned sorted.
func stratifiedFolds(y []int8, train []int, k int, seed uint64) [][]int {
	rng := rand.New(rand.NewPCG(seed, 0x74756e65)) // "tune"
	folds := make([][]int, k)
	next := 0
	for cls := int8(0); cls <= 1; cls++ {
		var idx []int
		for _, r := range train {
			if y[r] == cls {
				idx = append(idx, r)
			}
		}
		rng.Shuffle(len(idx), func(a, b int) { idx[a], idx[b] = idx[b], idx[a] })
		for _, r := range idx {
			folds[next] = append(folds[next], r)
			next = (next + 1) % k
		}
	}
	for _, f := range folds {
		slices.Sort(f)
	}
	return folds
}

// foldRows returns the fitting rows (every fold but f, sorted) and fold f.
func foldRows(folds [][]int, f int) (fit, val []int) {
	for g, rows := range folds {
		if g != f {
			fit = append(fit, rows...)
		}
	}
	slices.Sort(fit)
	return fit, folds[f]
}

// timeOrdered returns rows sorted by the split column c's value (numbers
// numerically, text byte-wise, as split orders them), ties by row position,
// so the order is deterministic. Train passes only the training rows: no
// test row's value is read.
func timeOrdered(c *Column, rows []int) []int {
	out := slices.Clone(rows)
	slices.SortFunc(out, func(a, b int) int {
		var k int
		if c.Kind == KindNumeric {
			k = cmp.Compare(c.Num[a], c.Num[b])
		} else {
			k = strings.Compare(c.Str[a], c.Str[b])
		}
		if k != 0 {
			return k
		}
		return cmp.Compare(a, b)
	})
	return out
}

// timeFolds cuts rows (in time order) into k+1 consecutive blocks and returns
// k forward-chaining folds: fold f (1..k) fits on blocks 0..f−1 and validates
// on block f, so every validation row is at least as late as every row
// fitted on. As in scikit-learn's TimeSeriesSplit, blocks 1..k hold
// len(rows)/(k+1) rows each and block 0 the rest (the remainder makes the
// smallest fitting set larger, not a validation block). A block holding one
// class only gives NaN AUCs in that fold, which tune treats as for random
// folds.
func timeFolds(rows []int, k int) []foldSplit {
	size := len(rows) / (k + 1)
	first := len(rows) - k*size
	out := make([]foldSplit, k)
	for f := 1; f <= k; f++ {
		end := first + (f-1)*size
		fit := slices.Clone(rows[:end])
		val := slices.Clone(rows[end : end+size])
		slices.Sort(fit)
		slices.Sort(val)
		out[f-1] = foldSplit{fit: fit, val: val}
	}
	return out
}
