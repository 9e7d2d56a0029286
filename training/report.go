package training

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html"
	"html/template"
	"image/color"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/lendhq/lend"
	"github.com/lendhq/lend/scoring"
)

// Report renders a self-contained HTML page a risk officer reads: summary,
// metrics, variable table with bins, WoE and points, ROC, KS, score
// distributions of goods and bads, calibration, and a WoE bar chart per
// variable. Plots are drawn with gonum/plot and embedded as base64 SVG.
func Report(res *Result) ([]byte, error) {
	m := res.Model
	type varView struct {
		V   scoring.Variable
		Img string
	}
	type tuneView struct {
		P      TunePoint
		Chosen bool
	}
	data := struct {
		M                  *scoring.Model
		Warnings           []string
		ROC, KS, Dist, Cal string
		Vars               []varView
		TrainN, TestN      int
		Points             string
		Tuning             []tuneView
		TuneFolds          int
		TuneChosen         bool
		TuneByTime         bool // forward-chaining folds of an out-of-time split
	}{M: m, Warnings: res.Warnings, Points: PointsTable(m), TuneFolds: TuneFolds,
		TuneByTime: OptionValue(m, "tune_folds") == "time"}
	chosen := TunePoint{MaxBins: optionInt(m, "max_bins"), MinBinShare: optionFloat(m, "min_bin_share"),
		MinIV: optionFloat(m, "min_iv"), L2: optionFloat(m, "l2")}
	for _, p := range res.Tuning {
		q := p
		q.CVAUC = 0
		// A point that could not be validated (NaN) is never "chosen": when
		// none could, tune kept the defaults.
		won := q == chosen && !math.IsNaN(p.CVAUC)
		data.TuneChosen = data.TuneChosen || won
		data.Tuning = append(data.Tuning, tuneView{p, won})
	}
	var err error
	score, y := res.TestScore, res.TestY
	label := "test"
	if len(score) == 0 {
		score, y, label = res.TrainScore, res.TrainY, "train"
	}
	if data.ROC, err = rocPlot(res.TrainScore, res.TrainY, res.TestScore, res.TestY); err != nil {
		return nil, err
	}
	if data.KS, err = ksPlot(score, y, label); err != nil {
		return nil, err
	}
	if data.Dist, err = distPlot(score, y, label); err != nil {
		return nil, err
	}
	if data.Cal, err = calPlot(m.Metrics.TestBands); err != nil {
		return nil, err
	}
	for _, v := range m.Variables {
		img, err := woePlot(v)
		if err != nil {
			return nil, err
		}
		data.Vars = append(data.Vars, varView{v, img})
	}
	var b bytes.Buffer
	if err := reportTmpl.Execute(&b, data); err != nil {
		return nil, lend.Wrap(lend.EINTERNAL, err, "report: %v", err)
	}
	return b.Bytes(), nil
}

func svgURL(p *plot.Plot, w, h vg.Length) (string, error) {
	wt, err := p.WriterTo(w, h, "svg")
	if err != nil {
		return "", lend.Wrap(lend.EINTERNAL, err, "plot: %v", err)
	}
	var b bytes.Buffer
	if _, err := wt.WriteTo(&b); err != nil {
		return "", lend.Wrap(lend.EINTERNAL, err, "plot: %v", err)
	}
	return "data:image/svg+xml;base64," + base64.StdEncoding.EncodeToString(b.Bytes()), nil
}

// rocPoints returns the ROC curve (false positive rate = share of goods
// rejected, true positive rate = share of bads rejected) as the cut-off rises
// through the distinct scores.
func rocPoints(score []int, y []int8) plotter.XYs {
	h := histOf(score, y, nil)
	G, B := sum(h.goods), sum(h.bads)
	pts := plotter.XYs{{X: 0, Y: 0}}
	cg, cb := 0.0, 0.0
	for k := range h.scores {
		cg += h.goods[k]
		cb += h.bads[k]
		pts = append(pts, plotter.XY{X: cg / G, Y: cb / B})
	}
	return pts
}

func line(p *plot.Plot, name string, pts plotter.XYs, c color.Color) error {
	l, err := plotter.NewLine(pts)
	if err != nil {
		return lend.Wrap(lend.EINTERNAL, err, "plot: %v", err)
	}
	l.Color = c
	l.Width = vg.Points(1.5)
	p.Add(l)
	if name != "" {
		p.Legend.Add(name, l)
	}
	return nil
}

