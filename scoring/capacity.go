package scoring

import (
	"math"

	"github.com/lendhq/lend"
	"github.com/sajari/regression"
)

// Capacity-model limits.
const (
	// MaxCapacityFitRows caps the rows handed to sajari/regression: its Run
	// builds a debug string by concatenation over every row (quadratic in
	// rows), so larger sets are thinned by a deterministic stride. Ten
	// coefficients are well determined by 4,000 rows.
	MaxCapacityFitRows = 4000
	// MaxCapacityVariables bounds the regression's width.
	MaxCapacityVariables = 64
	// log1pInputMin: a non-negative input whose training maximum reaches this
	// is heavy-tailed (amounts, counts, days) and enters as log1p(x).
	log1pInputMin = 100
	// maxSalesMinor bounds any sales estimate so later products cannot overflow
	// (10^15 minor units is ten trillion dollars a month).
	maxSalesMinor = 1_000_000_000_000_000
	// capacityHorizonMonths is the span of the capacity target (next 90 days).
	capacityHorizonMonths = 3
)

// Capacity sources recorded in a decision.
const (
	CapacityFromModel    = "capacity_model"
	CapacityFromObserved = "observed_sales_90d"
)

// FitCapacity fits the repayment-capacity regression (next-90-day sales from
// features) with github.com/sajari/regression. x holds one row per merchant
// with len(names) columns; rows with NaN are skipped. testX/testY, when given,
// yield R2Test and MAETest (on the original scale of the target).
//
// The target is fitted on log1p(y) when every y is non-negative (sales are
// heavy-tailed and multiplicative); heavy-tailed non-negative inputs enter as
// log1p(x). A variable whose coefficient rewards worse behaviour (per
// DefaultWorseWhen: e.g. more refunds predicting more sales) is dropped and the
// model refitted, so capacity never rises with worse behaviour; constant
// columns are dropped because they make the fit singular.
func FitCapacity(target string, names []string, x [][]float64, y []float64, testX [][]float64, testY []float64) (*CapacityModel, error) {
	if len(names) == 0 {
		return nil, lend.Errorf(lend.EINVALID, "capacity model: no variables")
	}
	if len(names) > MaxCapacityVariables {
		return nil, lend.Errorf(lend.ETOOLARGE, "capacity model: %d variables (at most %d)", len(names), MaxCapacityVariables)
	}
	if len(x) != len(y) {
		return nil, lend.Errorf(lend.EINVALID, "capacity model: %d feature rows but %d targets", len(x), len(y))
	}
	if len(testX) != len(testY) {
		return nil, lend.Errorf(lend.EINVALID, "capacity model: %d test rows but %d test targets", len(testX), len(testY))
	}
	rows := usableRows(names, x, y)
	if len(rows) <= len(names)+1 {
		return nil, lend.Errorf(lend.EUNPROCESSABLE, "capacity model: %d usable rows (no NaN) for %d variables: not enough data", len(rows), len(names))
	}
	cm := &CapacityModel{Target: target, HorizonMonths: capacityHorizonMonths}
	logOK := true
	for _, i := range rows {
		logOK = logOK && y[i] >= 0
		cm.MaxTarget = math.Max(cm.MaxTarget, y[i])
	}
	// candidate columns: non-constant; the log specification takes log1p of
	// heavy-tailed non-negative columns
	logInputs := make([]string, len(names))
	noInputs := make([]string, len(names))
	var cols []int
	for c := range names {
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, i := range rows {
			lo, hi = math.Min(lo, x[i][c]), math.Max(hi, x[i][c])
		}
		if lo == hi {
			continue
		}
		noInputs[c], logInputs[c] = "none", "none"
		if lo >= 0 && hi >= log1pInputMin {
			logInputs[c] = "log1p"
		}
		cols = append(cols, c)
	}
	if len(cols) == 0 {
		return nil, lend.Errorf(lend.EUNPROCESSABLE, "capacity model: every variable is constant")
	}
	specs := []capSpec{{"none", noInputs}}
	if logOK {
		specs = []capSpec{{"log1p", logInputs}, {"none", noInputs}}
	}
	fitRows := thin(rows, MaxCapacityFitRows)
	// choose the specification by mean absolute error (money is what the limit
	// uses) on every 5th training row, fitted on the other four; ties keep log1p
	spec := specs[0]
	if len(specs) > 1 {
		var fitPart, valPart []int
		for k, i := range fitRows {
			if k%5 == 4 {
				valPart = append(valPart, i)
			} else {
				fitPart = append(fitPart, i)
			}
		}
		best := math.Inf(1)
		for _, sp := range specs {
			f, err := fitGuarded(target, names, cols, sp, x, y, fitPart)
			if err != nil {
				continue
			}
			var obs, pred []float64
			vals := make([]float64, len(f.Variables))
			for _, i := range valPart {
				for k, c := range f.cols {
					vals[k] = x[i][c]
				}
				obs, pred = append(obs, y[i]), append(pred, f.predictValues(vals))
			}
			if _, mae := r2MAE(obs, pred); mae < best {
				best, spec = mae, sp
			}
		}
	}
	f, err := fitGuarded(target, names, cols, spec, x, y, fitRows)
	if err != nil {
		return nil, err
	}
	f.CapacityModel.Target, f.CapacityModel.MaxTarget, f.CapacityModel.HorizonMonths = cm.Target, cm.MaxTarget, cm.HorizonMonths
	cm = f.CapacityModel
	cm.TrainRows = len(fitRows)
	if len(testX) > 0 {
		cc, err := compileCapacity(cm)
		if err != nil {
			return nil, err
		}
		col := make([]int, len(cm.Variables))
		for k, name := range cm.Variables {
			col[k] = indexOf(names, name)
		}
		vals := make([]float64, len(cm.Variables))
		var obs, pred []float64
		for i, row := range testX {
			if len(row) != len(names) || !finite(testY[i]) {
				continue
			}
			ok := true
			for k, c := range col {
				vals[k] = row[c]
				ok = ok && finite(vals[k]) && !(cm.InputTransforms[k] == "log1p" && vals[k] < 0)
			}
			if ok {
				obs = append(obs, testY[i])
				pred = append(pred, cc.predictValues(vals))
			}
		}
		cm.TestRows = len(obs)
		cm.R2Test, cm.MAETest = r2MAE(obs, pred)
	}
	return cm, nil
}

