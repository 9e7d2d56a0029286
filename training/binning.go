package training

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/lendhq/lend/scoring"
)

// Monotonic WoE trends accepted by --monotonic.
const (
	TrendAuto = "auto"
	TrendAsc  = "asc"
	TrendDesc = "desc"
)

// Binning limits.
const (
	FineBins       = 20     // quantile pre-bins of fine classing
	MaxBinsLimit   = 20     // --max-bins ceiling
	MaxLevels      = 10_000 // a categorical column with more levels is an identifier, not a variable
	maxLabelLevels = 4      // levels listed in a category bin's label before "..."
	woeEps         = 1e-9   // WoE steps smaller than this do not count as monotonic
)

// binConfig holds the binning options.
type binConfig struct {
	maxBins  int
	minShare float64 // of all training rows, for range and category bins
	trend    string
	specials []float64
}

// woeIV returns the weight of evidence ln(%good/%bad) of a bin with g goods
// and b bads out of totals G and B, and its information value term
// (%good − %bad)·WoE. Zero-count adjustment: when g or b is 0 both get +0.5
// (Haldane–Anscombe), so WoE stays finite; an empty bin has WoE 0 and IV 0.
func woeIV(g, b, G, B int) (woe, iv float64) {
	if g+b == 0 || G == 0 || B == 0 {
		return 0, 0
	}
	gg, bb := float64(g), float64(b)
	if g == 0 || b == 0 {
		gg += 0.5
		bb += 0.5
	}
	pg, pb := gg/float64(G), bb/float64(B)
	woe = math.Log(pg / pb)
	return woe, (pg - pb) * woe
}

// cell is a run of training rows: count and bads.
type cell struct{ n, b int }

func (c cell) g() int { return c.n - c.b }

// coarse merges adjacent fine cells into at most maxBins groups, each holding
// at least minCount rows, whose WoE is strictly monotonic in the given
// direction (+1 ascending, −1 descending), maximising the total IV. It is an
// exact dynamic programme over (groups used, start of the last group, end),
// O(k³·maxBins) for k fine cells. It returns the group end indices (exclusive)
// and the IV, or nil when no partition satisfies the constraints.
func coarse(cells []cell, G, B, maxBins, minCount, dir int) ([]int, float64) {
	k := len(cells)
	if k == 0 {
		return nil, 0
	}
	pre := make([]cell, k+1)
	for i, c := range cells {
		pre[i+1] = cell{pre[i].n + c.n, pre[i].b + c.b}
	}
	type gstat struct {
		ok      bool
		woe, iv float64
	}
	grp := make([][]gstat, k+1) // grp[j][i]: cells j..i-1
	for j := 0; j <= k; j++ {
		grp[j] = make([]gstat, k+1)
		for i := j + 1; i <= k; i++ {
			n, b := pre[i].n-pre[j].n, pre[i].b-pre[j].b
			w, v := woeIV(n-b, b, G, B)
			grp[j][i] = gstat{ok: n >= minCount, woe: w, iv: v}
		}
	}
	neg := math.Inf(-1)
	// dp[m][j][i]: best IV of cells 0..i-1 in m groups whose last is j..i-1.
	dp := make([][][]float64, maxBins+1)
	par := make([][][]int, maxBins+1)
	for m := range dp {
		dp[m] = make([][]float64, k+1)
		par[m] = make([][]int, k+1)
		for j := range dp[m] {
			dp[m][j] = make([]float64, k+1)
			par[m][j] = make([]int, k+1)
			for i := range dp[m][j] {
				dp[m][j][i] = neg
				par[m][j][i] = -1
			}
		}
	}
	for i := 1; i <= k; i++ {
		if grp[0][i].ok {
			dp[1][0][i] = grp[0][i].iv
		}
	}
	for m := 2; m <= maxBins; m++ {
		for j := 1; j < k; j++ {
			for i := j + 1; i <= k; i++ {
				if !grp[j][i].ok {
					continue
				}
				best, arg := neg, -1
				for l := 0; l < j; l++ {
					prev := dp[m-1][l][j]
					if prev == neg || float64(dir)*(grp[j][i].woe-grp[l][j].woe) <= woeEps {
						continue
					}
					if prev > best {
						best, arg = prev, l
					}
				}
				if arg >= 0 {
					dp[m][j][i] = best + grp[j][i].iv
					par[m][j][i] = arg
				}
			}
		}
	}
	bestIV, bm, bj := neg, -1, -1
	for m := 1; m <= maxBins; m++ {
		for j := 0; j < k; j++ {
			// strictly better only: ties keep fewer bins
			if v := dp[m][j][k]; v > bestIV+1e-12 {
				bestIV, bm, bj = v, m, j
			}
		}
	}
	if bm < 0 {
		return nil, 0
	}
	ends := make([]int, bm)
	i, j := k, bj
	for m := bm; m >= 1; m-- {
		ends[m-1] = i
		l := par[m][j][i]
		i, j = j, l
	}
	return ends, bestIV
}

