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
	cands, y, train, test, opt, _ = germanPartsBy(t, seed, "")
	return cands, y, train, test, opt
}

// germanPartsBy is germanParts with Options.SplitBy splitBy (an out-of-time
// split when not ""); it also returns the split column, which is not a
// candidate, as in Train.
func germanPartsBy(t *testing.T, seed uint64, splitBy string) (cands []*Column, y []int8, train, test []int, opt Options, by *Column) {
	t.Helper()
	opt = Defaults()
	opt.Data = testutil.SharedData(t, "german_credit/germancredit.csv")
	opt.Target, opt.Bad, opt.Seed, opt.SplitBy = "creditability", "bad", seed, splitBy
	tab, err := Read(context.Background(), opt.Data, ReadOptions{SkipRows: -1, Want: []string{opt.Target, splitBy}})
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
		if c.Name != opt.Target && c.Name != splitBy {
			cands = append(cands, c)
		}
	}
	if splitBy != "" {
		by = tab.Col(splitBy)
	}
	return cands, y, train, test, opt, by
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
	o1, pts1, err := tune(ctx, cands, y, train, nil, opt, nil)
	if err != nil {
		t.Fatal(err)
	}
	c2, y2 := scrambled(cands, y, test)
	o2, pts2, err := tune(ctx, c2, y2, train, nil, opt, nil)
	if err != nil {
		t.Fatal(err)
	}
	if chosen(o1) != chosen(o2) || !slices.Equal(tunedAUCs(pts1), tunedAUCs(pts2)) {
		t.Fatalf("changing the test rows changed the tuning: %+v vs %+v", chosen(o1), chosen(o2))
	}
	t.Logf("seed 42 chose %+v", chosen(o1))
	c3, y3 := scrambled(cands, y, train[:30])
	_, pts3, err := tune(ctx, c3, y3, train, nil, opt, nil)
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

// TestTimeFolds: with an out-of-time split the folds chain forward in the
// split column. Twelve training rows (positions 0..11) carry these values,
// in shuffled order; rows 12 and 13 are test rows with the earliest values
// of all, and must not appear (tune is given the training rows only):
//
//	position  0  1  2  3  4  5  6  7  8  9 10 11 | 12 13
//	value     7  2 11  5  5  0  9  3 10  1  8  4 | -1 -2
//
// Sorted by value, ties (rows 3 and 4, both 5) by position:
// 5 9 1 7 11 3 4 0 10 6 8 2. Six blocks of two (12/(5+1)):
// B0 {5,9} B1 {1,7} B2 {3,11} B3 {0,4} B4 {6,10} B5 {2,8}; the tie falls
// across B2/B3, so the tie-break decides that 3 is fitted on in fold 4 and
// 4 validated on. Fold f fits on B0..B(f−1) and validates on Bf:
//
//	fold 1: fit {5,9}                   validate {1,7}
//	fold 2: fit {1,5,7,9}               validate {3,11}
//	fold 3: fit {1,3,5,7,9,11}          validate {0,4}
//	fold 4: fit {0,1,3,4,5,7,9,11}      validate {6,10}
//	fold 5: fit {0,1,3,4,5,6,7,9,10,11} validate {2,8}
//
// The same values as text ("2020-07" for 7, a date column's form) give the
// same folds. Fourteen rows in time order give blocks of 14/6 = 2 and the
// remainder to B0: fold 1 fits on 0..3 and validates on 4,5.
func TestTimeFolds(t *testing.T) {
	vals := []float64{7, 2, 11, 5, 5, 0, 9, 3, 10, 1, 8, 4, -1, -2}
	num := &Column{Name: "month", Kind: KindNumeric, Num: vals}
	txt := &Column{Name: "month", Kind: kindTime}
	for _, v := range vals {
		txt.Str = append(txt.Str, fmt.Sprintf("%04d-%02d", 2020+int(math.Floor(v/12)), int(v)-12*int(math.Floor(v/12))))
	}
	y := []int8{0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1}
	train := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}
	want := []foldSplit{
		{fit: []int{5, 9}, val: []int{1, 7}},
		{fit: []int{1, 5, 7, 9}, val: []int{3, 11}},
		{fit: []int{1, 3, 5, 7, 9, 11}, val: []int{0, 4}},
		{fit: []int{0, 1, 3, 4, 5, 7, 9, 11}, val: []int{6, 10}},
		{fit: []int{0, 1, 3, 4, 5, 6, 7, 9, 10, 11}, val: []int{2, 8}},
	}
	for _, c := range []*Column{num, txt} {
		got := tuneFoldSplits(y, train, timeOrdered(c, train), 42)
		if len(got) != len(want) {
			t.Fatalf("%s: %d folds, want %d", c.Kind, len(got), len(want))
		}
		for f := range want {
			if !slices.Equal(got[f].fit, want[f].fit) || !slices.Equal(got[f].val, want[f].val) {
				t.Errorf("%s fold %d: fit %v validate %v; want fit %v validate %v", c.Kind, f+1, got[f].fit, got[f].val, want[f].fit, want[f].val)
			}
		}
	}
	rows := make([]int, 14)
	for i := range rows {
		rows[i] = i
	}
	got := timeFolds(rows, 5)
	if !slices.Equal(got[0].fit, []int{0, 1, 2, 3}) || !slices.Equal(got[0].val, []int{4, 5}) ||
		!slices.Equal(got[4].fit, rows[:12]) || !slices.Equal(got[4].val, []int{12, 13}) {
		t.Errorf("14 rows: fold 1 %v/%v, fold 5 %v/%v; want the remainder in the first fitting block", got[0].fit, got[0].val, got[4].fit, got[4].val)
	}
}

