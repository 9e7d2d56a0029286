package scoring

import (
	"math"
	"strconv"

	"github.com/lendhq/lend"
)

// Policy limits.
const (
	// MaxMoneyMinor bounds every amount the policy handles (caps, budgets,
	// applications): 10^13 minor units (a hundred billion dollars) keeps every
	// product below well inside int64.
	MaxMoneyMinor = 10_000_000_000_000
	// MaxTermMonths bounds any product term.
	MaxTermMonths = 360
	// maxAPRRate bounds the legal maximum APR a policy may state (1000%).
	maxAPRRate = 10 * rateScale
)

// Stable policy reason codes (docs/POLICY.md).
const (
	ReasonDelinquent         = "delinquent"
	ReasonTenureTooShort     = "tenure_too_short"
	ReasonDormant            = "dormant"
	ReasonSalesTooSmall      = "sales_too_small"
	ReasonRefundRateHigh     = "refund_rate_too_high"
	ReasonChargebacks        = "too_many_chargebacks"
	ReasonPDAboveCutoff      = "pd_above_cutoff"
	ReasonPolicyDataMissing  = "policy_data_missing"
	ReasonLimitBelowMinimum  = "limit_below_minimum"
	ReasonNoAvailableCredit  = "no_available_credit"
	ReasonAmountBelowMinimum = "amount_below_product_minimum"
	ReasonApproved           = "approved_within_line"
	ReasonCounterOffer       = "amount_above_available"
)

// Binding constraints of a limit: which rule set it.
const (
	BoundSalesMultiple = "sales_multiple"
	BoundGradeCap      = "grade_cap"
	BoundProductCap    = "product_cap"
	BoundELBudget      = "expected_loss_budget"
)

// compiledPolicy is a Policy with every rate parsed once.
type compiledPolicy struct {
	p                                              *Policy
	maxRefund, maxPD, lgd, funding, margin, maxAPR int64 // nano-units
	grades                                         map[string]gradeParams
	products                                       map[string]*ProductPolicy
	capacity                                       *compiledCapacity
}

type gradeParams struct {
	multiple int64 // nano-units
	capMinor int64
}