// binnedVar is a candidate variable after binning, before selection.
type binnedVar struct {
	v      scoring.Variable
	iv     float64
	trend  string // "asc"/"desc" for numeric, "bad rate" for categorical
	reason string // non-empty: why it cannot be used
}

// fmtNum prints a bound compactly and exactly enough to read back the same float.
func fmtNum(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }

func f64(x float64) *float64 { return &x }

// binNumeric bins a numeric column on the training rows idx.
func binNumeric(name string, x []float64, y []int8, idx []int, cfg binConfig) binnedVar {
	type xy struct {
		x float64
		y int8
	}
	var clean []xy
	var miss cell
	spec := make([]cell, len(cfg.specials))
	G, B := 0, 0
	for _, r := range idx {
		v, bad := x[r], int(y[r])
		B += bad
		G += 1 - bad
		if math.IsNaN(v) {
			miss.n++
			miss.b += bad
			continue
		}
		if k := slices.Index(cfg.specials, v); k >= 0 {
			spec[k].n++
			spec[k].b += bad
			continue
		}
		clean = append(clean, xy{v, y[r]})
	}
	bv := binnedVar{v: scoring.Variable{Name: name, Type: KindNumeric}}
	slices.SortFunc(clean, func(a, b xy) int { return cmp.Compare(a.x, b.x) })
	n := len(clean)
	// Fine classing: cut at the value found at each 1/FineBins quantile; a cut c
	// sends x < c left and x >= c right, the [lower, upper) rule of scoring.
	var cuts []float64
	if n > 0 {
		for q := 1; q < FineBins; q++ {
			c := clean[q*n/FineBins].x
			if c > clean[0].x && (len(cuts) == 0 || c > cuts[len(cuts)-1]) {
				cuts = append(cuts, c)
			}
		}
	}
	cells := make([]cell, len(cuts)+1)
	k := 0
	for _, p := range clean {
		for k < len(cuts) && p.x >= cuts[k] {
			k++
		}
		cells[k].n++
		cells[k].b += int(p.y)
	}
	minCount := int(math.Ceil(cfg.minShare * float64(len(idx))))
	if minCount < 1 {
		minCount = 1
	}
	var ends []int
	switch {
	case n == 0:
		// only missing/special values: no range bin at all
	case len(cuts) == 0 || n < 2*minCount:
		ends = []int{len(cells)}
		bv.trend = "single range"
	default:
		dirs := map[string][]int{TrendAuto: {1, -1}, TrendAsc: {1}, TrendDesc: {-1}}[cfg.trend]
		bestIV := math.Inf(-1)
		for _, d := range dirs {
			e, iv := coarse(cells, G, B, cfg.maxBins, minCount, d)
			if e != nil && iv > bestIV+1e-12 {
				ends, bestIV = e, iv
				bv.trend = map[int]string{1: TrendAsc, -1: TrendDesc}[d]
			}
		}
		if ends == nil {
			ends = []int{len(cells)}
			bv.trend = "single range"
		}
	}
	// Range bins. cuts[e-1] is the upper bound of a group ending at fine cell e.
	start := 0
	for gi, e := range ends {
		var c cell
		for _, fc := range cells[start:e] {
			c.n += fc.n
			c.b += fc.b
		}
		b := scoring.Bin{Kind: scoring.BinRange, Count: c.n, Bads: c.b}
		lo, hi := "-inf", "+inf"
		if gi > 0 {
			b.Lower = f64(cuts[start-1])
			lo = fmtNum(*b.Lower)
		}
		if gi < len(ends)-1 {
			b.Upper = f64(cuts[e-1])
			hi = fmtNum(*b.Upper)
		}
		b.Label = "[" + lo + ", " + hi + ")"
		bv.v.Bins = append(bv.v.Bins, b)
		start = e
	}
	for k, sp := range cfg.specials {
		bv.v.Bins = append(bv.v.Bins, scoring.Bin{Kind: scoring.BinSpecial, Special: f64(sp), Label: "special " + fmtNum(sp), Count: spec[k].n, Bads: spec[k].b})
	}
	bv.v.Bins = append(bv.v.Bins, scoring.Bin{Kind: scoring.BinMissing, Label: "missing", Count: miss.n, Bads: miss.b})
	finishBins(&bv, G, B)
	if n == 0 && miss.n+sumCount(spec) == len(idx) && len(nonEmpty(bv.v.Bins)) < 2 {
		bv.reason = "constant (no numeric values)"
	} else if len(nonEmpty(bv.v.Bins)) < 2 {
		bv.reason = "constant"
	}
	return bv
}

func sumCount(cs []cell) int {
	s := 0
	for _, c := range cs {
		s += c.n
	}
	return s
}

func nonEmpty(bins []scoring.Bin) []scoring.Bin {
	var out []scoring.Bin
	for _, b := range bins {
		if b.Count > 0 {
			out = append(out, b)
		}
	}
	return out
}

