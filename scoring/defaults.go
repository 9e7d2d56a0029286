package scoring

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

// DefaultPolicy returns the default limit, eligibility and pricing parameters
// written into new artifacts (documented in docs/POLICY.md).
func DefaultPolicy() Policy {
	return Policy{
		Currency:          "USD",
		MinTenureDays:     90,
		MaxDormantDays:    30,
		MinMonthlySales:   100000, // 1,000.00 a month
		MaxRefundRate:     "0.2000",
		MaxChargebacks180: 5,
		MaxPD:             "0.1500",
		LimitStepMinor:    10000, // limits are whole hundreds
		ProductCapMinor:   50000000,
		LGD:               "0.8000",
		ELBudgetMinor:     500000,
		FundingCost:       "0.0600",
		OperatingMargin:   "0.0400",
		MaxAPR:            "0.3600",
		ByGrade: []GradePolicy{
			{Grade: "A", SalesMultiple: "1.50", CapMinor: 50000000},
			{Grade: "B", SalesMultiple: "1.20", CapMinor: 25000000},
			{Grade: "C", SalesMultiple: "1.00", CapMinor: 10000000},
			{Grade: "D", SalesMultiple: "0.60", CapMinor: 5000000},
			{Grade: "E", SalesMultiple: "0.00", CapMinor: 0},
		},
	}
}
