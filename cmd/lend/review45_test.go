package main

import (
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/lendhq/lend/internal/pipeline"
	"github.com/lendhq/lend/scoring"
)

// Review 45: CLI cases of the scoring review.

var review45Golden = filepath.Join("..", "..", "scoring", "testdata", "golden_model.json")

// TestReview45ScoreRefusesUncalibratedModel: `lend score` with an artifact
// that has no calibration printed PD 0.500000 for every row with exit 0
// (method "" fell to the logistic formula with a = b = 0). It must exit
// non-zero naming the calibration.
func TestReview45ScoreRefusesUncalibratedModel(t *testing.T) {
	dir := t.TempDir()
	var raw map[string]any
	b, err := os.ReadFile(review45Golden)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	delete(raw, "calibration")
	b, _ = json.Marshal(raw)
	model := filepath.Join(dir, "nocal.json")
	rows := filepath.Join(dir, "rows.csv")
	os.WriteFile(model, b, 0o644)
	os.WriteFile(rows, []byte("refund_rate_90d,sales_trend_12m,tenure_days,category\n0.01,0.1,400,food\n"), 0o644)
	out, err := lendCmd(t, "score", "--model", model, "--data", rows).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "calibration") || strings.Contains(string(out), "panic") {
		t.Fatalf("lend score with no calibration: err %v, output:\n%s\nwant a non-zero exit naming the calibration", err, out)
	}
}

// TestReview45RefreshBadCellNamesRow: one unreadable cell ("four hundred" in
// tenure_days of merchant m3) makes DuckDB read the whole column as text, so
// every merchant's tenure_days becomes absent: all three are declined
// (policy_data_missing) and their lines cut, with exit 0. The refresh must
// instead fail naming the row/merchant and the field, and write nothing:
// re-running the good file for the same as-of then finds all 3 lines
// unchanged.
func TestReview45RefreshBadCellNamesRow(t *testing.T) {
	dir := t.TempDir()
	head := "merchant_id,refund_rate_90d,sales_trend_12m,tenure_days,sales_amount_90d,days_since_last_sale,chargeback_count_180d,category\n"
	row := func(id, tenure string) string { return id + ",0.01,0.10," + tenure + ",29999,2,0,food\n" }
	good := filepath.Join(dir, "good.csv")
	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(good, []byte(head+row("m1", "400")+row("m2", "400")+row("m3", "400")), 0o644)
	os.WriteFile(bad, []byte(head+row("m1", "400")+row("m2", "400")+row("m3", "four hundred")), 0o644)
	db := filepath.Join(dir, "lend.db")
	run := func(features string) (pipeline.RefreshSummary, string, error) {
		out, err := lendCmd(t, "refresh-limits", "--features", features, "--model", review45Golden, "--db", db,
			"--data", filepath.Join(dir, "data"), "--as-of", "2024-01-01", "--json").CombinedOutput()
		var sum pipeline.RefreshSummary
		if err == nil {
			if jerr := json.Unmarshal(out, &sum); jerr != nil {
				t.Fatalf("%v: %s", jerr, out)
			}
		}
		return sum, string(out), err
	}
	if sum, out, err := run(good); err != nil || sum.New != 3 {
		t.Fatalf("good file: %v %+v %s", err, sum, out)
	}
	sum, out, err := run(bad)
	if err == nil {
		t.Errorf("bad cell: exit 0 with %+v; want a non-zero exit naming merchant m3 and tenure_days", sum)
	} else if !strings.Contains(out, "m3") || !strings.Contains(out, "tenure_days") {
		t.Errorf("bad cell: message %q does not name merchant m3 and tenure_days", out)
	}
	again, out, err := run(good)
	if err != nil || again.Unchanged != 3 || again.Written != 0 {
		t.Errorf("after the bad run, re-running the good file: %v %+v %s; want 3 unchanged, 0 written (the bad run must write nothing)", err, again, out)
	}
}

// review45Heloc trains a scorecard on FICO HELOC (special codes -9,-8,-7).
func review45Heloc(t *testing.T) (string, *scoring.Model) {
	t.Helper()
	data := filepath.Join("/work/shared/data/fico_heloc/heloc_dataset_v1.csv")
	if _, err := os.Stat(data); err != nil {
		t.Skip("FICO HELOC not available")
	}
	model := filepath.Join(t.TempDir(), "heloc.json")
	if out, err := lendCmd(t, "train", "--data", data, "--target", "RiskPerformance", "--bad", "Bad",
		"--special", "-9,-8,-7", "--seed", "1", "--out", model).CombinedOutput(); err != nil {
		t.Fatalf("train: %v\n%s", err, out)
	}
	m, err := scoring.LoadFile(model)
	if err != nil {
		t.Fatal(err)
	}
	return model, m
}

// review45Points looks a value up in a variable's bins by the rules of
// SPEC §2.4 / artifact.go: NaN -> missing bin; a special code -> its bin;
// else the range with lower <= x < upper.
func review45Points(v scoring.Variable, x float64) int {
	for _, b := range v.Bins {
		if math.IsNaN(x) && b.Kind == scoring.BinMissing {
			return b.Points
		}
		if !math.IsNaN(x) && b.Kind == scoring.BinSpecial && *b.Special == x {
			return b.Points
		}
	}
	for _, b := range v.Bins {
		if b.Kind == scoring.BinRange && !math.IsNaN(x) && (b.Lower == nil || *b.Lower <= x) && (b.Upper == nil || x < *b.Upper) {
			isSpecial := false
			for _, s := range v.Bins {
				isSpecial = isSpecial || (s.Kind == scoring.BinSpecial && *s.Special == x)
			}
			if !isSpecial {
				return b.Points
			}
		}
	}
	return math.MinInt
}