// r2MAE returns the coefficient of determination 1 − SS_res/SS_tot and the
// mean absolute error of pred against obs (0, 0 for no rows).
func r2MAE(obs, pred []float64) (r2, mae float64) {
	if len(obs) == 0 {
		return 0, 0
	}
	var mean float64
	for _, v := range obs {
		mean += v
	}
	mean /= float64(len(obs))
	var ssRes, ssTot, sumAbs float64
	for i, v := range obs {
		d := v - pred[i]
		ssRes += d * d
		ssTot += (v - mean) * (v - mean)
		sumAbs += math.Abs(d)
	}
	if ssTot > 0 {
		r2 = 1 - ssRes/ssTot
	}
	return r2, sumAbs / float64(len(obs))
}

// capSpec is one specification of the capacity regression.
type capSpec struct {
	target string   // transform of the target
	inputs []string // transform per input column
}

// fittedCapacity is a fitted model with the input columns it kept.
type fittedCapacity struct {
	*CapacityModel
	compiledCapacity
	cols []int
}

// fitGuarded fits spec on rows, dropping (and refitting without) any variable
// whose coefficient rewards worse behaviour per DefaultWorseWhen.
func fitGuarded(target string, names []string, cols []int, spec capSpec, x [][]float64, y []float64, rows []int) (*fittedCapacity, error) {
	worse := map[string]string{}
	for _, d := range DefaultWorseWhen() {
		worse[d.Feature] = d.Worse
	}
	keep := append([]int(nil), cols...)
	for {
		if len(keep) == 0 {
			return nil, lend.Errorf(lend.EUNPROCESSABLE, "capacity model: no usable variable (all constant or with a sign that rewards worse behaviour)")
		}
		if len(rows) <= len(keep)+1 {
			return nil, lend.Errorf(lend.EUNPROCESSABLE, "capacity model: %d rows for %d variables: not enough data", len(rows), len(keep))
		}
		coef, r2, err := runRegression(target, names, keep, spec.inputs, x, y, rows, spec.target)
		if err != nil {
			return nil, err
		}
		drop := -1
		for k, c := range keep {
			b := coef[k+1]
			if (worse[names[c]] == "higher" && b > 0) || (worse[names[c]] == "lower" && b < 0) {
				drop = k
				break
			}
		}
		if drop >= 0 {
			keep = append(keep[:drop:drop], keep[drop+1:]...)
			continue
		}
		cm := &CapacityModel{Transform: spec.target, Intercept: coef[0], R2Train: r2, MaxTarget: math.Inf(1), HorizonMonths: capacityHorizonMonths}
		for k, c := range keep {
			cm.Variables = append(cm.Variables, names[c])
			cm.InputTransforms = append(cm.InputTransforms, spec.inputs[c])
			cm.Coefficients = append(cm.Coefficients, coef[k+1])
		}
		return &fittedCapacity{CapacityModel: cm, compiledCapacity: compiledCapacity{m: cm}, cols: keep}, nil
	}
}

