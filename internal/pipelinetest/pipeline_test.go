package pipelinetest

import (
	"context"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/lendhq/lend/features"
	"github.com/lendhq/lend/scoring"
	"github.com/lendhq/lend/synth"
	"github.com/lendhq/lend/training"
)

// Acceptance thresholds (issue 4, bullet 3).
const (
	// minOracleRatio: the model's test AUC must reach this share of the oracle
	// AUC (true_pd against the drawn outcome) on the same test rows.
	minOracleRatio = 0.95
	// maxDecileGap is the largest allowed |mean calibrated PD − observed bad
	// rate| in any score decile of the test part: 1 percentage point.
	maxDecileGap = 0.01
	// deciles is the number of equal-count score bands.
	deciles = 10
	// sampleSigmas widens the decile tolerance to this many binomial standard
	// errors when a decile is too small for 1 pp to be resolvable (the -short
	// run): a perfectly calibrated PD misses the observed rate by
	// sqrt(p(1−p)/n) on average, 1.6 pp at p = 0.2 and n = 600.
	sampleSigmas = 3.0
	// pipelineSeed seeds the generator and the train/test split.
	pipelineSeed = 20260101
	// testFrac is the held-out share (the CLI default).
	testFrac = 0.3
	// splitStream is training's PCG stream constant for the stratified split
	// ("split" in ASCII); the split is reproduced here to recover which rows
	// were held out, and cross-checked against the trainer's own test labels
	// and scores.
	splitStream = 0x73706c6974
)

// TestPipelineLendGenShort runs the whole chain on 20,000 merchants. The
// oracle-ratio bound is the acceptance figure; the decile bound is the larger
// of 1 pp and sampleSigmas binomial standard errors, because a decile of 600
// rows cannot resolve 1 pp.
func TestPipelineLendGenShort(t *testing.T) {
	runPipeline(t, 20_000, true)
}

// TestPipelineLendGen200k is the acceptance run: 200,000 merchants, AUC ≥ 95%
// of the oracle and every score decile calibrated within 1 pp.
func TestPipelineLendGen200k(t *testing.T) {
	if testing.Short() {
		t.Skip("200k-merchant pipeline skipped under -short (TestPipelineLendGenShort covers the chain)")
	}
	runPipeline(t, 200_000, false)
}

