package training

import (
	"bytes"
	"context"
	"encoding/base64"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lendhq/lend"
	"github.com/lendhq/lend/internal/testutil"
	"github.com/lendhq/lend/scoring"
)

var update = flag.Bool("update", false, "rewrite golden files")

func writeCSV(t testing.TB, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func german(t testing.TB, seed uint64) *Result {
	t.Helper()
	return germanWith(t, func(o *Options) { o.Seed = seed })
}

// germanOptions are the defaults on the German file (--target creditability --bad bad).
func germanOptions(t testing.TB) Options {
	o := Defaults()
	o.Data = testutil.SharedData(t, "german_credit/germancredit.csv")
	o.Target, o.Bad = "creditability", "bad"
	return o
}

// germanWith trains German with germanOptions changed by mod.
func germanWith(t testing.TB, mod func(*Options)) *Result {
	t.Helper()
	o := germanOptions(t)
	mod(&o)
	r, err := Train(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestGermanCredit: the level R `scorecard` documents for this data set is a
// test AUC of about 0.77+ and KS of about 0.45 (issue 4). With 300 test rows
// one split's AUC moves by ±0.03 and its KS by ±0.05 between seeds, so the
// acceptance is the mean over 20 seeded 70/30 splits. The default seed 42 is
// reported too; its split is an unlucky draw (AUC 0.764, KS 0.437: see
// docs/MODELS.md), and the test asserts only what that split can support:
// 0.77 lies inside its bootstrap 95% interval.
func TestGermanCredit(t *testing.T) {
	if testing.Short() {
		t.Skip("20 trainings")
	}
	var auc, ks float64
	const seeds = 20
	for s := uint64(1); s <= seeds; s++ {
		m := german(t, s).Model
		auc += m.Metrics.Test.AUC
		ks += m.Metrics.Test.KS
		if m.Data.TestRows != 300 {
			t.Fatalf("test rows %d, want 300", m.Data.TestRows)
		}
	}
	auc /= seeds
	ks /= seeds
	t.Logf("German credit, mean of %d seeds: test AUC %.4f, KS %.4f", seeds, auc, ks)
	if auc < 0.77 || ks < 0.45 {
		t.Errorf("mean test AUC %.4f (want >= 0.77), KS %.4f (want >= 0.45)", auc, ks)
	}
	te := german(t, 42).Model.Metrics.Test
	t.Logf("seed 42: test AUC %.4f (95%% CI %.4f–%.4f) KS %.4f", te.AUC, te.AUCLow, te.AUCHigh, te.KS)
	if te.AUCLow > 0.77 || te.AUCHigh < 0.77 {
		t.Errorf("seed 42: 0.77 outside the test AUC interval %.4f–%.4f", te.AUCLow, te.AUCHigh)
	}
}

// TestScoresEqualScorer re-scores the training rows through a model read back
// from its bytes and checks every reported figure, the points arithmetic and
// the golden points table.
func TestGermanArtifact(t *testing.T) {
	r := german(t, 42)
	m := r.Model
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := scoring.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	// Determinism: a second training gives the same bytes and the id is the content hash.
	b2, _ := german(t, 42).Model.Marshal()
	if !bytes.Equal(b, b2) {
		t.Fatal("two trainings with the same data/options/seed differ")
	}
	if id, _ := m.ComputeID(); id != m.ID {
		t.Fatalf("id %s != content hash %s", m.ID, id)
	}
	// Evaluate on the whole file through the loaded artifact.
	met, err := Evaluate(context.Background(), back, testutil.SharedData(t, "german_credit/germancredit.csv"), "", "", -1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if met.N != 1000 || math.Abs(met.BadRate-0.3) > 1e-12 {
		t.Errorf("evaluate n=%d bad rate %.3f", met.N, met.BadRate)
	}
	// Points: each score is Offset + Factor·ln(odds) up to integer rounding
	// (at most 0.5 per variable plus 0.5 for the base).
	sc := scoring.NewScorer(back)
	tab, err := readForModel(context.Background(), back, testutil.SharedData(t, "german_credit/germancredit.csv"), -1)
	if err != nil {
		t.Fatal(err)
	}
	cols := modelColumns(back, tab)
	num := make([]float64, len(cols))
	str := make([]string, len(cols))
	res := sc.NewResult()
	for i := 0; i < tab.Rows; i++ {
		rowInputs(back, cols, i, num, str)
		sc.Score(num, str, res)
		z := back.Intercept
		for j, v := range back.Variables {
			z += v.Coefficient * v.Bins[res.Bins[j]].WoE
		}
		exact := back.Scaling.Offset - back.Scaling.Factor*z
		if d := math.Abs(float64(res.Score) - exact); d > 0.5*float64(len(back.Variables)+1) {
			t.Fatalf("row %d: score %d vs exact %.2f", i+1, res.Score, exact)
		}
	}
	golden(t, "german_points.golden", PointsTable(m))
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from golden (run with -update after checking)", name)
	}
}

// TestPublicDataSets: the trainer runs on each file as published. Floors are
// a few points under the figures recorded in docs/MODELS.md.
func TestPublicDataSets(t *testing.T) {
	if testing.Short() {
		t.Skip("public data sets")
	}
	for _, c := range []struct {
		file, target, bad, id string
		special               []float64
		floor                 float64
	}{
		{"fico_heloc/heloc_dataset_v1.csv", "RiskPerformance", "Bad", "", []float64{-9, -8, -7}, 0.77},
		{"taiwan_default/default_of_credit_card_clients.csv", "default payment next month", "", "ID", nil, 0.74},
		{"lending_club/LoanStats3a.csv", "loan_status", "Charged Off", "", nil, 0.64},
		{"home_credit/application_train_sample.tsv", "TARGET", "", "SK_ID_CURR", nil, 0.68},
	} {
		t.Run(c.file, func(t *testing.T) {
			o := Defaults()
			o.Data = testutil.SharedData(t, c.file)
			o.Target, o.Bad, o.ID, o.Special = c.target, c.bad, c.id, c.special
			r, err := Train(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			m := r.Model
			t.Logf("%s: %d vars, test AUC %.4f KS %.4f", c.file, len(m.Variables), m.Metrics.Test.AUC, m.Metrics.Test.KS)
			if m.Metrics.Test.AUC < c.floor {
				t.Errorf("test AUC %.4f < %.2f", m.Metrics.Test.AUC, c.floor)
			}
			if c.special != nil {
				// -9 rows (no bureau record) sit in their own bin, never in a range.
				found := false
				for _, v := range m.Variables {
					for _, b := range v.Bins {
						if b.Kind == scoring.BinSpecial && *b.Special == -9 && b.Count > 0 {
							found = true
						}
						if b.Kind == scoring.BinRange && b.Lower != nil && *b.Lower <= -7 {
							t.Errorf("%s: range bin %s reaches the special codes", v.Name, b.Label)
						}
					}
				}
				if !found {
					t.Error("no populated special -9 bin")
				}
			}
			if strings.HasPrefix(c.file, "taiwan") && m.Data.SkipRows != 1 {
				t.Errorf("two header lines not detected: skip_rows %d", m.Data.SkipRows)
			}
		})
	}
}

// TestBoundaryValue: a value exactly on a cut point lands in the bin whose
// lower bound it is, at training (counts) and at scoring.
func TestBoundaryValue(t *testing.T) {
	var b strings.Builder
	b.WriteString("x,y\n")
	// x = 0..9, 100 rows each; bad when x < 5 for 40% of rows, else 10%.
	for i := 0; i < 1000; i++ {
		x := i % 10
		bad := 0
		if (x < 5 && i%10 < 4*(i/10%3+1)/3+2) || (x >= 5 && i/10%10 == 0) {
			bad = 1
		}
		fmt.Fprintf(&b, "%d,%d\n", x, bad)
	}
	o := Defaults()
	o.Data, o.Target, o.TestFrac = writeCSV(t, "b.csv", b.String()), "y", 0
	r, err := Train(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	v := r.Model.Variables[0]
	sc := scoring.NewScorer(r.Model)
	checked := 0
	for j, bin := range v.Bins {
		if bin.Kind != scoring.BinRange || bin.Lower == nil {
			continue
		}
		lo := *bin.Lower
		if got := sc.BinNumeric(0, lo); got != j {
			t.Errorf("value %g on the lower bound of %s scored in bin %d", lo, bin.Label, got)
		}
		// every x in [lo, upper) is 100 rows: the training count must match
		hi := 10.0
		if bin.Upper != nil {
			hi = *bin.Upper
		}
		if want := int(math.Ceil(hi)-math.Ceil(lo)) * 100; bin.Count != want {
			t.Errorf("bin %s count %d, want %d", bin.Label, bin.Count, want)
		}
		checked++
	}
	if checked == 0 {
		t.Fatal("no interior boundary to check")
	}
}

func TestBadInput(t *testing.T) {
	rows := func(n int, f func(i int) string) string {
		var b strings.Builder
		b.WriteString("x,c,y\n")
		for i := 0; i < n; i++ {
			b.WriteString(f(i) + "\n")
		}
		return b.String()
	}
	for _, c := range []struct {
		name, body, want string
	}{
		{"constant target", rows(200, func(i int) string { return fmt.Sprintf("%d,a,0", i%7) }), "constant"},
		{"three values", rows(200, func(i int) string { return fmt.Sprintf("%d,a,%d", i%7, i%3) }), "more than two values"},
		{"no usable variable", rows(200, func(i int) string { return fmt.Sprintf("1,a,%d", i%2) }), "no usable variable"},
		{"one row", "x,c,y\n1,a,1\n", "training needs at least"},
		{"no rows", "x,c,y\n", "training needs at least"},
		{"missing target column", rows(200, func(i int) string { return "1,a,1" }), "not found"},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := Defaults()
			o.Data, o.Target = writeCSV(t, "d.csv", c.body), "y"
			if c.name == "missing target column" {
				o.Target = "nope"
			}
			r, err := Train(context.Background(), o)
			if err == nil {
				t.Fatalf("no error; model %+v", r.Model.Metrics)
			}
			if lend.ErrorCode(err) != lend.EINVALID || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v (code %s), want EINVALID containing %q", err, lend.ErrorCode(err), c.want)
			}
		})
	}
}

// synthetic writes n rows with k numeric features whose true log-odds of bad
// is linear, plus one categorical, and returns the path.
func synthetic(t testing.TB, n, k int, seed uint64) string {
	rng := rand.New(rand.NewPCG(seed, 1))
	var b bytes.Buffer
	for j := 0; j < k; j++ {
		fmt.Fprintf(&b, "x%d,", j)
	}
	b.WriteString("segment,bad\n")
	for i := 0; i < n; i++ {
		z := -2.6
		for j := 0; j < k; j++ {
			x := rng.NormFloat64()
			z += 0.5 / float64(j+1) * x
			if j == 0 && rng.Float64() < 0.05 {
				fmt.Fprint(&b, ",")
				continue
			}
			fmt.Fprintf(&b, "%.4f,", x)
		}
		seg := "abcd"[rng.IntN(4)]
		if seg == 'd' {
			z += 0.4
		}
		bad := 0
		if rng.Float64() < 1/(1+math.Exp(-z)) {
			bad = 1
		}
		fmt.Fprintf(&b, "%c,%d\n", seg, bad)
	}
	return writeCSV(t, "syn.csv", b.String())
}

// TestCalibrationDeciles: on 200k synthetic rows the calibrated PD is within
// one percentage point of the observed bad rate in every test score decile.
func TestCalibrationDeciles(t *testing.T) {
	if testing.Short() {
		t.Skip("200k rows")
	}
	o := Defaults()
	o.Data, o.Target = synthetic(t, 200_000, 8, 7), "bad"
	r, err := Train(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range r.Model.Metrics.TestBands {
		t.Logf("scores %d–%d: n %d, PD %.4f, observed %.4f", b.MinScore, b.MaxScore, b.N, b.MeanPD, b.ObservedBR)
		if math.Abs(b.MeanPD-b.ObservedBR) > 0.01 {
			t.Errorf("decile %d–%d: PD %.4f vs observed %.4f", b.MinScore, b.MaxScore, b.MeanPD, b.ObservedBR)
		}
	}
}

// TestReport opens the HTML report and checks its sections and embedded plots.
func TestReport(t *testing.T) {
	r := german(t, 42)
	html, err := Report(r)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "r.html")
	if err := WriteFileAtomic(p, html); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{"<h2 id=\"summary\">", "<h2 id=\"metrics\">", "<h2 id=\"variables\">", "alt=\"ROC curve\"", "alt=\"KS curve\"",
		"alt=\"score distribution\"", "alt=\"calibration plot\"", "alt=\"WoE bars of status_of_existing_checking_account\"", r.Model.ID} {
		if !strings.Contains(s, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(s, `id="tuning"`) {
		t.Error("an untuned model's report has a tuning section")
	}
	if strings.Contains(s, "src=\"http") {
		t.Error("report is not self-contained")
	}
	// every embedded image decodes to an SVG document
	imgs := strings.Split(s, "data:image/svg+xml;base64,")
	if len(imgs) < 5+len(r.Model.Variables) {
		t.Fatalf("%d images", len(imgs)-1)
	}
	for _, part := range imgs[1:] {
		enc := part[:strings.IndexByte(part, '"')]
		svg, err := base64.StdEncoding.DecodeString(enc)
		if err != nil || !bytes.Contains(svg, []byte("<svg")) {
			t.Fatalf("embedded image is not SVG: %v", err)
		}
	}
}

// TestScoreFile scores the German file and checks the CSV shape and reasons.
func TestScoreFile(t *testing.T) {
	m := german(t, 42).Model
	var out bytes.Buffer
	n, err := ScoreFile(context.Background(), m, testutil.SharedData(t, "german_credit/germancredit.csv"), "", -1, &out)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if n != 1000 || len(lines) != 1001 || lines[0] != "id,score,pd,grade,reason_1,reason_2,reason_3,reason_4" {
		t.Fatalf("n=%d lines=%d head=%q", n, len(lines), lines[0])
	}
	codes := map[string]bool{}
	for _, v := range m.Variables {
		codes[v.ReasonCode] = true
	}
	for _, l := range lines[1:] {
		f := strings.Split(l, ",")
		for _, c := range f[4:] {
			if c != "" && !codes[c] {
				t.Fatalf("unknown reason code %q in %q", c, l)
			}
		}
	}
}

// FuzzRead feeds arbitrary bytes as a CSV file to the reader and the target
// parser: an error is fine, a panic is not.
func FuzzRead(f *testing.F) {
	f.Add([]byte("x,y\n1,0\n2,1\n"))
	f.Add([]byte(",X1,Y\nid,a,y\n1,2,1\n"))
	f.Add([]byte("a\tb\n1%\t0\n"))
	f.Add([]byte("x,y\n\"unterminated,1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 4096 {
			return
		}
		p := filepath.Join(t.TempDir(), "f.csv")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		tab, err := Read(context.Background(), p, ReadOptions{SkipRows: -1})
		if err != nil {
			if lend.ErrorCode(err) == "" {
				t.Fatal("untyped error")
			}
			return
		}
		for _, c := range tab.Columns {
			_, _ = targetLabels(c, "")
		}
	})
}
