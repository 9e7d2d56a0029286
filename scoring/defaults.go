package scoring

// Feature names the policy reads (the registry of the features issue).
const (
	FeatureTenureDays        = "tenure_days"
	FeatureDaysSinceLastSale = "days_since_last_sale"
	FeatureSales90d          = "sales_amount_90d" // major units
	FeatureRefundRate90d     = "refund_rate_90d"
	FeatureChargebacks180d   = "chargeback_count_180d"
	FeatureSalesGrowth90d    = "sales_growth_90d"
	FeatureSalesTrend12m     = "sales_trend_12m"
)

// Products.
const (
	ProductTermLoan   = "term_loan"
	ProductCreditLine = "credit_line"
)

// DefaultGrades returns the default PD bands A–E written into new artifacts.
func DefaultGrades() []Grade {
	return []Grade{
		{Name: "A", MaxPD: 0.01},
		{Name: "B", MaxPD: 0.025},
		{Name: "C", MaxPD: 0.05},
		{Name: "D", MaxPD: 0.10},
		{Name: "E", MaxPD: 1},
	}
}

// DefaultWorseWhen returns the behaviour features whose worse direction is
// known: more refunds, chargebacks or days without a sale, or a steeper sales
// decline, is never better.
func DefaultWorseWhen() []Direction {
	return []Direction{
		{Feature: FeatureRefundRate90d, Worse: "higher"},
		{Feature: FeatureChargebacks180d, Worse: "higher"},
		{Feature: FeatureDaysSinceLastSale, Worse: "higher"},
		{Feature: FeatureSalesGrowth90d, Worse: "lower"},
		{Feature: FeatureSalesTrend12m, Worse: "lower"},
	}
}

// DefaultPolicy returns the default limit, eligibility and pricing parameters
// written into new artifacts (documented in docs/POLICY.md).
func DefaultPolicy() Policy {
	return Policy{
		Currency:              "USD",
		MinorPerMajor:         100,
		MinTenureDays:         90,
		MaxDormantDays:        30,
		MinMonthlySalesMinor:  50000, // 500.00 a month: below it a merchant cannot carry a repayment
		MaxRefundRate:         "0.2000",
		MaxChargebacks180:     5,
		MaxPD:                 "0.1500",
		MinLimitMinor:         20000, // 200.00: smaller lines cost more to run than they earn
		LimitStepMinor:        10000, // limits are whole hundreds
		LGD:                   "0.8000",
		ELBudgetMinor:         500000, // 5,000.00 expected loss per line
		FundingCostAnnual:     "0.0600",
		OperatingMarginAnnual: "0.0400",
		MaxAPR:                "0.3600",
		ByGrade: []GradePolicy{
			{Grade: "A", SalesMultiple: "1.50", CapMinor: 50000000},
			{Grade: "B", SalesMultiple: "1.20", CapMinor: 25000000},
			{Grade: "C", SalesMultiple: "1.00", CapMinor: 10000000},
			{Grade: "D", SalesMultiple: "0.60", CapMinor: 5000000},
			{Grade: "E", SalesMultiple: "0.00", CapMinor: 0},
		},
		Products: []ProductPolicy{
			{Name: ProductTermLoan, CapMinor: 50000000, MinAmountMinor: 50000, MinTermMonths: 3, MaxTermMonths: 24},
			{Name: ProductCreditLine, CapMinor: 25000000, MinAmountMinor: 10000, MinTermMonths: 1, MaxTermMonths: 12},
		},
		WorseWhen: DefaultWorseWhen(),
	}
}
