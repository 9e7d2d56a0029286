package scoring

import (
	"fmt"
	"sort"
	"sync/atomic"
	"testing"

	"pgregory.net/rapid"
)

// genMerchant draws a merchant's features and standing over the ranges the
// feature pipeline produces.
func genMerchant(t *rapid.T) *Merchant {
	num := map[string]float64{
		FeatureRefundRate90d:     rapid.Float64Range(0, 0.15).Draw(t, "refund"),
		FeatureSalesTrend12m:     rapid.Float64Range(-1, 1).Draw(t, "trend"),
		FeatureTenureDays:        float64(90 + rapid.IntRange(0, 2000).Draw(t, "tenure")),
		FeatureSales90d:          2e6 - rapid.Float64Range(0, 1.99e6).Draw(t, "s90"),
		FeatureDaysSinceLastSale: float64(rapid.IntRange(0, 20).Draw(t, "dormant")),
		FeatureChargebacks180d:   float64(rapid.IntRange(0, 3).Draw(t, "chargebacks")),
	}
	cat := rapid.SampledFrom([]string{"food", "retail", "travel", "pets", ""}).Draw(t, "category")
	return &Merchant{ID: "m", Features: &Features{Num: num, Str: map[string]string{"category": cat}},
		ExposureMinor: rapid.Int64Range(0, 3_000_000).Draw(t, "exposure"), Delinquent: rapid.IntRange(0, 9).Draw(t, "delinquent") == 0}
}

// worsen returns a copy of m with worse behaviour in some features, all else equal.
func worsen(t *rapid.T, m *Merchant) *Merchant {
	num := make(map[string]float64, len(m.Features.Num))
	for k, v := range m.Features.Num {
		num[k] = v
	}
	switch rapid.IntRange(0, 4).Draw(t, "which") {
	case 0:
		num[FeatureRefundRate90d] += rapid.Float64Range(0, 0.1).Draw(t, "more refunds")
	case 1:
		num[FeatureSalesTrend12m] -= rapid.Float64Range(0, 1.5).Draw(t, "steeper decline")
	case 2:
		num[FeatureChargebacks180d] += float64(rapid.IntRange(0, 5).Draw(t, "more chargebacks"))
	case 3:
		num[FeatureDaysSinceLastSale] += float64(rapid.IntRange(0, 40).Draw(t, "more dormant"))
	default: // all at once
		num[FeatureRefundRate90d] += rapid.Float64Range(0, 0.3).Draw(t, "more refunds")
		num[FeatureSalesTrend12m] -= rapid.Float64Range(0, 1.5).Draw(t, "steeper decline")
	}
	w := *m
	w.Features = &Features{Num: num, Str: m.Features.Str}
	return &w
}

func limitOf(a *Assessment) int64 {
	if !a.Eligible {
		return 0
	}
	return a.Line.LimitMinor
}

// assertMonotone asserts worse behaviour never raises the limit, the offer or
// the availability, and never lowers the APR.
func assertMonotone(t *rapid.T, e *Engine) {
	base := genMerchant(t)
	worse := worsen(t, base)
	product := rapid.SampledFrom([]string{ProductTermLoan, ProductCreditLine}).Draw(t, "product")
	ab, err := e.Assess(base, product)
	if err != nil {
		t.Fatal(err)
	}
	aw, err := e.Assess(worse, product)
	if err != nil {
		t.Fatal(err)
	}
	if ab.Eligible && aw.Eligible {
		bothEligible.Add(1)
	}
	pairs.Add(1)
	if limitOf(aw) > limitOf(ab) {
		t.Fatalf("worse behaviour raised the limit %d -> %d\nbase %v\nworse %v", limitOf(ab), limitOf(aw), base.Features.Num, worse.Features.Num)
	}
	if aw.Eligible && !ab.Eligible {
		t.Fatalf("worse behaviour made an ineligible merchant eligible")
	}
	if ab.Eligible && aw.Eligible && aw.aprNano < ab.aprNano {
		t.Fatalf("worse behaviour lowered the APR %s -> %s", ab.Pricing.APR, aw.Pricing.APR)
	}
	// the application answer follows the line
	pr := e.champion.pol.products[product]
	app := Application{Merchant: *base, Product: product, TermMonths: pr.MinTermMonths,
		AmountMinor: rapid.Int64Range(1, 3_000_000).Draw(t, "amount")}
	db, err := e.Decide(&app)
	if err != nil {
		t.Fatal(err)
	}
	app.Merchant = *worse
	dw, err := e.Decide(&app)
	if err != nil {
		t.Fatal(err)
	}
	if dw.OfferedMinor > db.OfferedMinor {
		t.Fatalf("worse behaviour raised the offer %d -> %d", db.OfferedMinor, dw.OfferedMinor)
	}
}