var (
	blue  = color.RGBA{R: 31, G: 119, B: 180, A: 255}
	red   = color.RGBA{R: 214, G: 39, B: 40, A: 255}
	green = color.RGBA{R: 44, G: 160, B: 44, A: 255}
	grey  = color.RGBA{R: 150, G: 150, B: 150, A: 255}
)

func rocPlot(trS []int, trY []int8, teS []int, teY []int8) (string, error) {
	p := plot.New()
	p.Title.Text = "ROC"
	p.X.Label.Text = "goods rejected (FPR)"
	p.Y.Label.Text = "bads rejected (TPR)"
	if err := line(p, "train", rocPoints(trS, trY), blue); err != nil {
		return "", err
	}
	if len(teS) > 0 {
		if err := line(p, "test", rocPoints(teS, teY), red); err != nil {
			return "", err
		}
	}
	if err := line(p, "", plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 1}}, grey); err != nil {
		return "", err
	}
	p.Legend.Top, p.Legend.Left = false, false
	return svgURL(p, 4*vg.Inch, 4*vg.Inch)
}

func ksPlot(score []int, y []int8, label string) (string, error) {
	h := histOf(score, y, nil)
	G, B := sum(h.goods), sum(h.bads)
	var pg, pb plotter.XYs
	cg, cb := 0.0, 0.0
	for k, s := range h.scores {
		cg += h.goods[k]
		cb += h.bads[k]
		pg = append(pg, plotter.XY{X: float64(s), Y: cg / G})
		pb = append(pb, plotter.XY{X: float64(s), Y: cb / B})
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("KS (%s) = %.3f", label, h.ks())
	p.X.Label.Text = "score"
	p.Y.Label.Text = "cumulative share"
	if err := line(p, "bads", pb, red); err != nil {
		return "", err
	}
	if err := line(p, "goods", pg, blue); err != nil {
		return "", err
	}
	p.Legend.Top = true
	return svgURL(p, 5*vg.Inch, 4*vg.Inch)
}

func distPlot(score []int, y []int8, label string) (string, error) {
	var g, b plotter.Values
	for i, s := range score {
		if y[i] == 1 {
			b = append(b, float64(s))
		} else {
			g = append(g, float64(s))
		}
	}
	p := plot.New()
	p.Title.Text = "Score distribution (" + label + ")"
	p.X.Label.Text = "score"
	p.Y.Label.Text = "share of class"
	for _, c := range []struct {
		name string
		v    plotter.Values
		col  color.Color
	}{{"goods", g, blue}, {"bads", b, red}} {
		if len(c.v) == 0 {
			continue
		}
		hh, err := plotter.NewHist(c.v, 30)
		if err != nil {
			return "", lend.Wrap(lend.EINTERNAL, err, "plot: %v", err)
		}
		hh.Normalize(1)
		hh.FillColor = nil
		hh.LineStyle.Color = c.col
		hh.LineStyle.Width = vg.Points(1.5)
		p.Add(hh)
		p.Legend.Add(c.name, hh)
	}
	p.Legend.Top = true
	return svgURL(p, 5*vg.Inch, 4*vg.Inch)
}

func calPlot(bands []scoring.Band) (string, error) {
	p := plot.New()
	p.Title.Text = "Calibration by test score decile"
	p.X.Label.Text = "mean calibrated PD"
	p.Y.Label.Text = "observed bad rate"
	var pts plotter.XYs
	hi := 0.0
	for _, b := range bands {
		pts = append(pts, plotter.XY{X: b.MeanPD, Y: b.ObservedBR})
		hi = max(hi, b.MeanPD, b.ObservedBR)
	}
	if len(pts) > 0 {
		sc, err := plotter.NewScatter(pts)
		if err != nil {
			return "", lend.Wrap(lend.EINTERNAL, err, "plot: %v", err)
		}
		sc.Color = red
		p.Add(sc)
	}
	if err := line(p, "", plotter.XYs{{X: 0, Y: 0}, {X: hi, Y: hi}}, grey); err != nil {
		return "", err
	}
	return svgURL(p, 4*vg.Inch, 4*vg.Inch)
}

func woePlot(v scoring.Variable) (string, error) {
	var vals plotter.Values
	var names []string
	for _, b := range v.Bins {
		if b.Count == 0 && b.Kind != scoring.BinRange && b.Kind != scoring.BinCategory {
			continue
		}
		vals = append(vals, b.WoE)
		l := b.Label
		if len(l) > 18 {
			l = l[:17] + "…"
		}
		names = append(names, l)
	}
	p := plot.New()
	p.Title.Text = "WoE: " + v.Name
	p.Y.Label.Text = "WoE"
	if len(vals) > 0 {
		bc, err := plotter.NewBarChart(vals, vg.Points(18))
		if err != nil {
			return "", lend.Wrap(lend.EINTERNAL, err, "plot: %v", err)
		}
		bc.Color = green
		p.Add(bc)
		p.NominalX(names...)
	}
	return svgURL(p, vg.Length(max(4, 0.9*float64(len(vals))))*vg.Inch, 3*vg.Inch)
}

// optionInt and optionFloat read a recorded numeric training option (0 when
// absent or not a number).
func optionInt(m *scoring.Model, name string) int {
	v, _ := strconv.Atoi(OptionValue(m, name))
	return v
}

func optionFloat(m *scoring.Model, name string) float64 {
	v, _ := strconv.ParseFloat(OptionValue(m, name), 64)
	return v
}

var reportTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"f4":  func(x float64) string { return fmt.Sprintf("%.4f", x) },
	"f3":  func(x float64) string { return fmt.Sprintf("%.3f", x) },
	"pct": func(x float64) string { return fmt.Sprintf("%.2f%%", 100*x) },
	// img embeds a base64 data URL built here (never user text) unescaped, so
	// the page stays a plain self-contained file.
	"img": func(alt, src string) template.HTML {
		return template.HTML(`<img alt="` + html.EscapeString(alt) + `" src="` + src + `">`)
	},
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Scorecard {{.M.ID}}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f3f3f3}td.l,th.l{text-align:left}h2{border-bottom:1px solid #ddd}
.plots img{margin:0 1em 1em 0;vertical-align:top}pre{background:#f7f7f7;padding:1em;overflow:auto}
.warn{color:#a40}
</style></head><body>
<h1>Scorecard report</h1>
<h2 id="summary">Summary</h2>
<table>
<tr><th class="l">model id</th><td class="l">{{.M.ID}}</td></tr>
<tr><th class="l">created</th><td class="l">{{.M.CreatedAt}}</td></tr>
<tr><th class="l">data</th><td class="l">{{.M.Data.Source}} ({{.M.Data.Rows}} rows, {{.M.Data.Columns}} columns, content sha256 {{.M.Data.SHA256}})</td></tr>
<tr><th class="l">target</th><td class="l">{{.M.Target}}, bad rate {{pct .M.Data.BadRate}}</td></tr>
<tr><th class="l">split</th><td class="l">{{.M.Data.TrainRows}} train / {{.M.Data.TestRows}} test</td></tr>
<tr><th class="l">scaling</th><td class="l">{{.M.Scaling.BaseScore}} points at {{.M.Scaling.BaseOdds}}:1 good:bad, {{.M.Scaling.PDO}} points to double the odds</td></tr>
<tr><th class="l">calibration</th><td class="l">{{if eq .M.Calibration.Method "isotonic"}}isotonic: PD interpolated linearly between {{len .M.Calibration.Knots}} (score, PD) knots, flat beyond the ends{{else}}PD = 1/(1+exp(−({{f4 .M.Calibration.A}} + {{.M.Calibration.B}}·score))){{end}}, fitted on {{.M.Calibration.FittedOn}} ({{.M.Calibration.N}} rows)</td></tr>
<tr><th class="l">variables</th><td class="l">{{len .M.Variables}} selected of {{len .M.Candidates}} candidates</td></tr>
</table>
{{range .Warnings}}<p class="warn">Warning: {{.}}</p>{{end}}
<h2 id="metrics">Metrics</h2>
<table><tr><th class="l">part</th><th>n</th><th>bad rate</th><th>AUC</th><th>AUC 95% CI</th><th>Gini</th><th>KS</th><th>Brier</th><th>log loss</th><th>HL (p)</th><th>PSI</th></tr>
{{with .M.Metrics.Train}}<tr><td class="l">train</td><td>{{.N}}</td><td>{{pct .BadRate}}</td><td>{{f4 .AUC}}</td><td>{{f4 .AUCLow}}–{{f4 .AUCHigh}}</td><td>{{f4 .Gini}}</td><td>{{f4 .KS}}</td><td>{{f4 .Brier}}</td><td>{{f4 .LogLoss}}</td><td>{{f3 .HLStat}} ({{f3 .HLP}})</td><td>–</td></tr>{{end}}
{{with .M.Metrics.Test}}<tr><td class="l">test</td><td>{{.N}}</td><td>{{pct .BadRate}}</td><td>{{f4 .AUC}}</td><td>{{f4 .AUCLow}}–{{f4 .AUCHigh}}</td><td>{{f4 .Gini}}</td><td>{{f4 .KS}}</td><td>{{f4 .Brier}}</td><td>{{f4 .LogLoss}}</td><td>{{f3 .HLStat}} ({{f3 .HLP}})</td><td>{{f4 .PSI}}</td></tr>{{end}}
</table>
<div class="plots">{{img "ROC curve" .ROC}}{{img "KS curve" .KS}}{{img "score distribution" .Dist}}{{img "calibration plot" .Cal}}</div>
<h3>Calibration by test score decile</h3>
<table><tr><th>scores</th><th>n</th><th>mean PD</th><th>observed bad rate</th></tr>
{{range .M.Metrics.TestBands}}<tr><td>{{.MinScore}}–{{.MaxScore}}</td><td>{{.N}}</td><td>{{pct .MeanPD}}</td><td>{{pct .ObservedBR}}</td></tr>{{end}}
</table>
<h2 id="variables">Variables</h2>
<table><tr><th class="l">variable</th><th class="l">type</th><th>IV</th><th>coefficient</th><th>std err</th><th>p-value</th><th>VIF</th><th class="l">trend</th><th class="l">reason</th></tr>
{{range .Vars}}<tr><td class="l">{{.V.Name}}</td><td class="l">{{.V.Type}}</td><td>{{f4 .V.IV}}</td><td>{{f4 .V.Coefficient}}</td><td>{{f4 .V.StdErr}}</td><td>{{.V.PValue}}</td><td>{{f3 .V.VIF}}</td><td class="l">{{.V.Trend}}</td><td class="l">{{.V.ReasonCode}}: {{.V.ReasonText}}</td></tr>{{end}}
</table>
{{range .Vars}}<h3>{{.V.Name}}</h3>
<table><tr><th class="l">bin</th><th>count</th><th>bads</th><th>bad rate</th><th>WoE</th><th>points</th></tr>
{{range .V.Bins}}<tr><td class="l">{{.Label}}</td><td>{{.Count}}</td><td>{{.Bads}}</td><td>{{pct .BadRate}}</td><td>{{f4 .WoE}}</td><td>{{.Points}}</td></tr>{{end}}
</table>
{{img (printf "WoE bars of %s" .V.Name) .Img}}
{{end}}
{{if .Tuning}}<h2 id="tuning">Hyperparameters chosen by cross-validation (--tune auto)</h2>
{{if .TuneByTime}}<p>{{.TuneFolds}}-fold forward-chaining cross-validation inside the training part only (the test part is never
read): the training rows in order of the split column, cut into {{.TuneFolds}}+1 consecutive blocks; each grid point is
trained on the blocks before one block and scored on that block, for each of the last {{.TuneFolds}}, so no point is
validated on rows earlier than those it was fitted on; {{else}}<p>{{.TuneFolds}}-fold stratified cross-validation inside the training part only (the test part is never read); each
grid point is trained on all folds but one and scored on that one, in turn; {{end}}{{if .TuneChosen}}the point with the
highest mean validation AUC (the first on a tie) was refitted on the whole training part.{{else}}no point could be
validated, so the options were used as given.{{end}}</p>
<table><tr><th>max bins</th><th>min bin share</th><th>min IV</th><th>L2</th><th>CV AUC</th><th class="l"></th></tr>
{{range .Tuning}}<tr><td>{{.P.MaxBins}}</td><td>{{pct .P.MinBinShare}}</td><td>{{.P.MinIV}}</td><td>{{.P.L2}}</td><td>{{f4 .P.CVAUC}}</td><td class="l">{{if .Chosen}}chosen{{end}}</td></tr>{{end}}
</table>
{{end}}<h2 id="candidates">All candidate columns</h2>
<table><tr><th class="l">column</th><th class="l">type</th><th>IV</th><th class="l">status</th></tr>
{{range .M.Candidates}}<tr><td class="l">{{.Name}}</td><td class="l">{{.Type}}</td><td>{{f4 .IV}}</td><td class="l">{{.Status}}</td></tr>{{end}}
</table>
<h2 id="points">Points table</h2>
<pre>{{.Points}}</pre>
</body></html>
`))