// runPipeline generates merchants, computes features, joins outcomes, trains,
// scores the test part through the serialised artifact and checks the
// acceptance bounds. sampleTol allows the binomial-error tolerance per decile.
func runPipeline(t *testing.T, merchants int, sampleTol bool) {
	ctx := context.Background()
	dir := t.TempDir()
	genDir := filepath.Join(dir, "gen")

	// 1. lend gen.
	t0 := time.Now()
	sum, err := synth.Generate(ctx, synth.Config{Merchants: merchants, Seed: pipelineSeed}, genDir)
	if err != nil {
		t.Fatalf("synth.Generate: %v", err)
	}
	tGen := time.Since(t0)
	asOf, err := synth.ParseAsOf(sum.AsOf)
	if err != nil {
		t.Fatalf("as-of %q: %v", sum.AsOf, err)
	}

	// 2. lend features as of the generator's as-of.
	t0 = time.Now()
	featPath := filepath.Join(dir, "features.parquet")
	rep, err := features.Run(ctx, features.Options{
		Paths: []string{filepath.Join(genDir, synth.TransactionsParquet)}, AsOf: asOf, Out: featPath,
		MaxRejectRate: -1, TempDir: dir,
	})
	if err != nil {
		t.Fatalf("features.Run: %v", err)
	}
	tFeat := time.Since(t0)
	if rep.Rejected != 0 {
		t.Errorf("features rejected %d of %d generated rows; generated data must be clean", rep.Rejected, rep.RowsIn)
	}
	if rep.Merchants != int64(merchants) {
		t.Errorf("features wrote %d merchants, generated %d (every generated merchant has a sale)", rep.Merchants, merchants)
	}

	// 3. Join outcomes (merchant_id, bad, true_pd, future_gmv_90d).
	t0 = time.Now()
	joined := filepath.Join(dir, "train.parquet")
	joinOutcomes(t, featPath, filepath.Join(genDir, synth.OutcomesFile), joined, merchants, dir)
	tJoin := time.Since(t0)

	// 4. lend train (options as cmd/lend/train.go builds them).
	t0 = time.Now()
	opt := training.Defaults()
	opt.Data = joined
	opt.Target = "bad"
	opt.ID = "merchant_id"
	opt.Exclude = []string{"true_pd", "future_gmv_90d", "as_of"}
	opt.TestFrac = testFrac
	opt.Seed = pipelineSeed
	opt.CreatedAt = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	res, err := training.Train(ctx, opt)
	if err != nil {
		t.Fatalf("training.Train: %v", err)
	}
	tTrain := time.Since(t0)

	// 5. Score the test part through the artifact bytes, as `lend score` would.
	b, err := res.Model.Marshal()
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	m, err := scoring.Parse(b)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	sc, err := scoring.Compile(m)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	tab, err := training.Read(ctx, joined, training.ReadOptions{SkipRows: -1, Want: []string{"bad", "true_pd", "merchant_id"}})
	if err != nil {
		t.Fatalf("training.Read: %v", err)
	}
	badCol, pdCol := tab.Col("bad"), tab.Col("true_pd")
	y := make([]int8, tab.Rows)
	for i, v := range badCol.Num {
		if v != 0 && v != 1 {
			t.Fatalf("row %d: bad = %v, want 0 or 1", i+1, v)
		}
		y[i] = int8(v)
	}
	test := splitTest(y, opt.Seed, opt.TestFrac)
	if len(test) != len(res.TestY) {
		t.Fatalf("reproduced split has %d test rows, trainer %d", len(test), len(res.TestY))
	}

	names := make([]string, len(tab.Columns))
	for c, col := range tab.Columns {
		names[c] = col.Name
	}
	bind := sc.Bind(names)
	if len(bind.Missing) > 0 {
		t.Fatalf("joined file lacks model variables %v", bind.Missing)
	}
	num := make([]float64, len(tab.Columns))
	str := make([]string, len(tab.Columns))
	r := sc.NewResult()
	n := len(test)
	score := make([]int, n)
	pd := make([]float64, n)
	truePD := make([]float64, n)
	bad := make([]bool, n)
	for k, row := range test {
		for c, col := range tab.Columns {
			if col.Kind == training.KindNumeric {
				num[c] = col.Num[row]
			} else if col.Str != nil {
				str[c] = col.Str[row]
			}
		}
		sc.ScoreRow(bind, num, str, r)
		score[k], pd[k] = r.Score, r.PD
		truePD[k], bad[k] = pdCol.Num[row], y[row] == 1
		// The reproduced split and the artifact scorer must agree row for row
		// with what the trainer held out and scored.
		if y[row] != res.TestY[k] || score[k] != res.TestScore[k] {
			t.Fatalf("test row %d (data row %d): label %d score %d, trainer had label %d score %d",
				k, row+1, y[row], score[k], res.TestY[k], res.TestScore[k])
		}
	}

	// 6. AUC against the oracle on the same rows.
	auc := synth.AUC(pd, bad)
	oracle := synth.AUC(truePD, bad)
	ratio := auc / oracle
	if d := math.Abs(auc - m.Metrics.Test.AUC); d > 1e-9 {
		t.Errorf("AUC of artifact PDs %.6f differs from the trainer's test AUC %.6f", auc, m.Metrics.Test.AUC)
	}

	// 7. Calibration by score decile (equal counts, ascending score; ties
	// broken by row so the bands are deterministic).
	ord := make([]int, n)
	for i := range ord {
		ord[i] = i
	}
	sort.SliceStable(ord, func(a, b int) bool { return score[ord[a]] < score[ord[b]] })
	var nBad int
	for _, v := range bad {
		if v {
			nBad++
		}
	}
	t.Logf("%d merchants: %d transactions, bad rate %.4f, generator oracle AUC (all rows) %.4f", merchants, sum.Transactions, sum.BadRate, sum.OracleAUC)
	t.Logf("model %s: %d variables; test rows %d, bads %d (%.4f)", m.ID, len(m.Variables), n, nBad, float64(nBad)/float64(n))
	t.Logf("test AUC %.4f, oracle AUC %.4f, ratio %.4f (need >= %.2f); test KS %.4f", auc, oracle, ratio, minOracleRatio, m.Metrics.Test.KS)
	t.Logf("decile  rows  score range   mean PD  bad rate    gap   tolerance")
	maxGap, worst := 0.0, -1
	for d := 0; d < deciles; d++ {
		lo, hi := d*n/deciles, (d+1)*n/deciles
		var sumPD float64
		var b int
		for _, i := range ord[lo:hi] {
			sumPD += pd[i]
			if bad[i] {
				b++
			}
		}
		cnt := hi - lo
		meanPD, obs := sumPD/float64(cnt), float64(b)/float64(cnt)
		gap := math.Abs(meanPD - obs)
		tol := maxDecileGap
		if sampleTol {
			tol = max(tol, sampleSigmas*math.Sqrt(meanPD*(1-meanPD)/float64(cnt)))
		}
		t.Logf("%6d %5d  %4d..%-4d   %.4f   %.4f   %.4f  %.4f", d+1, cnt, score[ord[lo]], score[ord[hi-1]], meanPD, obs, gap, tol)
		if gap > maxGap {
			maxGap, worst = gap, d+1
		}
		if gap > tol {
			t.Errorf("decile %d: mean calibrated PD %.4f vs observed bad rate %.4f: gap %.4f > %.4f", d+1, meanPD, obs, gap, tol)
		}
		// The trainer's own bands (same equal-count rule) must agree with this
		// independent pass through the artifact.
		if bs := m.Metrics.TestBands; len(bs) == deciles {
			if bd := bs[d]; bd.N != cnt || math.Abs(bd.MeanPD-meanPD) > 1e-9 || math.Abs(bd.ObservedBR-obs) > 1e-12 {
				t.Errorf("decile %d: artifact gives n %d mean PD %.6f bad rate %.6f, trainer's band n %d %.6f %.6f",
					d+1, cnt, meanPD, obs, bd.N, bd.MeanPD, bd.ObservedBR)
			}
		} else {
			t.Errorf("trainer reported %d test bands, want %d", len(bs), deciles)
		}
	}
	// Diagnostic only (not asserted): the same deciles under a monotone
	// non-parametric calibration (isotonic regression of bad on score, fitted
	// on the training part). It tells whether a decile miss comes from the
	// model's ranking or from the two-parameter logistic calibration's shape.
	iso := isotonicPD(res.TrainScore, res.TrainY)
	isoGap := 0.0
	for d := 0; d < deciles; d++ {
		lo, hi := d*n/deciles, (d+1)*n/deciles
		var sumPD float64
		var b int
		for _, i := range ord[lo:hi] {
			sumPD += iso(score[i])
			if bad[i] {
				b++
			}
		}
		isoGap = max(isoGap, math.Abs(sumPD-float64(b))/float64(hi-lo))
	}
	t.Logf("diagnostic: max decile gap with an isotonic calibration fitted on the training part: %.4f (logistic calibration: %.4f)", isoGap, maxGap)
	t.Logf("max decile calibration gap %.4f (decile %d)", maxGap, worst)
	t.Logf("timings: gen %.1fs, features %.1fs, join %.1fs, train %.1fs", tGen.Seconds(), tFeat.Seconds(), tJoin.Seconds(), tTrain.Seconds())
	if !(ratio >= minOracleRatio) {
		t.Errorf("test AUC %.4f is %.4f of the oracle AUC %.4f; need >= %.2f", auc, ratio, oracle, minOracleRatio)
	}
}