// pairs and bothEligible count the compared pairs so the tests can prove the
// property was exercised on priced lines, not only on declines.
var pairs, bothEligible atomic.Int64

func requireExercised(t *testing.T) {
	t.Helper()
	p, b := pairs.Swap(0), bothEligible.Swap(0)
	// One pair in ten: random models differ in harshness (a harsh model
	// declines all its 20 pairs), so the share swings run to run: 60 runs
	// with fresh seeds gave 14%-34% (mean 25%); one in five failed 2 of 60.
	if b*10 < p {
		t.Fatalf("only %d of %d pairs had both merchants eligible: the generator is too harsh to test the property", b, p)
	}
	t.Logf("%d of %d pairs priced on both sides", b, p)
}

// TestMonotoneGolden: on the hand-written model, worse behaviour all else
// equal never raises the limit nor lowers the APR.
func TestMonotoneGolden(t *testing.T) {
	e := goldenEngine(t)
	rapid.Check(t, func(t *rapid.T) { assertMonotone(t, e) })
	requireExercised(t)
}

// TestMonotoneRandomModels: the same property on random models and policies
// that pass validation (monotone points and capacity signs for the
// worse_when features, multiples and caps falling with grade).
func TestMonotoneRandomModels(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		m := genModel(t)
		e, err := NewEngine(m, nil)
		if err != nil {
			t.Fatalf("generated model refused: %v", err)
		}
		for i := 0; i < 20; i++ {
			assertMonotone(t, e)
		}
	})
	requireExercised(t)
}

// genRanges draws cut points in [lo, hi) and points that move in one
// direction (dir -1: never rise with the value, +1: never fall, 0: free).
func genRanges(t *rapid.T, name string, lo, hi float64, dir int) []Bin {
	k := rapid.IntRange(1, 5).Draw(t, name+" cuts")
	set := map[float64]bool{}
	var cuts []float64
	for i := 0; i < k; i++ {
		c := float64(rapid.IntRange(int(lo*100), int(hi*100)).Draw(t, name+" cut")) / 100
		if !set[c] {
			set[c] = true
			cuts = append(cuts, c)
		}
	}
	sort.Float64s(cuts)
	p := 120 - rapid.IntRange(0, 120).Draw(t, name+" p0")
	bins := []Bin{{Kind: BinMissing, Label: "missing", Points: rapid.IntRange(0, 120).Draw(t, name+" missing")}}
	for i := 0; i <= len(cuts); i++ {
		b := Bin{Kind: BinRange, Points: p, Label: fmt.Sprintf("%s %d", name, i)}
		if i > 0 {
			b.Lower = &cuts[i-1]
		}
		if i < len(cuts) {
			b.Upper = &cuts[i]
		}
		bins = append(bins, b)
		d := rapid.IntRange(0, 30).Draw(t, name+" step")
		switch dir {
		case -1:
			p -= d
		case 1:
			p += d
		default:
			p = rapid.IntRange(0, 120).Draw(t, name+" p")
		}
	}
	return bins
}