// TestReview45HelocScoreByHand: `lend score` on the first 20 HELOC rows gives
// exactly the sum of the artifact's points (bins looked up independently,
// special codes first, lower bound closed) and the isotonic PD interpolated
// between the knots. Checked by hand on row 1 (score 445 = 23+44+31+44+43+
// 37+49+40+43+46+45, with AverageMInFile 84, NumRevolvingTradesWBalance 8,
// PercentInstallTrades 43 and NumSatisfactoryTrades 20 exactly on a lower
// bound; PD 0.809766 between knots 438.157/0.87198 and 445.129/0.80859).
func TestReview45HelocScoreByHand(t *testing.T) {
	model, m := review45Heloc(t)
	src, err := os.ReadFile("/work/shared/data/fico_heloc/heloc_dataset_v1.csv")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(src), "\n")
	rowsPath := filepath.Join(t.TempDir(), "rows.csv")
	os.WriteFile(rowsPath, []byte(strings.Join(lines[:21], "")), 0o644)
	out, err := lendCmd(t, "score", "--model", model, "--data", rowsPath).Output()
	if err != nil {
		t.Fatalf("score: %v", err)
	}
	got, _ := csv.NewReader(strings.NewReader(string(out))).ReadAll()
	in, _ := csv.NewReader(strings.NewReader(strings.Join(lines[:21], ""))).ReadAll()
	col := map[string]int{}
	for i, h := range in[0] {
		col[h] = i
	}
	k := m.Calibration.Knots
	for r := 1; r <= 20; r++ {
		score := 0
		for _, v := range m.Variables {
			x, _ := strconv.ParseFloat(in[r][col[v.Name]], 64)
			score += review45Points(v, x)
		}
		s := float64(score)
		pd := k[0].PD
		if s >= k[len(k)-1].Score {
			pd = k[len(k)-1].PD
		}
		for i := 1; i < len(k); i++ {
			if s > k[i-1].Score && s < k[i].Score {
				pd = k[i-1].PD + (s-k[i-1].Score)/(k[i].Score-k[i-1].Score)*(k[i].PD-k[i-1].PD)
			}
		}
		if got[r][1] != strconv.Itoa(score) || got[r][2] != strconv.FormatFloat(pd, 'f', 6, 64) {
			t.Errorf("row %d: lend score says score %s pd %s; by hand %d %.6f", r, got[r][1], got[r][2], score, pd)
		}
	}
	if got[1][1] != "445" {
		t.Errorf("row 1 scored %s, hand sum 445 (for this seed and build)", got[1][1])
	}
}

// TestReview45HelocMissingNeverRewarded: the scorer promises (scoring/
// scorer.go, compiledVar.missing) that when training saw no missing value an
// unknown value scores at the worst attribute, "so an unknown value is never
// rewarded". HELOC has no empty cells, yet training writes every variable a
// missing bin with count 0 and WoE 0, i.e. neutral points: ExternalRiskEstimate
// missing scores 45 points while its worst attribute ([-inf, 59)) scores 23.
// A row with ExternalRiskEstimate blank must not outscore the same row with
// ExternalRiskEstimate = 55 (the worst range).
func TestReview45HelocMissingNeverRewarded(t *testing.T) {
	model, m := review45Heloc(t)
	for _, v := range m.Variables {
		worst := math.MaxInt
		for _, b := range v.Bins {
			worst = min(worst, b.Points)
		}
		for _, b := range v.Bins {
			if b.Kind == scoring.BinMissing && b.Count == 0 && b.Points > worst {
				t.Errorf("%s: missing bin seen 0 times in training has %d points, above the worst attribute's %d", v.Name, b.Points, worst)
			}
		}
	}
	src, _ := os.ReadFile("/work/shared/data/fico_heloc/heloc_dataset_v1.csv")
	lines := strings.SplitAfter(string(src), "\n")
	row1 := strings.Split(lines[1], ",") // ExternalRiskEstimate is column 2: 55
	blank := append([]string(nil), row1...)
	blank[1] = ""
	rowsPath := filepath.Join(t.TempDir(), "rows.csv")
	os.WriteFile(rowsPath, []byte(lines[0]+strings.Join(row1, ",")+strings.Join(blank, ",")), 0o644)
	out, err := lendCmd(t, "score", "--model", model, "--data", rowsPath).Output()
	if err != nil {
		t.Fatalf("score: %v", err)
	}
	got, _ := csv.NewReader(strings.NewReader(string(out))).ReadAll()
	known, _ := strconv.Atoi(got[1][1])
	unknown, _ := strconv.Atoi(got[2][1])
	if unknown > known {
		t.Errorf("ExternalRiskEstimate 55 scores %d, blank scores %d: missing data is rewarded by %d points", known, unknown, unknown-known)
	}
}