// TestTimeFoldsLookForward: German split out of time by age_in_years (a
// stand-in for a date: 57 distinct values, many ties). In every fold each
// validation row's split value is at least every fitting row's, each fold
// fits on everything the folds before it fitted on and validated on, and the
// validation blocks are disjoint and of equal size.
func TestTimeFoldsLookForward(t *testing.T) {
	_, y, train, _, opt, by := germanPartsBy(t, 42, "age_in_years")
	folds := tuneFoldSplits(y, train, timeOrdered(by, train), opt.Seed)
	if len(folds) != TuneFolds {
		t.Fatalf("%d folds, want %d", len(folds), TuneFolds)
	}
	seen := map[int]bool{}
	for f, fs := range folds {
		minFit, maxFit, minVal := math.Inf(1), math.Inf(-1), math.Inf(1)
		for _, r := range fs.fit {
			minFit, maxFit = math.Min(minFit, by.Num[r]), math.Max(maxFit, by.Num[r])
		}
		for _, r := range fs.val {
			minVal = math.Min(minVal, by.Num[r])
			if seen[r] {
				t.Errorf("fold %d validates on row %d again", f+1, r)
			}
			seen[r] = true
		}
		if minVal < maxFit {
			t.Errorf("fold %d validates on age %v, earlier than age %v it was fitted on", f+1, minVal, maxFit)
		}
		if len(fs.val) != len(train)/(TuneFolds+1) {
			t.Errorf("fold %d: %d validation rows, want %d", f+1, len(fs.val), len(train)/(TuneFolds+1))
		}
		if f > 0 {
			prev := append(slices.Clone(folds[f-1].fit), folds[f-1].val...)
			slices.Sort(prev)
			if !slices.Equal(fs.fit, prev) {
				t.Errorf("fold %d does not fit on exactly fold %d's fitting and validation rows", f+1, f)
			}
		}
		t.Logf("fold %d: fit %d rows (age %v..%v), validate %d rows (age %v..)", f+1, len(fs.fit), minFit, maxFit, len(fs.val), minVal)
	}
}

// TestTuneSeesTrainingPartOnlyOutOfTime is TestTuneSeesTrainingPartOnly with
// an out-of-time split: changing the test rows' labels, values and split
// values (moved before every training row, where they would land first in the
// time order were they read) leaves the chosen point and every
// cross-validated AUC bit for bit the same, while the same change to 30
// training rows does not. The AUCs also differ from the random folds', so
// the time-ordered folds are the ones in use.
func TestTuneSeesTrainingPartOnlyOutOfTime(t *testing.T) {
	ctx := context.Background()
	cands, y, train, test, opt, by := germanPartsBy(t, 42, "age_in_years")
	o1, pts1, err := tune(ctx, cands, y, train, timeOrdered(by, train), opt, nil)
	if err != nil {
		t.Fatal(err)
	}
	c2, y2 := scrambled(append(slices.Clone(cands), by), y, test)
	by2 := c2[len(c2)-1]
	o2, pts2, err := tune(ctx, c2[:len(c2)-1], y2, train, timeOrdered(by2, train), opt, nil)
	if err != nil {
		t.Fatal(err)
	}
	if chosen(o1) != chosen(o2) || !slices.Equal(tunedAUCs(pts1), tunedAUCs(pts2)) {
		t.Fatalf("changing the test rows changed the tuning: %+v vs %+v", chosen(o1), chosen(o2))
	}
	t.Logf("%d training rows (age below the test part's), chose %+v", len(train), chosen(o1))
	c3, y3 := scrambled(cands, y, train[:30])
	if _, pts3, err := tune(ctx, c3, y3, train, timeOrdered(by, train), opt, nil); err != nil {
		t.Fatal(err)
	} else if slices.Equal(tunedAUCs(pts1), tunedAUCs(pts3)) {
		t.Fatal("control: changing 30 training rows left every cross-validated AUC unchanged")
	}
	if _, pts0, err := tune(ctx, cands, y, train, nil, opt, nil); err != nil {
		t.Fatal(err)
	} else if slices.Equal(tunedAUCs(pts1), tunedAUCs(pts0)) {
		t.Fatal("the out-of-time tuning gave the random folds' AUCs")
	}
}