func genModel(t *rapid.T) *Model {
	m := &Model{FormatVersion: FormatVersion, Target: "bad",
		Calibration: Calibration{Method: "logistic", A: 8 - rapid.Float64Range(0, 6).Draw(t, "a"), B: -0.1 + rapid.Float64Range(0, 0.095).Draw(t, "b")},
		Grades:      DefaultGrades(), Policy: DefaultPolicy()}
	if rapid.Bool().Draw(t, "isotonic") {
		m.Calibration = genIsotonic(t)
	}
	m.Variables = []Variable{
		{Name: FeatureRefundRate90d, Type: "numeric", ReasonCode: "R1", Bins: genRanges(t, "refund", 0, 0.4, -1)},
		{Name: FeatureSalesTrend12m, Type: "numeric", ReasonCode: "R2", Bins: genRanges(t, "trend", -1, 1, 1)},
		{Name: FeatureTenureDays, Type: "numeric", ReasonCode: "R3", Bins: genRanges(t, "tenure", 0, 1500, 0)},
		{Name: FeatureChargebacks180d, Type: "numeric", ReasonCode: "R4", Bins: genRanges(t, "cb", 0, 6, -1)},
	}
	p := &m.Policy
	p.MaxRefundRate = fmt.Sprintf("0.%02d", 40-rapid.IntRange(0, 39).Draw(t, "max refund"))
	p.MaxPD = fmt.Sprintf("0.%03d", 999-rapid.IntRange(0, 994).Draw(t, "max pd"))
	p.LGD = fmt.Sprintf("0.%02d", rapid.IntRange(10, 99).Draw(t, "lgd"))
	p.ELBudgetMinor = 500_000 - rapid.Int64Range(0, 500_000).Draw(t, "budget")
	p.MaxAPR = fmt.Sprintf("0.%02d", rapid.IntRange(5, 99).Draw(t, "max apr"))
	p.MinLimitMinor = rapid.Int64Range(0, 200_000).Draw(t, "min limit")
	mult := 300 - rapid.IntRange(0, 300).Draw(t, "multiple")
	capSteps := 500 - rapid.Int64Range(0, 500).Draw(t, "cap")
	for i := range p.ByGrade {
		p.ByGrade[i].SalesMultiple = fmt.Sprintf("%d.%02d", mult/100, mult%100)
		p.ByGrade[i].CapMinor = capSteps * p.LimitStepMinor
		mult = max(0, mult-rapid.IntRange(0, 60).Draw(t, "multiple drop"))
		capSteps = max(0, capSteps-rapid.Int64Range(0, 200).Draw(t, "cap drop"))
	}
	if rapid.Bool().Draw(t, "capacity") {
		m.Capacity = &CapacityModel{Target: "future_gmv_90d", Transform: "log1p", HorizonMonths: 3,
			Variables:       []string{FeatureSales90d, FeatureSalesTrend12m, FeatureRefundRate90d},
			InputTransforms: []string{"log1p", "none", "none"},
			Intercept:       rapid.Float64Range(-1, 1).Draw(t, "intercept"),
			Coefficients: []float64{rapid.Float64Range(0, 1.5).Draw(t, "c s90"), rapid.Float64Range(0, 1).Draw(t, "c trend"),
				-rapid.Float64Range(0, 2).Draw(t, "c refund")},
			MaxTarget: 1e7}
	}
	return m
}

// genIsotonic draws a valid isotonic calibration: 1–8 knots with scores
// strictly rising over the generated models' score range and PDs that never
// rise (equal neighbours allowed), inside [MinCalibratedPD, MaxCalibratedPD].
func genIsotonic(t *rapid.T) Calibration {
	c := Calibration{Method: CalibrationIsotonic}
	score := float64(rapid.IntRange(-50, 300).Draw(t, "knot score0"))
	pd := MaxCalibratedPD - rapid.Float64Range(0, 0.5).Draw(t, "knot pd0")
	for k := rapid.IntRange(1, 8).Draw(t, "knots"); k > 0; k-- {
		c.Knots = append(c.Knots, Knot{Score: score, PD: pd})
		score += 0.5 + rapid.Float64Range(0, 100).Draw(t, "knot gap")
		pd = max(MinCalibratedPD, pd-rapid.Float64Range(0, 0.3).Draw(t, "knot drop"))
	}
	return c
}