func indexOf(names []string, name string) int {
	for i, n := range names {
		if n == name {
			return i
		}
	}
	return -1
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// usableRows returns the indexes of rows with the right width and no NaN/Inf.
func usableRows(names []string, x [][]float64, y []float64) []int {
	var rows []int
	for i, row := range x {
		if len(row) != len(names) || !finite(y[i]) {
			continue
		}
		ok := true
		for _, v := range row {
			ok = ok && finite(v)
		}
		if ok {
			rows = append(rows, i)
		}
	}
	return rows
}

// thin keeps at most max of rows, evenly spaced (deterministic).
func thin(rows []int, max int) []int {
	if len(rows) <= max {
		return rows
	}
	out := make([]int, max)
	for k := range out {
		out[k] = rows[k*len(rows)/max]
	}
	return out
}

func transformValue(t string, v float64) float64 {
	if t == "log1p" {
		return math.Log1p(v)
	}
	return v
}

// runRegression fits target on the kept columns with sajari/regression and
// returns the intercept followed by one coefficient per kept column.
func runRegression(target string, names []string, keep []int, transforms []string, x [][]float64, y []float64, rows []int, yTransform string) ([]float64, float64, error) {
	var r regression.Regression
	r.SetObserved(target)
	for k, c := range keep {
		r.SetVar(k, names[c])
	}
	for _, i := range rows {
		v := make([]float64, len(keep))
		for k, c := range keep {
			v[k] = transformValue(transforms[c], x[i][c])
		}
		r.Train(regression.DataPoint(transformValue(yTransform, y[i]), v))
	}
	if err := r.Run(); err != nil {
		return nil, 0, lend.Wrap(lend.EUNPROCESSABLE, err, "capacity model: regression failed: %v", err)
	}
	coef := make([]float64, len(keep)+1)
	for k := range coef {
		coef[k] = r.Coeff(k)
		if !finite(coef[k]) {
			return nil, 0, lend.Errorf(lend.EUNPROCESSABLE, "capacity model: the regression is singular (collinear variables)")
		}
	}
	return coef, r.R2, nil
}

// compiledCapacity is a validated capacity model ready to predict.
type compiledCapacity struct {
	m *CapacityModel
}

// compileCapacity validates a capacity model from an artifact.
func compileCapacity(m *CapacityModel) (*compiledCapacity, error) {
	if len(m.Variables) == 0 || len(m.Variables) != len(m.Coefficients) || len(m.Variables) != len(m.InputTransforms) {
		return nil, lend.Errorf(lend.EINVALID, "capacity model: %d variables, %d coefficients and %d input transforms (need the same, at least 1)",
			len(m.Variables), len(m.Coefficients), len(m.InputTransforms))
	}
	if m.Transform != "none" && m.Transform != "log1p" {
		return nil, lend.Errorf(lend.EINVALID, "capacity model: transform %q (want none or log1p)", m.Transform)
	}
	if m.HorizonMonths <= 0 || m.HorizonMonths > 24 {
		return nil, lend.Errorf(lend.EINVALID, "capacity model: horizon_months %d (want 1..24)", m.HorizonMonths)
	}
	if !finite(m.Intercept) || !finite(m.MaxTarget) || m.MaxTarget <= 0 {
		return nil, lend.Errorf(lend.EINVALID, "capacity model: intercept and max_target must be finite, max_target > 0")
	}
	for k, c := range m.Coefficients {
		if !finite(c) {
			return nil, lend.Errorf(lend.EINVALID, "capacity model: coefficient of %s is not finite", m.Variables[k])
		}
		if t := m.InputTransforms[k]; t != "none" && t != "log1p" {
			return nil, lend.Errorf(lend.EINVALID, "capacity model: input transform %q of %s (want none or log1p)", t, m.Variables[k])
		}
	}
	return &compiledCapacity{m: m}, nil
}

// predictValues returns the predicted target (major units) from the model's
// variables in order, capped to [0, MaxTarget].
func (c *compiledCapacity) predictValues(vals []float64) float64 {
	m := c.m
	z := m.Intercept
	for k, b := range m.Coefficients {
		z += b * transformValue(m.InputTransforms[k], vals[k])
	}
	if m.Transform == "log1p" {
		z = math.Expm1(z)
	}
	if !(z > 0) { // also NaN
		return 0
	}
	return math.Min(z, m.MaxTarget)
}

// predict returns the predicted target from named features; false when an
// input is absent, NaN, or outside its transform's domain.
func (c *compiledCapacity) predict(f *Features) (float64, bool) {
	m := c.m
	z := m.Intercept
	for k, b := range m.Coefficients {
		v, ok := f.Num[m.Variables[k]]
		if !ok || !finite(v) || (m.InputTransforms[k] == "log1p" && v < 0) {
			return 0, false
		}
		z += b * transformValue(m.InputTransforms[k], v)
	}
	if m.Transform == "log1p" {
		z = math.Expm1(z)
	}
	if !(z > 0) {
		return 0, true
	}
	return math.Min(z, m.MaxTarget), true
}

// PredictMonthlySales returns a merchant's expected monthly sales in minor
// units and where the figure came from: the capacity model's next-90-day
// prediction divided by its horizon when the model is present and every input
// is known, else the observed average, sales_amount_90d / 3. Major units are
// converted with minorPerMajor; the result is rounded down (a conservative
// capacity). ok is false when neither source is available.
func PredictMonthlySales(c *CapacityModel, f *Features, minorPerMajor int64) (monthlyMinor int64, source string, ok bool) {
	var cc *compiledCapacity
	if c != nil {
		var err error
		if cc, err = compileCapacity(c); err != nil {
			cc = nil
		}
	}
	return predictMonthlySales(cc, f, minorPerMajor)
}

func predictMonthlySales(cc *compiledCapacity, f *Features, minorPerMajor int64) (int64, string, bool) {
	if cc != nil {
		if p, ok := cc.predict(f); ok {
			total := majorToMinorFloor(p, minorPerMajor)
			return total / int64(cc.m.HorizonMonths), CapacityFromModel, true
		}
	}
	s90, ok := f.Num[FeatureSales90d]
	if !ok || !finite(s90) || s90 < 0 {
		return 0, "", false
	}
	// an observed amount is a sum of cents: round to the nearest minor unit
	// first (undoing float noise), then take the monthly third rounded down.
	total := int64(math.Round(math.Min(s90*float64(minorPerMajor), maxSalesMinor)))
	return total / capacityHorizonMonths, CapacityFromObserved, true
}

// majorToMinorFloor converts a predicted amount to minor units, rounded down
// and bounded by maxSalesMinor.
func majorToMinorFloor(major float64, minorPerMajor int64) int64 {
	v := math.Floor(major * float64(minorPerMajor))
	if !(v > 0) {
		return 0
	}
	if v > maxSalesMinor {
		return maxSalesMinor
	}
	return int64(v)
}