// compilePolicy validates m.Policy against m (grades, variables, capacity).
func compilePolicy(m *Model) (*compiledPolicy, error) {
	p := &m.Policy
	cp := &compiledPolicy{p: p, grades: map[string]gradeParams{}, products: map[string]*ProductPolicy{}}
	fail := func(field, format string, args ...any) error {
		return lend.FieldErrorf("policy."+field, format, args...)
	}
	if len(p.Currency) != 3 || p.Currency[0] < 'A' || p.Currency[0] > 'Z' || p.Currency[1] < 'A' || p.Currency[1] > 'Z' || p.Currency[2] < 'A' || p.Currency[2] > 'Z' {
		return nil, fail("currency", "%q is not an ISO 4217 code", p.Currency)
	}
	switch p.MinorPerMajor {
	case 1, 10, 100, 1000:
	default:
		return nil, fail("minor_per_major", "%d (want 1, 10, 100 or 1000)", p.MinorPerMajor)
	}
	if p.MinTenureDays < 0 || p.MaxDormantDays < 0 || p.MaxChargebacks180 < 0 {
		return nil, fail("min_tenure_days", "day and count thresholds must be >= 0")
	}
	for _, c := range []struct {
		name string
		v    int64
	}{{"min_monthly_sales_minor", p.MinMonthlySalesMinor}, {"min_limit_minor", p.MinLimitMinor}, {"expected_loss_budget_minor", p.ELBudgetMinor}} {
		if c.v < 0 || c.v > MaxMoneyMinor {
			return nil, fail(c.name, "%d out of range 0..%d", c.v, int64(MaxMoneyMinor))
		}
	}
	if p.LimitStepMinor <= 0 || p.LimitStepMinor > MaxMoneyMinor {
		return nil, fail("limit_step_minor", "%d must be > 0", p.LimitStepMinor)
	}
	var err error
	rates := []struct {
		name   string
		s      string
		dst    *int64
		lo, hi int64
	}{
		{"max_refund_rate", p.MaxRefundRate, &cp.maxRefund, 0, maxRateInt * rateScale},
		{"max_pd", p.MaxPD, &cp.maxPD, 1, rateScale},
		{"lgd", p.LGD, &cp.lgd, 1, rateScale},
		{"funding_cost_annual", p.FundingCostAnnual, &cp.funding, 0, maxAPRRate},
		{"operating_margin_annual", p.OperatingMarginAnnual, &cp.margin, 0, maxAPRRate},
		{"max_apr", p.MaxAPR, &cp.maxAPR, 1, maxAPRRate},
	}
	for _, r := range rates {
		if *r.dst, err = parseRate("policy."+r.name, r.s); err != nil {
			return nil, err
		}
		if *r.dst < r.lo || *r.dst > r.hi {
			return nil, fail(r.name, "%s out of range %s..%s", r.s, formatRate(r.lo), formatRate(r.hi))
		}
	}
	// grades: one entry per model grade; multiples and caps never rise with risk
	byName := map[string]*GradePolicy{}
	for i := range p.ByGrade {
		g := &p.ByGrade[i]
		if byName[g.Grade] != nil {
			return nil, fail("by_grade", "grade %q listed twice", g.Grade)
		}
		byName[g.Grade] = g
	}
	if len(p.ByGrade) != len(m.Grades) {
		return nil, fail("by_grade", "%d entries for %d model grades", len(p.ByGrade), len(m.Grades))
	}
	prev := gradeParams{multiple: math.MaxInt64, capMinor: math.MaxInt64}
	for _, mg := range m.Grades {
		g := byName[mg.Name]
		if g == nil {
			return nil, fail("by_grade", "no entry for model grade %q", mg.Name)
		}
		mult, err := parseRate("policy.by_grade."+g.Grade+".sales_multiple", g.SalesMultiple)
		if err != nil {
			return nil, err
		}
		if g.CapMinor < 0 || g.CapMinor > MaxMoneyMinor || g.CapMinor%p.LimitStepMinor != 0 {
			return nil, fail("by_grade."+g.Grade+".cap_minor", "%d must be in 0..%d and a multiple of limit_step_minor", g.CapMinor, int64(MaxMoneyMinor))
		}
		gp := gradeParams{multiple: mult, capMinor: g.CapMinor}
		if gp.multiple > prev.multiple || gp.capMinor > prev.capMinor {
			return nil, fail("by_grade."+g.Grade, "multiple and cap must not rise from a safer grade to a riskier one")
		}
		prev = gp
		cp.grades[g.Grade] = gp
	}
	if len(p.Products) == 0 || len(p.Products) > MaxProducts {
		return nil, fail("products", "need 1..%d products", MaxProducts)
	}
	for i := range p.Products {
		pr := &p.Products[i]
		f := "products." + pr.Name
		if pr.Name == "" || cp.products[pr.Name] != nil {
			return nil, fail("products", "product %d: name %q empty or repeated", i, pr.Name)
		}
		if pr.CapMinor <= 0 || pr.CapMinor > MaxMoneyMinor || pr.CapMinor%p.LimitStepMinor != 0 {
			return nil, fail(f+".cap_minor", "%d must be in 1..%d and a multiple of limit_step_minor", pr.CapMinor, int64(MaxMoneyMinor))
		}
		if pr.MinAmountMinor < 0 || pr.MinAmountMinor > pr.CapMinor {
			return nil, fail(f+".min_amount_minor", "%d must be in 0..cap", pr.MinAmountMinor)
		}
		if pr.MinTermMonths < 1 || pr.MaxTermMonths < pr.MinTermMonths || pr.MaxTermMonths > MaxTermMonths {
			return nil, fail(f+".min_term_months", "terms %d..%d must satisfy 1 <= min <= max <= %d", pr.MinTermMonths, pr.MaxTermMonths, MaxTermMonths)
		}
		cp.products[pr.Name] = pr
	}
	if m.Capacity != nil {
		if cp.capacity, err = compileCapacity(m.Capacity); err != nil {
			return nil, err
		}
	}
	if err := checkMonotone(m); err != nil {
		return nil, err
	}
	return cp, nil
}