// TestTrainTunesOutOfTime: Train with --split-by and --tune auto tunes on the
// forward-chaining folds of its training part (its grid AUCs are those of
// tune given the rows in age order) and records tune_folds=time; without
// --split-by the option is absent.
func TestTrainTunesOutOfTime(t *testing.T) {
	r := germanWith(t, func(o *Options) { o.Tune, o.SplitBy = TuneAuto, "age_in_years" })
	cands, y, train, _, opt, by := germanPartsBy(t, 42, "age_in_years")
	opt.Tune = TuneAuto
	_, pts, err := tune(context.Background(), cands, y, train, timeOrdered(by, train), opt, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(tunedAUCs(r.Tuning), tunedAUCs(pts)) {
		t.Error("Train's tuning AUCs are not those of the time-ordered folds")
	}
	if v := OptionValue(r.Model, "tune_folds"); v != "time" {
		t.Errorf("tune_folds = %q, want time", v)
	}
	if slices.ContainsFunc(r.Warnings, func(w string) bool { return strings.Contains(w, "no grid point") }) {
		t.Errorf("points were validated, yet a warning says none was: %q", r.Warnings)
	}
	if v := OptionValue(germanTuned(t).Model, "tune_folds"); v != "" {
		t.Errorf("without --split-by: tune_folds = %q, want it absent", v)
	}
	// The report names the folds that were run.
	for _, c := range []struct {
		r         *Result
		want, not string
	}{{r, "forward-chaining cross-validation", "stratified cross-validation"},
		{germanTuned(t), "stratified cross-validation", "forward-chaining"}} {
		html, err := Report(c.r)
		if err != nil {
			t.Fatal(err)
		}
		if page := string(html); !strings.Contains(page, c.want) || strings.Contains(page, c.not) {
			t.Errorf("report of a model tuned with tune_folds=%q: want %q and not %q", OptionValue(c.r.Model, "tune_folds"), c.want, c.not)
		}
	}
}

// TestTuneTimeFoldOneClass: forward-chaining folds are not stratified, so a
// block can hold one class. 100 rows in time order t = 0..99, 30% test
// (t ≥ 70); the 70 training rows cut into B0 = t 0..14 and B1..B5 of 11.
// B0 is all goods, so fold 1 fits on one class; B5 (t 59..69) is all bads,
// so fold 5 validates on one class. Each makes every point's AUC NaN in its
// fold (as a failed fit does with random folds), so every CV AUC is NaN, the
// options stay as given, and Train still trains on the whole training part:
// no panic, no error.
func TestTuneTimeFoldOneClass(t *testing.T) {
	var b strings.Builder
	b.WriteString("t,x,y\n")
	for i := range 100 {
		x := (i * 37) % 50
		bad := 0
		switch {
		case i < 15:
		case i >= 59 && i < 70:
			bad = 1
		case x < 15: // bad rate falling with x elsewhere
			bad = 1
		}
		fmt.Fprintf(&b, "%d,%d,%d\n", i, x, bad)
	}
	o := Defaults()
	o.Data, o.Target, o.SplitBy, o.Tune = writeCSV(t, "oneclass.csv", b.String()), "y", "t", TuneAuto
	r, err := Train(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Tuning) != 64 || r.Model.Data.TrainRows != 70 {
		t.Fatalf("%d points, %d training rows; want 64, 70", len(r.Tuning), r.Model.Data.TrainRows)
	}
	for _, p := range r.Tuning {
		if !math.IsNaN(p.CVAUC) {
			t.Fatalf("point %+v has a CV AUC, want NaN (a fold with one class)", p)
		}
	}
	if OptionValue(r.Model, "max_bins") != "8" || OptionValue(r.Model, "l2") != "0" {
		t.Errorf("no point scored, yet the options changed: max_bins %s, l2 %s", OptionValue(r.Model, "max_bins"), OptionValue(r.Model, "l2"))
	}
	if !slices.ContainsFunc(r.Warnings, func(w string) bool { return strings.Contains(w, "no grid point could be validated") }) {
		t.Errorf("tuning chose nothing and no warning says so: %q", r.Warnings)
	}
}
