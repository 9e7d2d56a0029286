package main

import (
	"bytes"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/lendhq/lend/internal/testutil"
	"github.com/lendhq/lend/scoring"
)

// trainGerman runs `lend train` on German credit and returns the artifact and report paths.
func trainGerman(t *testing.T, extra ...string) (data, model, report string) {
	t.Helper()
	data = testutil.SharedData(t, "german_credit/germancredit.csv")
	dir := t.TempDir()
	model, report = filepath.Join(dir, "m.json"), filepath.Join(dir, "r.html")
	args := append([]string{"train", "--data", data, "--target", "creditability", "--bad", "bad",
		"--out", model, "--report", report, "--created-at", "2025-01-31T00:00:00Z"}, extra...)
	out, err := runLend(t, args...)
	if err != nil {
		t.Fatalf("lend train: %v", err)
	}
	if !strings.Contains(out, "test AUC") || !strings.Contains(out, model) {
		t.Errorf("train printed %q", out)
	}
	return data, model, report
}

// TestTrainCLIReport: `lend train --report` writes an artifact `lend score`
// can load and a self-contained HTML page with the summary, the variable
// table (every selected variable with its IV) and embedded SVG plots.
func TestTrainCLIReport(t *testing.T) {
	_, model, report := trainGerman(t)
	m, err := scoring.LoadFile(model)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Variables) == 0 || m.Data.Rows != 1000 || m.CreatedAt != "2025-01-31T00:00:00Z" {
		t.Fatalf("artifact: %d variables, %d rows, created %q", len(m.Variables), m.Data.Rows, m.CreatedAt)
	}
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	for _, want := range []string{`<h2 id="summary">`, `<h2 id="variables">`, `<h2 id="metrics">`, m.ID, "1000 rows"} {
		if !strings.Contains(page, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	// the variable table lists each selected variable with its IV (4 decimals)
	vars := page[strings.Index(page, `<h2 id="variables">`):]
	for _, v := range m.Variables {
		if !strings.Contains(vars, html.EscapeString(v.Name)) || !strings.Contains(vars, fmt.Sprintf("%.4f", v.IV)) {
			t.Errorf("variable table lacks %s (IV %.4f)", v.Name, v.IV)
		}
	}
	imgs := strings.Count(page, "<img ")
	if imgs < 4+len(m.Variables) { // ROC, KS, score distribution, calibration, one WoE chart per variable
		t.Errorf("%d <img> tags for %d variables", imgs, len(m.Variables))
	}
	for _, part := range strings.Split(page, `src="data:image/svg+xml;base64,`)[1:] {
		svg, err := base64.StdEncoding.DecodeString(part[:strings.IndexByte(part, '"')])
		if err != nil || !bytes.Contains(svg, []byte("<svg")) {
			t.Fatalf("embedded image is not an SVG: %v", err)
		}
	}
	if strings.Contains(page, `src="http`) {
		t.Error("report loads something from the network")
	}
}

// TestEvaluateCLIJSON: `lend evaluate --json` prints exactly one JSON object
// with the keys the issue names, and values consistent with each other and
// with the data (German credit: 1000 rows, 300 bad).
func TestEvaluateCLIJSON(t *testing.T) {
	data, model, _ := trainGerman(t)
	out, err := runLend(t, "evaluate", "--model", model, "--data", data, "--json")
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(strings.NewReader(out))
	var got map[string]any
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if _, err := dec.Token(); err != io.EOF {
		t.Fatalf("more than one JSON value: %q", out)
	}
	num := map[string]float64{}
	for _, k := range []string{"n", "bad_rate", "auc", "gini", "ks", "brier", "log_loss", "psi"} {
		v, ok := got[k].(float64)
		if !ok {
			t.Fatalf("key %q missing or not a number in %s", k, out)
		}
		num[k] = v
	}
	if num["n"] != 1000 || math.Abs(num["bad_rate"]-0.3) > 1e-12 {
		t.Errorf("n %v bad_rate %v, want 1000 and 0.3", num["n"], num["bad_rate"])
	}
	if num["auc"] < 0.75 || num["auc"] > 0.95 || math.Abs(num["gini"]-(2*num["auc"]-1)) > 1e-9 {
		t.Errorf("auc %v gini %v", num["auc"], num["gini"])
	}
	// a model better than chance: KS positive; Brier under the constant
	// predictor's 0.3·0.7 = 0.21; log loss under its 0.6109
	if num["ks"] <= 0.3 || num["ks"] >= 1 || num["brier"] <= 0 || num["brier"] >= 0.21 || num["log_loss"] <= 0 || num["log_loss"] >= 0.6109 {
		t.Errorf("ks %v brier %v log_loss %v", num["ks"], num["brier"], num["log_loss"])
	}
	// the whole file holds the training rows: its score distribution is close to training's
	if num["psi"] < 0 || num["psi"] > 0.1 {
		t.Errorf("psi %v", num["psi"])
	}
}

// TestScoreCLI: `lend score --out` writes one line per row whose score,
// PD, grade and reason codes equal an independent reading of the artifact:
// the points of the bin each value falls in ([lower, upper) ranges, listed
// categories, else the "other" bin), the PD interpolated between the
// calibration knots, the first grade whose max PD covers it, and the
// variables that lost the most points against their best attribute.
func TestScoreCLI(t *testing.T) {
	data, model, _ := trainGerman(t)
	out := filepath.Join(t.TempDir(), "scores.csv")
	if _, err := runLend(t, "score", "--model", model, "--data", data, "--out", out); err != nil {
		t.Fatal(err)
	}
	m, err := scoring.LoadFile(model)
	if err != nil {
		t.Fatal(err)
	}
	scored := readCSV(t, out)
	input := readCSV(t, data)
	if len(scored) != len(input) || len(scored) != 1001 {
		t.Fatalf("%d scored lines for %d input lines", len(scored), len(input))
	}
	if want := "id,score,pd,grade,reason_1,reason_2,reason_3,reason_4"; strings.Join(scored[0], ",") != want {
		t.Fatalf("header %v", scored[0])
	}
	col := map[string]int{}
	for i, name := range input[0] {
		col[name] = i
	}
	for r := 1; r < len(input); r++ {
		score, lost := 0, make([]int, len(m.Variables))
		for j, v := range m.Variables {
			b := lookupBin(t, v, input[r][col[v.Name]])
			score += b.Points
			best := v.Bins[0].Points
			for _, x := range v.Bins {
				best = max(best, x.Points)
			}
			lost[j] = best - b.Points
		}
		pd := knotPD(m.Calibration.Knots, float64(score))
		grade := m.Grades[len(m.Grades)-1].Name
		for _, g := range m.Grades {
			if pd <= g.MaxPD {
				grade = g.Name
				break
			}
		}
		order := make([]int, 0, len(m.Variables))
		for j := range m.Variables {
			if lost[j] > 0 {
				order = append(order, j)
			}
		}
		slices.SortStableFunc(order, func(a, b int) int { return lost[b] - lost[a] })
		want := []string{strconv.Itoa(r), strconv.Itoa(score), strconv.FormatFloat(pd, 'f', 6, 64), grade, "", "", "", ""}
		for k := 0; k < 4 && k < len(order); k++ {
			want[4+k] = m.Variables[order[k]].ReasonCode
		}
		if got := scored[r]; !slices.Equal(got, want) {
			t.Fatalf("row %d: scored %v, want %v", r, got, want)
		}
	}
}

// lookupBin finds the bin of a raw German credit value (no missing values there).
func lookupBin(t *testing.T, v scoring.Variable, raw string) scoring.Bin {
	t.Helper()
	if v.Type == "numeric" {
		x, err := strconv.ParseFloat(raw, 64)
		if err != nil {
			t.Fatalf("%s: %q", v.Name, raw)
		}
		for _, b := range v.Bins {
			if b.Kind == scoring.BinRange && (b.Lower == nil || x >= *b.Lower) && (b.Upper == nil || x < *b.Upper) {
				return b
			}
		}
		t.Fatalf("%s: %v in no range", v.Name, x)
	}
	for _, b := range v.Bins {
		if b.Kind == scoring.BinCategory && slices.Contains(b.Categories, raw) {
			return b
		}
	}
	for _, b := range v.Bins {
		if b.Kind == scoring.BinOther {
			return b
		}
	}
	t.Fatalf("%s: no bin for %q", v.Name, raw)
	return scoring.Bin{}
}

// knotPD interpolates linearly between the knots, flat beyond the ends.
func knotPD(k []scoring.Knot, x float64) float64 {
	if x <= k[0].Score {
		return k[0].PD
	}
	for i := 1; i < len(k); i++ {
		if x < k[i].Score {
			f := (x - k[i-1].Score) / (k[i].Score - k[i-1].Score)
			return k[i-1].PD + f*(k[i].PD-k[i-1].PD)
		}
	}
	return k[len(k)-1].PD
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// TestTrainCLICalibration: --calibration picks the method recorded in the
// artifact; an unknown method is a usage error naming the flag.
func TestTrainCLICalibration(t *testing.T) {
	_, model, _ := trainGerman(t, "--calibration", "logistic")
	m, err := scoring.LoadFile(model)
	if err != nil {
		t.Fatal(err)
	}
	if m.Calibration.Method != scoring.CalibrationLogistic || len(m.Calibration.Knots) != 0 || m.Calibration.B >= 0 {
		t.Errorf("calibration %+v, want logistic with a negative slope", m.Calibration)
	}
	out := filepath.Join(t.TempDir(), "m.json")
	_, err = runLend(t, "train", "--data", testutil.SharedData(t, "german_credit/germancredit.csv"), "--target", "creditability",
		"--bad", "bad", "--calibration", "spline", "--out", out)
	if err == nil || !strings.Contains(err.Error(), "calibration") || exitCode(err) != 2 {
		t.Errorf("err = %v", err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Error("a failed train wrote the artifact")
	}
}

// TestTrainCLIBadInput: each bad file is refused with exit status 2 and a
// one-line message naming the problem, and neither artifact nor report is written.
func TestTrainCLIBadInput(t *testing.T) {
	rows := func(n int, f func(i int) string) string {
		var b strings.Builder
		b.WriteString("x,c,y\n")
		for i := 0; i < n; i++ {
			b.WriteString(f(i) + "\n")
		}
		return b.String()
	}
	for _, c := range []struct {
		name, body, target, want string
	}{
		{"constant target", rows(200, func(i int) string { return fmt.Sprintf("%d,a,0", i%7) }), "y", "constant"},
		{"three target values", rows(200, func(i int) string { return fmt.Sprintf("%d,a,%d", i%7, i%3) }), "y", "more than two values"},
		{"no usable variable", rows(200, func(i int) string { return fmt.Sprintf("1,a,%d", i%2) }), "y", "no usable variable"},
		{"one row", "x,c,y\n1,a,1\n", "y", "1 row"},
		{"missing target column", rows(200, func(i int) string { return fmt.Sprintf("%d,a,%d", i%7, i%2) }), "default", `"default" not found`},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			data := filepath.Join(dir, "d.csv")
			if err := os.WriteFile(data, []byte(c.body), 0o644); err != nil {
				t.Fatal(err)
			}
			model, report := filepath.Join(dir, "m.json"), filepath.Join(dir, "r.html")
			_, err := runLend(t, "train", "--data", data, "--target", c.target, "--out", model, "--report", report)
			if err == nil {
				t.Fatal("no error")
			}
			if msg := oneLine(err); !strings.Contains(msg, c.want) || exitCode(err) != 2 {
				t.Errorf("exit %d, message %q: want 2 and %q", exitCode(err), msg, c.want)
			}
			for _, p := range []string{model, report} {
				if _, err := os.Stat(p); !os.IsNotExist(err) {
					t.Errorf("%s written by a failed train", filepath.Base(p))
				}
			}
			left, _ := os.ReadDir(dir)
			if len(left) != 1 {
				t.Errorf("files left behind: %v", left)
			}
		})
	}
}
