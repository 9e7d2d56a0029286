package scoring

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/lendhq/lend"
)

// synthCapacity draws rows whose target follows
// log1p(y) = 0.5 + 0.9·log1p(s90) + 0.3·trend + extra·refund exactly.
func synthCapacity(n int, seed uint64, extra float64) (x [][]float64, y []float64) {
	r := rand.New(rand.NewPCG(seed, 1))
	for i := 0; i < n; i++ {
		s90 := 1000 + r.Float64()*999000
		trend := r.Float64() - 0.5
		refund := r.Float64() * 0.2
		x = append(x, []float64{s90, trend, refund, 7})
		y = append(y, math.Expm1(0.5+0.9*math.Log1p(s90)+0.3*trend+extra*refund))
	}
	return x, y
}

var capNames = []string{"sales_amount_90d", "sales_trend_12m", "refund_rate_90d", "constant"}

func TestFitCapacityRecoversCoefficients(t *testing.T) {
	x, y := synthCapacity(6000, 1, -0.5) // refunds lower future sales: kept
	tx, ty := synthCapacity(2000, 2, -0.5)
	cm, err := FitCapacity("future_gmv_90d", capNames, x, y, tx, ty)
	if err != nil {
		t.Fatal(err)
	}
	if !equal(cm.Variables, capNames[:3]) || !equal(cm.InputTransforms, []string{"log1p", "none", "none"}) || cm.Transform != "log1p" {
		t.Fatalf("variables %v transforms %v %s (the constant column must be dropped)", cm.Variables, cm.InputTransforms, cm.Transform)
	}
	want := []float64{0.9, 0.3, -0.5}
	if math.Abs(cm.Intercept-0.5) > 1e-6 {
		t.Errorf("intercept %v, want 0.5", cm.Intercept)
	}
	for k, w := range want {
		if math.Abs(cm.Coefficients[k]-w) > 1e-6 {
			t.Errorf("coefficient %s = %v, want %v", cm.Variables[k], cm.Coefficients[k], w)
		}
	}
	if cm.TrainRows != MaxCapacityFitRows || cm.TestRows != 2000 {
		t.Errorf("rows train %d test %d, want %d and 2000", cm.TrainRows, cm.TestRows, MaxCapacityFitRows)
	}
	// noise-free data: test R² is 1 and the error is float noise
	if cm.R2Test < 1-1e-9 || cm.MAETest > 1e-3 {
		t.Errorf("R2Test %v MAETest %v", cm.R2Test, cm.MAETest)
	}
}

// TestFitCapacityDropsRewardingSign: a variable whose coefficient says worse
// behaviour means more sales (here refunds) is dropped and the model refitted.
func TestFitCapacityDropsRewardingSign(t *testing.T) {
	x, y := synthCapacity(1500, 3, +0.5)
	cm, err := FitCapacity("future_gmv_90d", capNames, x, y, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !equal(cm.Variables, capNames[:2]) {
		t.Fatalf("variables %v, want refund_rate_90d dropped", cm.Variables)
	}
	m := loadGolden(t)
	m.Capacity = cm
	if _, err := NewEngine(m, nil); err != nil {
		t.Fatalf("fitted capacity model refused: %v", err)
	}
}

func TestFitCapacityBadInput(t *testing.T) {
	x, y := synthCapacity(10, 4, 0)
	for _, c := range []struct {
		name  string
		names []string
		x     [][]float64
		y     []float64
		code  string
	}{
		{"no variables", nil, x, y, lend.EINVALID},
		{"length mismatch", capNames, x, y[:5], lend.EINVALID},
		{"too few rows", capNames, x[:3], y[:3], lend.EUNPROCESSABLE},
		{"all NaN", capNames, [][]float64{{math.NaN(), 1, 1, 1}, {math.NaN(), 1, 1, 1}, {math.NaN(), 1, 1, 1}, {math.NaN(), 1, 1, 1}, {math.NaN(), 1, 1, 1}, {math.NaN(), 1, 1, 1}}, []float64{1, 2, 3, 4, 5, 6}, lend.EUNPROCESSABLE},
		{"only constants", []string{"a"}, [][]float64{{1}, {1}, {1}, {1}}, []float64{1, 2, 3, 4}, lend.EUNPROCESSABLE},
	} {
		if _, err := FitCapacity("y", c.names, c.x, c.y, nil, nil); lend.ErrorCode(err) != c.code {
			t.Errorf("%s: %v, want code %s", c.name, err, c.code)
		}
	}
}

// TestPredictMonthlySales: the golden capacity model (golden_cases.md m1, m3)
// and the observed fallback.
func TestPredictMonthlySales(t *testing.T) {
	m := loadGolden(t)
	for _, c := range []struct {
		name   string
		cap    *CapacityModel
		num    map[string]float64
		want   int64
		source string
		ok     bool
	}{
		{"model", m.Capacity, map[string]float64{"sales_amount_90d": 29999, "sales_trend_12m": 0.10}, 1161800, CapacityFromModel, true},
		{"input missing", m.Capacity, map[string]float64{"sales_amount_90d": 150000}, 5000000, CapacityFromObserved, true},
		{"input NaN", m.Capacity, map[string]float64{"sales_amount_90d": 150000, "sales_trend_12m": math.NaN()}, 5000000, CapacityFromObserved, true},
		{"no model", nil, map[string]float64{"sales_amount_90d": 1000.01}, 33333, CapacityFromObserved, true}, // 100001 / 3 = 33333.67
		{"capped at max target", m.Capacity, map[string]float64{"sales_amount_90d": 1e12, "sales_trend_12m": 1}, 333333333, CapacityFromModel, true},
		{"nothing", nil, map[string]float64{}, 0, "", false},
		{"negative sales", nil, map[string]float64{"sales_amount_90d": -5}, 0, "", false},
	} {
		got, src, ok := PredictMonthlySales(c.cap, &Features{Num: c.num}, 100)
		if got != c.want || src != c.source || ok != c.ok {
			t.Errorf("%s: %d %s %v, want %d %s %v", c.name, got, src, ok, c.want, c.source, c.ok)
		}
	}
}
