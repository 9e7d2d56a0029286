package training

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/lendhq/lend"
	"github.com/lendhq/lend/internal/testutil"
)

// germanParts reads the German file and splits it exactly as Train does
// (canonical order, then the seeded stratified split) and returns the
// candidate columns, labels and the two parts.
func germanParts(t *testing.T, seed uint64) (cands []*Column, y []int8, train, test []int, opt Options) {
	t.Helper()
	opt = Defaults()
	opt.Data = testutil.SharedData(t, "german_credit/germancredit.csv")
	opt.Target, opt.Bad, opt.Seed = "creditability", "bad", seed
	tab, err := Read(context.Background(), opt.Data, ReadOptions{SkipRows: -1, Want: []string{opt.Target}})
	if err != nil {
		t.Fatal(err)
	}
	if y, err = targetLabels(tab.Col(opt.Target), opt.Bad); err != nil {
		t.Fatal(err)
	}
	y = permuted(y, canonicalOrder(tab, ""))
	if train, test, err = split(tab, y, nil, opt); err != nil {
		t.Fatal(err)
	}
	for _, c := range tab.Columns {
		if c.Name != opt.Target {
			cands = append(cands, c)
		}
	}
	return cands, y, train, test, opt
}

// scrambled returns copies of cands and y in which every row of rows has its
// label flipped and its values replaced (numbers negated and shifted, text
// renamed), leaving the other rows as they were.
func scrambled(cands []*Column, y []int8, rows []int) ([]*Column, []int8) {
	y2 := slices.Clone(y)
	out := make([]*Column, len(cands))
	for j, c := range cands {
		d := *c
		d.Num, d.Str = slices.Clone(c.Num), slices.Clone(c.Str)
		for _, r := range rows {
			if d.Kind == KindNumeric {
				d.Num[r] = -d.Num[r] - 7
			} else {
				d.Str[r] = "zz" + d.Str[r]
			}
		}
		out[j] = &d
	}
	for _, r := range rows {
		y2[r] = 1 - y2[r]
	}
	return out, y2
}

// TestTuneSeesTrainingPartOnly: the chosen grid point and every point's
// cross-validated AUC are the same bit for bit when the test rows' labels and
// values are all changed. As a control that the comparison can fail, the same
// change to 30 training rows changes at least one point's AUC.
func TestTuneSeesTrainingPartOnly(t *testing.T) {
	ctx := context.Background()
	cands, y, train, test, opt := germanParts(t, 42)
	if len(train) != 700 || len(test) != 300 {
		t.Fatalf("parts %d/%d, want 700/300", len(train), len(test))
	}
	o1, pts1, err := tune(ctx, cands, y, train, opt, nil)
	if err != nil {
		t.Fatal(err)
	}
	c2, y2 := scrambled(cands, y, test)
	o2, pts2, err := tune(ctx, c2, y2, train, opt, nil)
	if err != nil {
		t.Fatal(err)
	}
	if chosen(o1) != chosen(o2) || !slices.Equal(tunedAUCs(pts1), tunedAUCs(pts2)) {
		t.Fatalf("changing the test rows changed the tuning: %+v vs %+v", chosen(o1), chosen(o2))
	}
	t.Logf("seed 42 chose %+v", chosen(o1))
	c3, y3 := scrambled(cands, y, train[:30])
	_, pts3, err := tune(ctx, c3, y3, train, opt, nil)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(tunedAUCs(pts1), tunedAUCs(pts3)) {
		t.Fatal("control: changing 30 training rows left every cross-validated AUC unchanged")
	}
}

// tunedAUCs returns the points' AUCs as bits, so NaN points compare equal too.
func tunedAUCs(pts []TunePoint) []uint64 {
	v := make([]uint64, len(pts))
	for i, p := range pts {
		v[i] = math.Float64bits(p.CVAUC)
	}
	return v
}

func chosen(o Options) TunePoint {
	return TunePoint{MaxBins: o.MaxBins, MinBinShare: o.MinBinShare, MinIV: o.MinIV, L2: o.L2}
}

// TestTuneArtifact: Train with Tune auto is deterministic (same bytes twice),
// records tune=auto and the winner's values, and the winner is the first
// point with the highest cross-validated AUC.
func TestTuneArtifact(t *testing.T) {
	r := germanTuned(t)
	if r.Model.Data.TrainRows > TuneMaxRows || len(r.Tuning) != 64 {
		t.Fatalf("German was not tuned over the whole grid: %d points", len(r.Tuning))
	}
	b1, _ := r.Model.Marshal()
	b2, _ := germanTuned(t).Model.Marshal()
	if !bytes.Equal(b1, b2) {
		t.Fatal("two tuned trainings with the same seed differ")
	}
	best := 0
	for k, p := range r.Tuning {
		if p.CVAUC > r.Tuning[best].CVAUC {
			best = k
		}
	}
	w := r.Tuning[best]
	m := r.Model
	got := []string{OptionValue(m, "tune"), OptionValue(m, "max_bins"), OptionValue(m, "min_bin_share"), OptionValue(m, "min_iv"), OptionValue(m, "l2")}
	want := []string{"auto", strconv.Itoa(w.MaxBins), fmtNum(w.MinBinShare), fmtNum(w.MinIV), fmtNum(w.L2)}
	if !slices.Equal(got, want) {
		t.Errorf("recorded %v, want the winner %v (CV AUC %.4f)", got, want, w.CVAUC)
	}
	// The report shows every grid point and marks the winner alone.
	html, err := Report(r)
	if err != nil {
		t.Fatal(err)
	}
	page := string(html)
	from, to := strings.Index(page, `<h2 id="tuning">`), strings.Index(page, `<h2 id="candidates">`)
	if from < 0 || to < from {
		t.Fatal("the report of a tuned model has no tuning section before the candidates")
	}
	sec := page[from:to]
	if n := strings.Count(sec, "<tr><td>"); n != 64 || strings.Count(sec, ">chosen<") != 1 {
		t.Fatalf("tuning table: %d rows, %d chosen; want 64 and 1", n, strings.Count(sec, ">chosen<"))
	}
	row := sec[strings.LastIndex(sec[:strings.Index(sec, ">chosen<")], "<tr>"):]
	wantCells := fmt.Sprintf("<tr><td>%d</td><td>%.2f%%</td><td>%v</td><td>%v</td><td>%.4f</td>", w.MaxBins, 100*w.MinBinShare, w.MinIV, w.L2, w.CVAUC)
	if !strings.HasPrefix(row, wantCells) {
		t.Errorf("chosen row %.120q, want it to start %q", row, wantCells)
	}
}

