package training

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/lendhq/lend"
	"github.com/lendhq/lend/scoring"
)

// readForModel loads the model's variables (typed as trained) plus extra columns.
func readForModel(ctx context.Context, m *scoring.Model, path string, skipRows int, extra ...string) (*Table, error) {
	kinds := map[string]string{}
	var want []string
	for _, v := range m.Variables {
		kinds[v.Name] = v.Type
		want = append(want, v.Name)
	}
	for _, e := range extra {
		if e != "" {
			want = append(want, e)
		}
	}
	if skipRows < 0 {
		skipRows = m.Data.SkipRows
		if s := OptionValue(m, "skip_rows"); s == "-1" || s == "" {
			skipRows = -1 // detect, as training did
		}
	}
	return Read(ctx, path, ReadOptions{SkipRows: skipRows, Want: want, Kinds: kinds, Only: want})
}

// Evaluate scores a labelled file with the model and measures it: n, bad
// rate, AUC (with bootstrap interval), Gini, KS, Brier, log loss,
// Hosmer–Lemeshow and the PSI of its scores against the training scores.
func Evaluate(ctx context.Context, m *scoring.Model, path, target, bad string, skipRows int, seed uint64) (scoring.Metrics, error) {
	if target == "" {
		target = m.Target
	}
	if bad == "" {
		bad = OptionValue(m, "bad")
	}
	tab, err := readForModel(ctx, m, path, skipRows, target)
	if err != nil {
		return scoring.Metrics{}, err
	}
	if tab.Rows == 0 {
		return scoring.Metrics{}, lend.Errorf(lend.EINVALID, "data: %s has no rows", tab.Source)
	}
	y, err := targetLabels(tab.Col(target), bad)
	if err != nil {
		return scoring.Metrics{}, err
	}
	rows := make([]int, tab.Rows)
	for i := range rows {
		rows[i] = i
	}
	score, pd := scoreAndPD(scoring.NewScorer(m), tab, rows)
	met := computeMetrics(score, pd, y, seed)
	if len(m.Metrics.ScoreShares) > 0 {
		met.PSI = PSI(m.Metrics.ScoreShares, scoreShares(score, m.Metrics.ScoreCuts))
	}
	return met, nil
}

// ScoreFile scores every row of a file and writes CSV: id, score, pd, grade,
// and the top reason codes (reason_1..reason_4, empty when fewer variables
// lost points). idCol names the identifier column; "" uses the id column
// recorded at training when the file has it, else the 1-based row number.
func ScoreFile(ctx context.Context, m *scoring.Model, path, idCol string, skipRows int, w io.Writer) (int, error) {
	probe := idCol
	if probe == "" {
		probe = OptionValue(m, "id")
	}
	tab, err := readForModel(ctx, m, path, skipRows, probe)
	if err != nil && idCol == "" && probe != "" {
		probe = "" // the training id column is absent: fall back to row numbers
		tab, err = readForModel(ctx, m, path, skipRows)
	}
	if err != nil {
		return 0, err
	}
	var ids *Column
	if probe != "" {
		ids = tab.Col(probe)
	}
	sc := scoring.NewScorer(m)
	cols := modelColumns(m, tab)
	num := make([]float64, len(cols))
	str := make([]string, len(cols))
	r := sc.NewResult()
	bw := bufio.NewWriter(w)
	cw := csv.NewWriter(bw)
	head := []string{"id", "score", "pd", "grade"}
	for k := 1; k <= ReasonsPerRow; k++ {
		head = append(head, fmt.Sprintf("reason_%d", k))
	}
	if err := cw.Write(head); err != nil {
		return 0, err
	}
	rec := make([]string, len(head))
	var reasons []scoring.Reason
	for i := 0; i < tab.Rows; i++ {
		rowInputs(m, cols, i, num, str)
		sc.Score(num, str, r)
		reasons = sc.TopReasons(r, ReasonsPerRow, reasons[:0])
		rec[0] = strconv.Itoa(i + 1)
		if ids != nil {
			if ids.Kind == KindNumeric {
				rec[0] = strconv.FormatFloat(ids.Num[i], 'f', -1, 64)
			} else {
				rec[0] = ids.Str[i]
			}
		}
		rec[1] = strconv.Itoa(r.Score)
		rec[2] = strconv.FormatFloat(r.PD, 'f', 6, 64)
		rec[3] = r.Grade
		for k := 0; k < ReasonsPerRow; k++ {
			rec[4+k] = ""
			if k < len(reasons) {
				rec[4+k] = reasons[k].Code
			}
		}
		if err := cw.Write(rec); err != nil {
			return i, err
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return tab.Rows, err
	}
	return tab.Rows, bw.Flush()
}

// PointsTable renders the scorecard as text: variable, attribute, WoE, points.
func PointsTable(m *scoring.Model) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-32s %-40s %8s %8s %6s\n", "variable", "attribute", "count", "woe", "points")
	for _, v := range m.Variables {
		for _, bin := range v.Bins {
			fmt.Fprintf(&b, "%-32s %-40s %8d %8.4f %6d\n", v.Name, bin.Label, bin.Count, bin.WoE, bin.Points)
		}
	}
	return b.String()
}
