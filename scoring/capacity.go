package scoring

import "github.com/lendhq/lend"

// FitCapacity fits the repayment-capacity regression (next-90-day sales from
// features) with github.com/sajari/regression. x holds one row per merchant
// with len(names) columns; rows with NaN are skipped. testX/testY, when given,
// yield R2Test and MAETest.
func FitCapacity(target string, names []string, x [][]float64, y []float64, testX [][]float64, testY []float64) (*CapacityModel, error) {
	return nil, lend.Errorf(lend.ENOTIMPL, "capacity model not implemented yet")
}
