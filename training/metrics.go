package training

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/lendhq/lend/scoring"
)

// Metric settings.
const (
	BootstrapResamples = 200   // resamples for the AUC 95% interval
	hlGroups           = 10    // Hosmer–Lemeshow groups (deciles of PD)
	psiBins            = 10    // score bins for the population stability index
	psiFloor           = 1e-4  // share floor so an empty bin has a finite PSI term
	probClip           = 1e-15 // log loss clips PDs to [clip, 1−clip]
)

// scoreHist counts goods and bads by distinct score, ascending.
type scoreHist struct {
	scores []int
	goods  []float64
	bads   []float64
}

func histOf(score []int, y []int8, w []float64) scoreHist {
	type sy struct {
		s int
		y int8
		w float64
	}
	v := make([]sy, len(score))
	for i := range score {
		wt := 1.0
		if w != nil {
			wt = w[i]
		}
		v[i] = sy{score[i], y[i], wt}
	}
	slices.SortFunc(v, func(a, b sy) int { return a.s - b.s })
	var h scoreHist
	for _, e := range v {
		if len(h.scores) == 0 || h.scores[len(h.scores)-1] != e.s {
			h.scores = append(h.scores, e.s)
			h.goods = append(h.goods, 0)
			h.bads = append(h.bads, 0)
		}
		k := len(h.scores) - 1
		if e.y == 1 {
			h.bads[k] += e.w
		} else {
			h.goods[k] += e.w
		}
	}
	return h
}

// auc is P(score of a random bad < score of a random good) + ½·P(tie): the
// Mann–Whitney U statistic divided by (bads·goods). Low scores are risky.
func (h scoreHist) auc() float64 {
	G, B := sum(h.goods), sum(h.bads)
	if G == 0 || B == 0 {
		return math.NaN()
	}
	goodsAbove := G
	u := 0.0
	for k := range h.scores {
		goodsAbove -= h.goods[k]
		u += h.bads[k] * (goodsAbove + 0.5*h.goods[k])
	}
	return u / (G * B)
}

// ks is max over cut-offs t of |F_bad(t) − F_good(t)|, F(t) the share with score <= t.
func (h scoreHist) ks() float64 {
	G, B := sum(h.goods), sum(h.bads)
	if G == 0 || B == 0 {
		return math.NaN()
	}
	cg, cb, best := 0.0, 0.0, 0.0
	for k := range h.scores {
		cg += h.goods[k]
		cb += h.bads[k]
		best = math.Max(best, math.Abs(cb/B-cg/G))
	}
	return best
}

func sum(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s
}

// AUC returns the area under the ROC curve of integer scores (low = risky) for
// labels y (1 = bad), ties counted half.
func AUC(score []int, y []int8) float64 { return histOf(score, y, nil).auc() }

// KS returns the Kolmogorov–Smirnov statistic of the score distributions of bads and goods.
func KS(score []int, y []int8) float64 { return histOf(score, y, nil).ks() }

// Brier returns the mean squared difference between PD and outcome.
func Brier(pd []float64, y []int8) float64 {
	s := 0.0
	for i, p := range pd {
		d := p - float64(y[i])
		s += d * d
	}
	return s / float64(len(pd))
}

// LogLoss returns −mean(y·ln p + (1−y)·ln(1−p)), p clipped to [1e-15, 1−1e-15].
func LogLoss(pd []float64, y []int8) float64 {
	s := 0.0
	for i, p := range pd {
		p = math.Min(math.Max(p, probClip), 1-probClip)
		if y[i] == 1 {
			s -= math.Log(p)
		} else {
			s -= math.Log(1 - p)
		}
	}
	return s / float64(len(pd))
}

// HosmerLemeshow returns the statistic Σ (O−E)²/(E·(1−E/n)) over groups of
// PD (sorted by PD, split into equal-size groups) and its p-value on groups−2
// degrees of freedom.
func HosmerLemeshow(pd []float64, y []int8, groups int) (stat, p float64) {
	n := len(pd)
	if n < groups || groups < 3 {
		return math.NaN(), math.NaN()
	}
	ord := make([]int, n)
	for i := range ord {
		ord[i] = i
	}
	sort.SliceStable(ord, func(a, b int) bool { return pd[ord[a]] < pd[ord[b]] })
	for g := 0; g < groups; g++ {
		lo, hi := g*n/groups, (g+1)*n/groups
		var o, e float64
		for _, i := range ord[lo:hi] {
			o += float64(y[i])
			e += pd[i]
		}
		m := float64(hi - lo)
		if den := e * (1 - e/m); den > 0 {
			stat += (o - e) * (o - e) / den
		}
	}
	p = distuv.ChiSquared{K: float64(groups - 2)}.Survival(stat)
	return stat, p
}