// finishBins fills bad rate, WoE and the variable's IV from the bin counts.
func finishBins(bv *binnedVar, G, B int) {
	bv.iv = 0
	for i := range bv.v.Bins {
		b := &bv.v.Bins[i]
		w, iv := woeIV(b.Count-b.Bads, b.Bads, G, B)
		b.WoE = w
		if b.Count > 0 {
			b.BadRate = float64(b.Bads) / float64(b.Count)
		}
		if b.Kind != scoring.BinOther {
			bv.iv += iv
		}
	}
	bv.v.IV = bv.iv
}

// binCategorical groups the levels of a text column on the training rows idx:
// levels rarer than the minimum bin share are pooled, the (pooled) levels are
// ordered by WoE and merged into at most maxBins monotonic groups. Levels never
// seen in training score in an "other" bin with the WoE of the pooled rare
// levels (or the worst attribute's, the lowest WoE, when there are none).
func binCategorical(name string, s []string, y []int8, idx []int, cfg binConfig) binnedVar {
	bv := binnedVar{v: scoring.Variable{Name: name, Type: KindCategorical}, trend: "bad rate"}
	counts := map[string]*cell{}
	var miss cell
	G, B := 0, 0
	for _, r := range idx {
		v, bad := s[r], int(y[r])
		B += bad
		G += 1 - bad
		if v == "" {
			miss.n++
			miss.b += bad
			continue
		}
		c := counts[v]
		if c == nil {
			if len(counts) >= MaxLevels {
				bv.reason = fmt.Sprintf("more than %d levels (an identifier?)", MaxLevels)
				return bv
			}
			c = &cell{}
			counts[v] = c
		}
		c.n++
		c.b += bad
	}
	if len(counts) > 50 && len(counts) > len(idx)/2 {
		bv.reason = fmt.Sprintf("%d levels in %d rows (an identifier?)", len(counts), len(idx))
		return bv
	}
	minCount := int(math.Ceil(cfg.minShare * float64(len(idx))))
	type level struct {
		names []string
		c     cell
		woe   float64
		rare  bool
	}
	var levels []*level
	rare := &level{rare: true}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		c := counts[k]
		if c.n < minCount {
			rare.names = append(rare.names, k)
			rare.c.n += c.n
			rare.c.b += c.b
			continue
		}
		levels = append(levels, &level{names: []string{k}, c: *c})
	}
	if len(rare.names) > 0 {
		levels = append(levels, rare)
	}
	for _, l := range levels {
		l.woe, _ = woeIV(l.c.g(), l.c.b, G, B)
	}
	sort.SliceStable(levels, func(a, b int) bool { return levels[a].woe < levels[b].woe })
	cells := make([]cell, len(levels))
	for i, l := range levels {
		cells[i] = l.c
	}
	var ends []int
	if len(cells) > 0 {
		ends, _ = coarse(cells, G, B, cfg.maxBins, minCount, 1)
		if ends == nil {
			ends = []int{len(cells)}
		}
	}
	start := 0
	rareBin := -1
	for _, e := range ends {
		b := scoring.Bin{Kind: scoring.BinCategory}
		for _, l := range levels[start:e] {
			b.Categories = append(b.Categories, l.names...)
			b.Count += l.c.n
			b.Bads += l.c.b
			if l.rare {
				rareBin = len(bv.v.Bins)
			}
		}
		sort.Strings(b.Categories)
		b.Label = categoryLabel(b.Categories)
		bv.v.Bins = append(bv.v.Bins, b)
		start = e
	}
	bv.v.Bins = append(bv.v.Bins, scoring.Bin{Kind: scoring.BinMissing, Label: "missing", Count: miss.n, Bads: miss.b})
	bv.v.Bins = append(bv.v.Bins, scoring.Bin{Kind: scoring.BinOther, Label: "levels not seen in training"})
	finishBins(&bv, G, B)
	other := &bv.v.Bins[len(bv.v.Bins)-1]
	if rareBin >= 0 {
		other.WoE = bv.v.Bins[rareBin].WoE
		other.Label = "levels not seen in training (scored as " + bv.v.Bins[rareBin].Label + ")"
	} else if worst, ok := lowestWoE(bv.v.Bins); ok {
		// No rare levels to stand for unseen ones: the worst attribute's WoE
		// (the lowest: a selected variable's points rise with WoE, wrong-sign
		// variables are dropped), never neutral points, as for an unseen
		// missing value (binPoints).
		other.WoE = worst
		other.Label = "levels not seen in training (scored as the worst attribute)"
	}
	if len(nonEmpty(bv.v.Bins)) < 2 {
		bv.reason = "constant"
	}
	return bv
}

// lowestWoE is the lowest WoE over the bins training rows fell in.
func lowestWoE(bins []scoring.Bin) (float64, bool) {
	w, ok := 0.0, false
	for _, b := range bins {
		if b.Count > 0 && (!ok || b.WoE < w) {
			w, ok = b.WoE, true
		}
	}
	return w, ok
}

func categoryLabel(cats []string) string {
	if len(cats) <= maxLabelLevels {
		return strings.Join(cats, " | ")
	}
	return strings.Join(cats[:maxLabelLevels], " | ") + fmt.Sprintf(" | ... (%d levels)", len(cats))
}