// checkMonotone refuses a model that rewards worse behaviour in a feature the
// policy names in worse_when: scorecard points that rise as the feature gets
// worse (range bins in value order), or a capacity coefficient that predicts
// more sales from worse behaviour. This is what makes the limit and the APR
// monotone in behaviour (docs/POLICY.md).
func checkMonotone(m *Model) error {
	if len(m.Policy.WorseWhen) > MaxWorseWhenRules {
		return lend.FieldErrorf("policy.worse_when", "%d rules (at most %d)", len(m.Policy.WorseWhen), MaxWorseWhenRules)
	}
	seen := map[string]bool{}
	for _, d := range m.Policy.WorseWhen {
		if d.Feature == "" || seen[d.Feature] || (d.Worse != "higher" && d.Worse != "lower") {
			return lend.FieldErrorf("policy.worse_when", "rule %q/%q: feature empty or repeated, or worse not higher/lower", d.Feature, d.Worse)
		}
		seen[d.Feature] = true
		for _, v := range m.Variables {
			if v.Name != d.Feature || v.Type != "numeric" {
				continue
			}
			type rp struct {
				lo     float64
				points int
				label  string
			}
			var rs []rp
			for _, b := range v.Bins {
				if b.Kind == BinRange {
					lo := math.Inf(-1)
					if b.Lower != nil {
						lo = *b.Lower
					}
					rs = append(rs, rp{lo, b.Points, b.Label})
				}
			}
			sortBy(rs, func(a, b rp) bool { return a.lo < b.lo })
			for k := 1; k < len(rs); k++ {
				up := rs[k].points > rs[k-1].points
				down := rs[k].points < rs[k-1].points
				if (d.Worse == "higher" && up) || (d.Worse == "lower" && down) {
					return lend.Errorf(lend.EINVALID,
						"model rewards worse behaviour: %s is worse when %s, but its points go from %d (bin %s) to %d (bin %s); retrain with a monotonic trend for it or drop it",
						v.Name, d.Worse, rs[k-1].points, rs[k-1].label, rs[k].points, rs[k].label)
				}
			}
		}
		if c := m.Capacity; c != nil {
			for k, name := range c.Variables {
				if name != d.Feature || k >= len(c.Coefficients) {
					continue
				}
				b := c.Coefficients[k]
				if (d.Worse == "higher" && b > 0) || (d.Worse == "lower" && b < 0) {
					return lend.Errorf(lend.EINVALID,
						"capacity model rewards worse behaviour: %s is worse when %s, but its coefficient is %s", name, d.Worse, strconv.FormatFloat(b, 'g', -1, 64))
				}
			}
		}
	}
	return nil
}

// sortBy is an insertion sort (bins are few) that keeps equal elements in order.
func sortBy[T any](s []T, less func(a, b T) bool) {
	for i := 1; i < len(s); i++ {
		for k := i; k > 0 && less(s[k], s[k-1]); k-- {
			s[k], s[k-1] = s[k-1], s[k]
		}
	}
}

// policyPD rounds a calibrated PD half-even to 6 decimal places: the one
// point where a float enters policy arithmetic, so every later step is exact.
func policyPD(pd float64) int64 {
	if !(pd > 0) {
		return 0
	}
	if pd >= 1 {
		return pdScale
	}
	return int64(math.RoundToEven(pd * pdScale))
}