// joinOutcomes writes features ⋈ outcomes (inner join on merchant_id, ordered
// by merchant_id) to out as Parquet, and fails unless every one of want
// merchants is in both files.
func joinOutcomes(t *testing.T, featPath, outcomesPath, out string, want int, tmp string) {
	t.Helper()
	db, err := features.OpenDB(0, "", tmp)
	if err != nil {
		t.Fatalf("OpenDB: %v", err)
	}
	defer db.Close()
	q := `COPY (SELECT f.*, o.bad, o.true_pd, o.future_gmv_90d
		FROM read_parquet(` + quote(featPath) + `) f
		JOIN read_csv(` + quote(outcomesPath) + `, header = true,
			columns = {'merchant_id': 'VARCHAR', 'as_of': 'DATE', 'bad': 'INTEGER', 'true_pd': 'DOUBLE', 'future_gmv_90d': 'DOUBLE'}) o
		USING (merchant_id) ORDER BY merchant_id) TO ` + quote(out) + ` (FORMAT parquet)`
	if _, err := db.Exec(q); err != nil {
		t.Fatalf("join: %v", err)
	}
	var rows int
	if err := db.QueryRow(`SELECT count(*) FROM read_parquet(` + quote(out) + `)`).Scan(&rows); err != nil {
		t.Fatalf("count: %v", err)
	}
	if rows != want {
		t.Fatalf("joined %d rows, want %d (one per generated merchant)", rows, want)
	}
}