// scoreCuts returns up to psiBins−1 distinct cut points at the deciles of
// score; bin k holds cuts[k−1] <= s < cuts[k].
func scoreCuts(score []int) []float64 {
	s := slices.Clone(score)
	slices.Sort(s)
	var cuts []float64
	for q := 1; q < psiBins; q++ {
		c := float64(s[q*len(s)/psiBins])
		if c > float64(s[0]) && (len(cuts) == 0 || c > cuts[len(cuts)-1]) {
			cuts = append(cuts, c)
		}
	}
	return cuts
}

// scoreShares returns the share of scores in each of the len(cuts)+1 bins.
func scoreShares(score []int, cuts []float64) []float64 {
	sh := make([]float64, len(cuts)+1)
	for _, s := range score {
		sh[sort.Search(len(cuts), func(k int) bool { return float64(s) < cuts[k] })]++
	}
	for k := range sh {
		sh[k] /= float64(len(score))
	}
	return sh
}

// PSI returns the population stability index Σ (a−e)·ln(a/e) of actual shares
// against expected shares, each share floored at 1e-4.
func PSI(expected, actual []float64) float64 {
	s := 0.0
	for k := range expected {
		e, a := math.Max(expected[k], psiFloor), math.Max(actual[k], psiFloor)
		s += (a - e) * math.Log(a/e)
	}
	return s
}

// computeMetrics measures scores and PDs against outcomes. The AUC interval is
// the 2.5th and 97.5th percentiles of BootstrapResamples seeded resamples.
func computeMetrics(score []int, pd []float64, y []int8, seed uint64) scoring.Metrics {
	n := len(score)
	m := scoring.Metrics{N: n}
	if n == 0 {
		return m
	}
	bads := 0
	for _, v := range y {
		bads += int(v)
	}
	m.BadRate = float64(bads) / float64(n)
	h := histOf(score, y, nil)
	m.AUC = h.auc()
	m.Gini = 2*m.AUC - 1
	m.KS = h.ks()
	m.Brier = Brier(pd, y)
	m.LogLoss = LogLoss(pd, y)
	m.HLStat, m.HLP = HosmerLemeshow(pd, y, hlGroups)
	m.AUCLow, m.AUCHigh = bootstrapAUC(h, seed)
	for _, f := range []*float64{&m.AUC, &m.Gini, &m.KS, &m.HLStat, &m.HLP, &m.AUCLow, &m.AUCHigh} {
		if math.IsNaN(*f) || math.IsInf(*f, 0) {
			*f = 0 // JSON has no NaN; a one-class sample has no AUC (N and BadRate say why)
		}
	}
	return m
}

// bootstrapAUC resamples rows with replacement. A resample of n rows is a
// multinomial draw over the (score, label) cells of the histogram, drawn as a
// chain of conditional binomials, so a resample costs O(cells), not O(n).
func bootstrapAUC(h scoreHist, seed uint64) (lo, hi float64) {
	type c struct {
		k   int
		bad bool
		w   float64
	}
	var cells []c
	t := 0.0
	for k := range h.scores {
		if h.goods[k] > 0 {
			cells = append(cells, c{k, false, h.goods[k]})
			t += h.goods[k]
		}
		if h.bads[k] > 0 {
			cells = append(cells, c{k, true, h.bads[k]})
			t += h.bads[k]
		}
	}
	n := math.Round(t)
	if n < 2 {
		return math.NaN(), math.NaN()
	}
	src := rand.NewPCG(seed, 0x5eed0a0c)
	aucs := make([]float64, 0, BootstrapResamples)
	g := make([]float64, len(h.scores))
	b := make([]float64, len(h.scores))
	for r := 0; r < BootstrapResamples; r++ {
		clear(g)
		clear(b)
		left, wLeft := n, t
		for _, cl := range cells {
			if left <= 0 {
				break
			}
			var draw float64
			if p := cl.w / wLeft; p >= 1 {
				draw = left
			} else {
				draw = distuv.Binomial{N: left, P: p, Src: src}.Rand()
			}
			if cl.bad {
				b[cl.k] += draw
			} else {
				g[cl.k] += draw
			}
			left -= draw
			wLeft -= cl.w
		}
		a := scoreHist{h.scores, g, b}.auc()
		if !math.IsNaN(a) {
			aucs = append(aucs, a)
		}
	}
	if len(aucs) == 0 {
		return math.NaN(), math.NaN()
	}
	slices.Sort(aucs)
	return quantile(aucs, 0.025), quantile(aucs, 0.975)
}

// quantile of sorted v with linear interpolation (type 7).
func quantile(v []float64, q float64) float64 {
	pos := q * float64(len(v)-1)
	i := int(pos)
	if i+1 >= len(v) {
		return v[len(v)-1]
	}
	f := pos - float64(i)
	return v[i]*(1-f) + v[i+1]*f
}