// germanTuned trains German seed 42 with --tune auto (the default is off).
func germanTuned(t *testing.T) *Result {
	t.Helper()
	return germanWith(t, func(o *Options) { o.Tune = TuneAuto })
}

// TestTuneOff: Tune off trains on the options as given and records no tune option.
func TestTuneOff(t *testing.T) {
	o := germanOptions(t)
	o.Tune = TuneOff
	r, err := Train(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if r.Tuning != nil || OptionValue(r.Model, "tune") != "" || OptionValue(r.Model, "max_bins") != "8" || OptionValue(r.Model, "l2") != "0" {
		t.Errorf("tune off: tuning %d points, options tune=%q max_bins=%s l2=%s", len(r.Tuning),
			OptionValue(r.Model, "tune"), OptionValue(r.Model, "max_bins"), OptionValue(r.Model, "l2"))
	}
	o.Tune = "sometimes"
	if _, err := Train(context.Background(), o); lend.ErrorCode(err) != lend.EINVALID {
		t.Errorf("tune %q: got %v, want an invalid-option error", o.Tune, err)
	}
}

// TestTuneGrid: all four options at their defaults give 4·2·2·4 = 64 points,
// default first; an option set away from its default is held fixed
// (--l2 1: 4·2·2·1 = 16 points, all with L2 1).
func TestTuneGrid(t *testing.T) {
	o := Defaults()
	g := tuneGrid(o)
	if len(g) != 64 || g[0] != (TunePoint{MaxBins: 8, MinBinShare: 0.05, MinIV: 0.02, L2: 0}) {
		t.Fatalf("default grid: %d points, first %+v", len(g), g[0])
	}
	o.L2 = 1
	g = tuneGrid(o)
	if len(g) != 16 {
		t.Fatalf("--l2 1: %d points, want 16", len(g))
	}
	for _, p := range g {
		if p.L2 != 1 {
			t.Fatalf("--l2 1: point %+v", p)
		}
	}
	auto := Defaults()
	auto.Tune = TuneAuto
	if !tuneWanted(auto, TuneMaxRows) || tuneWanted(auto, TuneMaxRows+1) || tuneWanted(Defaults(), 1000) {
		t.Error("auto must tune up to TuneMaxRows training rows and not above; the default (off) never")
	}
}

// TestStratifiedFolds: German seed 42's training part (490 goods, 210 bads)
// deals into 5 folds of 98 goods and 42 bads each, every row exactly once.
func TestStratifiedFolds(t *testing.T) {
	_, y, train, _, _ := germanParts(t, 42)
	folds := stratifiedFolds(y, train, 5, 42)
	var all []int
	for f, rows := range folds {
		if b := count1(labelsOf(y, rows)); len(rows) != 140 || b != 42 {
			t.Errorf("fold %d: %d rows, %d bads; want 140, 42", f, len(rows), b)
		}
		fit, val := foldRows(folds, f)
		if len(fit) != 560 || !slices.Equal(val, rows) {
			t.Errorf("fold %d: %d fitting rows, want 560", f, len(fit))
		}
		all = append(all, rows...)
	}
	slices.Sort(all)
	if !slices.Equal(all, train) {
		t.Error("the folds are not a partition of the training part")
	}
	if slices.Equal(folds[0], stratifiedFolds(y, train, 5, 43)[0]) {
		t.Error("the folds do not depend on the seed")
	}
}

// TestTuneSkippedAboveLimit: --tune auto on a training part past
// TuneMaxRows trains on the options as given, says so in a warning, and the
// artifact does not claim tuning.
func TestTuneSkippedAboveLimit(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("x,y\n")
	rows := TuneMaxRows*10/7 + 100 // the training part (70%) is past the limit
	for i := range rows {
		x := i % 97
		bad := 0
		if (i*7919)%100 < 10+x/3 { // bad rate rising with x
			bad = 1
		}
		fmt.Fprintf(&b, "%d,%d\n", x, bad)
	}
	o := Defaults()
	o.Data, o.Target, o.Tune = writeCSV(t, "big.csv", b.String()), "y", TuneAuto
	r, err := Train(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if r.Tuning != nil || OptionValue(r.Model, "tune") != "" || r.Model.Data.TrainRows <= TuneMaxRows {
		t.Fatalf("tuning %d points, tune option %q, %d training rows", len(r.Tuning), OptionValue(r.Model, "tune"), r.Model.Data.TrainRows)
	}
	if len(r.Warnings) == 0 || !strings.Contains(strings.Join(r.Warnings, "\n"), "--tune auto skipped") {
		t.Fatalf("warnings %q, want the skipped tuning named", r.Warnings)
	}
}