func quote(s string) string {
	b := []byte{'\''}
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			b = append(b, '\'')
		}
		b = append(b, s[i])
	}
	return string(append(b, '\''))
}

// splitTest reproduces training's stratified seeded split (training/train.go,
// split): per class in row order, a PCG(seed, splitStream) shuffle, the first
// round(frac·n) rows of each class held out; returned in row order. The
// caller checks the result against the trainer's own test labels and scores,
// so a drift in the trainer's split fails loudly rather than silently.
func splitTest(y []int8, seed uint64, frac float64) []int {
	rng := rand.New(rand.NewPCG(seed, splitStream))
	var test []int
	for cls := int8(0); cls <= 1; cls++ {
		var idx []int
		for i, v := range y {
			if v == cls {
				idx = append(idx, i)
			}
		}
		rng.Shuffle(len(idx), func(a, b int) { idx[a], idx[b] = idx[b], idx[a] })
		test = append(test, idx[:int(math.Round(frac*float64(len(idx))))]...)
	}
	slices.Sort(test)
	return test
}

// isotonicPD fits a non-increasing step function of score to the outcomes
// (pool-adjacent-violators over the distinct scores) and returns it; a score
// between or outside the fitted ones takes the step of the nearest lower
// fitted score (the first step below the lowest).
func isotonicPD(score []int, y []int8) func(int) float64 {
	type blk struct {
		lo      int // lowest score in the block
		n, bads float64
	}
	cnt := map[int][2]float64{}
	for i, s := range score {
		c := cnt[s]
		c[0]++
		c[1] += float64(y[i])
		cnt[s] = c
	}
	keys := make([]int, 0, len(cnt))
	for s := range cnt {
		keys = append(keys, s)
	}
	slices.Sort(keys)
	var st []blk
	for _, s := range keys {
		st = append(st, blk{lo: s, n: cnt[s][0], bads: cnt[s][1]})
		// Bad rate must not rise with score: merge while the last block's
		// rate exceeds the one before it.
		for len(st) > 1 {
			a, b := st[len(st)-2], st[len(st)-1]
			if b.bads/b.n <= a.bads/a.n {
				break
			}
			st = append(st[:len(st)-2], blk{lo: a.lo, n: a.n + b.n, bads: a.bads + b.bads})
		}
	}
	return func(s int) float64 {
		k := sort.Search(len(st), func(i int) bool { return st[i].lo > s }) - 1
		k = max(k, 0)
		return st[k].bads / st[k].n
	}
}