// LineAssessment shows how a limit was worked out, step by step, in minor units.
type LineAssessment struct {
	MonthlySalesMinor int64  `json:"monthly_sales_minor"`
	CapacitySource    string `json:"capacity_source"` // capacity_model or observed_sales_90d
	SalesMultiple     string `json:"sales_multiple"`
	GrossMinor        int64  `json:"gross_minor"`             // multiple × monthly sales, rounded down to the minor unit
	SteppedMinor      int64  `json:"stepped_minor"`           // gross rounded down to the step
	GradeCapMinor     int64  `json:"grade_cap_minor"`         //
	ProductCapMinor   int64  `json:"product_cap_minor"`       //
	ELCapMinor        int64  `json:"expected_loss_cap_minor"` // largest stepped limit with PD × LGD × limit <= budget; -1 when PD is 0
	LimitMinor        int64  `json:"limit_minor"`             // the line: min of the above
	BoundBy           string `json:"bound_by"`                // the rule that set the limit
	ExpectedLossMinor int64  `json:"expected_loss_minor"`     // PD × LGD × limit, rounded up
	ExposureMinor     int64  `json:"exposure_minor"`          // already drawn or outstanding
	AvailableMinor    int64  `json:"available_minor"`         // limit − exposure, at least 0
}

// Pricing explains the APR: each component is an exact decimal string.
type Pricing struct {
	FundingCostAnnual     string `json:"funding_cost_annual"`
	ExpectedLossAnnual    string `json:"expected_loss_annual"` // PD (12-month) × LGD
	OperatingMarginAnnual string `json:"operating_margin_annual"`
	RiskBasedAPR          string `json:"risk_based_apr"` // the exact sum
	MaxAPR                string `json:"max_apr"`
	APR                   string `json:"apr"` // the sum rounded up to 0.0001, clamped to MaxAPR
	Clamped               bool   `json:"clamped"`
}

// price works out the APR for a policy PD (6 decimals). Convention: PD is the
// 12-month probability of default, so PD × LGD is the expected loss per year
// of exposure, an annual rate like the funding cost and margin. The exact sum
// is rounded UP to 4 decimal places (the price never falls short of its
// cost), then clamped to the legal maximum.
func (cp *compiledPolicy) price(pd6 int64) (Pricing, int64) {
	const scale15 = int64(pdScale) * rateScale // 1e15
	el15 := pd6 * cp.lgd                       // <= 1e6 × 1e9
	toScale15 := int64(scale15 / rateScale)    // 1e6
	total15 := cp.funding*toScale15 + el15 + cp.margin*toScale15
	apr4 := (total15 + 1e11 - 1) / 1e11
	apr9 := apr4 * 100_000
	clamped := apr9 > cp.maxAPR
	if clamped {
		apr9 = cp.maxAPR
	}
	return Pricing{
		FundingCostAnnual:     formatRate(cp.funding),
		ExpectedLossAnnual:    formatFixed(el15, 15, 4),
		OperatingMarginAnnual: formatRate(cp.margin),
		RiskBasedAPR:          formatFixed(total15, 15, 4),
		MaxAPR:                formatRate(cp.maxAPR),
		APR:                   formatRate(apr9),
		Clamped:               clamped,
	}, apr9
}

// eligibility appends the policy's decline reasons for a merchant; an empty
// result means eligible. Every failing rule is reported, in a fixed order.
func (cp *compiledPolicy) eligibility(f *Features, monthlyMinor int64, haveSales bool, pd6 int64, delinquent bool, dst []Reason) []Reason {
	p := cp.p
	add := func(code, text string) { dst = append(dst, Reason{Code: code, Text: text}) }
	missing := func(feature string) {
		add(ReasonPolicyDataMissing, "We could not verify your "+humanName(feature)+".")
	}
	if delinquent {
		add(ReasonDelinquent, "You have a loan that is past due.")
	}
	if v, ok := num(f, FeatureTenureDays); !ok {
		missing(FeatureTenureDays)
	} else if v < float64(p.MinTenureDays) {
		add(ReasonTenureTooShort, "Your business has been selling with us for less than "+strconv.Itoa(p.MinTenureDays)+" days.")
	}
	if v, ok := num(f, FeatureDaysSinceLastSale); !ok {
		missing(FeatureDaysSinceLastSale)
	} else if v > float64(p.MaxDormantDays) {
		add(ReasonDormant, "Your business has had no sales in the last "+strconv.Itoa(p.MaxDormantDays)+" days.")
	}
	if !haveSales {
		missing(FeatureSales90d)
	} else if monthlyMinor < p.MinMonthlySalesMinor {
		add(ReasonSalesTooSmall, "Your monthly sales are below the minimum of "+formatMoney(p.MinMonthlySalesMinor, p.MinorPerMajor)+" "+p.Currency+".")
	}
	// a NULL refund rate means no sales in 90 days, which sales_too_small covers
	if v, present := f.Num[FeatureRefundRate90d]; !present {
		missing(FeatureRefundRate90d)
	} else if finite(v) && rateAbove(v, cp.maxRefund) {
		add(ReasonRefundRateHigh, "Refunds and chargebacks were more than "+percent(cp.maxRefund)+" of your sales in the last 90 days.")
	}
	if v, ok := num(f, FeatureChargebacks180d); !ok {
		missing(FeatureChargebacks180d)
	} else if v > float64(p.MaxChargebacks180) {
		add(ReasonChargebacks, "Your business had more than "+strconv.Itoa(p.MaxChargebacks180)+" chargebacks in the last 180 days.")
	}
	if pd6*(rateScale/pdScale) > cp.maxPD {
		add(ReasonPDAboveCutoff, "Your estimated risk of default is above our limit.")
	}
	return dst
}

