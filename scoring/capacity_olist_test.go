package scoring

import (
	"compress/gzip"
	"encoding/csv"
	"io"
	"math"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/lendhq/lend/internal/testutil"
)

// olistPanel reads the real Olist sellers' transactions and builds, for each
// as-of date, one row per seller with sales in the 90 days before: the
// features sales_amount_90d, sales_count_90d, sales_amount_180d and the target
// sales in the 90 days from as-of (what future_gmv_90d means).
func olistPanel(t *testing.T, asOf []time.Time) (x [][]float64, y []float64, group []int) {
	t.Helper()
	f, err := os.Open(testutil.SharedData(t, "olist/transactions.csv.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	rd := csv.NewReader(gz)
	if _, err := rd.Read(); err != nil { // header merchant_id,ts,amount,type,buyer_id
		t.Fatal(err)
	}
	type sale struct {
		ts     time.Time
		amount float64
	}
	bySeller := map[string][]sale{}
	var order []string
	for {
		rec, err := rd.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if rec[3] != "sale" {
			continue
		}
		ts, err := time.Parse("2006-01-02 15:04:05", rec[1])
		if err != nil {
			t.Fatal(err)
		}
		amt, err := strconv.ParseFloat(rec[2], 64)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := bySeller[rec[0]]; !ok {
			order = append(order, rec[0])
		}
		bySeller[rec[0]] = append(bySeller[rec[0]], sale{ts, amt})
	}
	day := 24 * time.Hour
	for g, a := range asOf {
		for _, id := range order {
			var s90, n90, s180, future float64
			for _, s := range bySeller[id] {
				switch {
				case !s.ts.Before(a.Add(-90*day)) && s.ts.Before(a):
					s90 += s.amount
					n90++
					s180 += s.amount
				case !s.ts.Before(a.Add(-180*day)) && s.ts.Before(a):
					s180 += s.amount
				case !s.ts.Before(a) && s.ts.Before(a.Add(90*day)):
					future += s.amount
				}
			}
			if s90 == 0 {
				continue
			}
			x = append(x, []float64{s90, n90, s180})
			y = append(y, future)
			group = append(group, g)
		}
	}
	return x, y, group
}

// TestCapacityOnOlist fits the capacity model on real marketplace sellers
// (as-of 2017-06..2017-12, tested out of time on 2018-03) and requires it to
// beat predicting the mean (R² > 0) and the naive capacity (the next 90 days
// sell what the last 90 did) in mean absolute error. Figures: docs/perf/scoring.md.
func TestCapacityOnOlist(t *testing.T) {
	d := func(s string) time.Time { v, _ := time.Parse("2006-01-02", s); return v }
	x, y, g := olistPanel(t, []time.Time{d("2017-06-01"), d("2017-08-01"), d("2017-10-01"), d("2017-12-01"), d("2018-03-01")})
	var trX, teX [][]float64
	var trY, teY []float64
	for i := range x {
		if g[i] == 4 {
			teX, teY = append(teX, x[i]), append(teY, y[i])
		} else {
			trX, trY = append(trX, x[i]), append(trY, y[i])
		}
	}
	cm, err := FitCapacity("future_gmv_90d", []string{"sales_amount_90d", "sales_count_90d", "sales_amount_180d"}, trX, trY, teX, teY)
	if err != nil {
		t.Fatal(err)
	}
	// the naive capacity (next 90 days = last 90 days) for comparison
	var naive float64
	for i, row := range teX {
		naive += math.Abs(teY[i] - row[0])
	}
	naive /= float64(len(teX))
	t.Logf("olist: train %d rows, test %d rows; R2 test %.3f, MAE test %.2f BRL (naive last-90-days MAE %.2f); coefficients %v %v",
		cm.TrainRows, cm.TestRows, cm.R2Test, cm.MAETest, naive, cm.Variables, cm.Coefficients)
	if !(cm.R2Test > 0) {
		t.Errorf("R2 test %v: the capacity model does not beat the mean", cm.R2Test)
	}
	if !(cm.MAETest < naive) {
		t.Errorf("MAE test %.2f: the capacity model does not beat last-90-days persistence (%.2f)", cm.MAETest, naive)
	}
}