// rateAbove reports whether a feature value exceeds a nano-unit threshold.
// The comparison is done on the threshold's exact float64 nearest value, which
// is monotone in v.
func rateAbove(v float64, threshold int64) bool {
	return v > float64(threshold)/rateScale
}

// num returns a present, non-NaN numeric feature.
func num(f *Features, name string) (float64, bool) {
	v, ok := f.Num[name]
	if !ok || math.IsNaN(v) {
		return 0, false
	}
	return v, true
}

// percent formats a nano-unit share as a percentage ("0.2" -> "20%").
func percent(v int64) string { return formatFixed(v*100, rateDecimals, 0) + "%" }

// formatMoney formats minor units as a major amount ("100000" -> "1000.00").
func formatMoney(minor, minorPerMajor int64) string {
	d := 0
	for m := minorPerMajor; m > 1; m /= 10 {
		d++
	}
	return formatFixed(minor, d, d)
}

// assessLine works out the line for an eligible merchant.
func (cp *compiledPolicy) assessLine(grade string, pd6, monthlyMinor, exposureMinor int64, product *ProductPolicy) LineAssessment {
	p := cp.p
	gp := cp.grades[grade]
	la := LineAssessment{MonthlySalesMinor: monthlyMinor, SalesMultiple: formatFixed(gp.multiple, rateDecimals, 2),
		GradeCapMinor: gp.capMinor, ProductCapMinor: product.CapMinor, ELCapMinor: -1, ExposureMinor: exposureMinor}
	gross, ok := mulDivFloor(monthlyMinor, gp.multiple, rateScale)
	if !ok || gross > MaxMoneyMinor {
		gross = MaxMoneyMinor
	}
	la.GrossMinor = gross
	la.SteppedMinor = floorToStep(gross, p.LimitStepMinor)
	la.LimitMinor, la.BoundBy = la.SteppedMinor, BoundSalesMultiple
	if gp.capMinor < la.LimitMinor {
		la.LimitMinor, la.BoundBy = gp.capMinor, BoundGradeCap
	}
	if product.CapMinor < la.LimitMinor {
		la.LimitMinor, la.BoundBy = product.CapMinor, BoundProductCap
	}
	// PD × LGD × limit <= budget  <=>  limit <= budget × 1e15 / (pd6 × lgd9)
	if den := pd6 * cp.lgd; den > 0 {
		if elMax, ok := mulDivFloor(p.ELBudgetMinor, int64(pdScale)*rateScale, den); ok {
			la.ELCapMinor = floorToStep(elMax, p.LimitStepMinor)
			if la.ELCapMinor < la.LimitMinor {
				la.LimitMinor, la.BoundBy = la.ELCapMinor, BoundELBudget
			}
		}
		la.ExpectedLossMinor, _ = mulDivCeil(la.LimitMinor, den, int64(pdScale)*rateScale)
	}
	la.AvailableMinor = max(0, la.LimitMinor-exposureMinor)
	return la
}
