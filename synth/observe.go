package synth

import "math"

// observed is the behaviour visible in a merchant's written history, measured
// with the definitions of the features pipeline (issue 3), in major units for
// amounts. NaN stands for the pipeline's NULL.
type observed struct {
	sales30, sales90, sales180, sales365 float64
	count30, count90, count365           int
	activeDays90                         int
	refundRate90                         float64 // (refund + chargeback amounts in W(90)) / sales90; NaN if sales90 = 0
	chargebacks180                       int
	uniqueBuyers90                       int
	repeatBuyerShare90                   float64 // NaN if no buyers
	topBuyerShare90                      float64 // NaN if no sales with a buyer
	growth90                             float64 // sales90 / prior 90 days − 1; NaN if prior = 0
	tenureDays                           int
	daysSinceLastSale                    int
	monthsActive12m                      int
	salesCV12m                           float64 // NaN if K < 3 or mean 0
	salesTrend12m                        float64 // NaN if K < 3 or mean 0
}

// observe measures the features of events (sorted by time, all before asOf).
func observe(events []event, asOfDay int, s *scratch) observed {
	var o observed
	asOf := int64(asOfDay) * secondsPerDay
	const day = secondsPerDay
	var s30, s90, s180, s365, prior90, neg90 int64
	first, last := int64(math.MaxInt64), int64(math.MinInt64)
	s.buckets = [12]int64{}
	var active12 [12]bool
	s.daySeen = [91]bool{}
	s.touched = s.touched[:0]
	var buyerAmt90 int64
	for _, e := range events {
		age := asOf - e.ts // seconds before as-of, > 0
		if e.typ != typeSale {
			if age <= 90*day {
				neg90 += e.amt
			}
			if e.typ == typeChargeback && age <= 180*day {
				o.chargebacks180++
			}
			continue
		}
		first = min(first, e.ts)
		last = max(last, e.ts)
		if age <= 30*day {
			s30 += e.amt
			o.count30++
		}
		if age <= 90*day {
			s90 += e.amt
			o.count90++
			// Distinct UTC dates in W(90): index by days before as-of.
			s.daySeen[(age-1)/day] = true
			if e.buyer >= 0 {
				b := int(e.buyer)
				if b >= len(s.buyerCnt) {
					s.buyerCnt = append(s.buyerCnt, make([]int32, b+1-len(s.buyerCnt))...)
					s.buyerAmt = append(s.buyerAmt, make([]int64, b+1-len(s.buyerAmt))...)
				}
				if s.buyerCnt[b] == 0 {
					s.touched = append(s.touched, int32(b))
				}
				s.buyerCnt[b]++
				s.buyerAmt[b] += e.amt
				buyerAmt90 += e.amt
			}
		} else if age <= 180*day {
			prior90 += e.amt
		}
		if age <= 180*day {
			s180 += e.amt
		}
		if age <= 365*day {
			s365 += e.amt
			o.count365++
		}
		if age <= 360*day {
			k := (age - 1) / (30 * day) // bucket B_{k+1} = [asOf-30(k+1)d, asOf-30k d)
			s.buckets[k] += e.amt
			active12[k] = true
		}
	}
	o.sales30, o.sales90, o.sales180, o.sales365 = major(s30), major(s90), major(s180), major(s365)
	for _, seen := range s.daySeen {
		if seen {
			o.activeDays90++
		}
	}
	o.refundRate90 = math.NaN()
	if s90 > 0 {
		o.refundRate90 = float64(neg90) / float64(s90)
	}
	o.repeatBuyerShare90, o.topBuyerShare90 = math.NaN(), math.NaN()
	o.uniqueBuyers90 = len(s.touched)
	if len(s.touched) > 0 {
		repeat := 0
		var top int64
		for _, b := range s.touched {
			if s.buyerCnt[b] >= 2 {
				repeat++
			}
			top = max(top, s.buyerAmt[b])
			s.buyerCnt[b], s.buyerAmt[b] = 0, 0
		}
		o.repeatBuyerShare90 = float64(repeat) / float64(len(s.touched))
		o.topBuyerShare90 = float64(top) / float64(buyerAmt90)
	}
	o.growth90 = math.NaN()
	if prior90 > 0 {
		o.growth90 = float64(s90)/float64(prior90) - 1
	}
	if first == math.MaxInt64 { // no sale: cannot happen for generated merchants
		o.tenureDays, o.daysSinceLastSale = -1, -1
		o.salesCV12m, o.salesTrend12m = math.NaN(), math.NaN()
		return o
	}
	o.tenureDays = int((asOf - first) / day)
	o.daysSinceLastSale = int((asOf - last) / day)
	for _, a := range active12 {
		if a {
			o.monthsActive12m++
		}
	}
	o.salesCV12m, o.salesTrend12m = math.NaN(), math.NaN()
	k := min(12, int((asOf-first)/(30*day))+1)
	if k >= 3 {
		mean, tMean := 0.0, 0.0
		for i := range k {
			mean += float64(s.buckets[i])
			tMean += float64(-(i + 1))
		}
		mean /= float64(k)
		tMean /= float64(k)
		if mean > 0 {
			var ss, sxy, sxx float64
			for i := range k {
				v := float64(s.buckets[i])
				dt := float64(-(i + 1)) - tMean
				ss += (v - mean) * (v - mean)
				sxy += dt * (v - mean)
				sxx += dt * dt
			}
			o.salesCV12m = math.Sqrt(ss/float64(k)) / mean
			o.salesTrend12m = sxy / sxx / mean
		}
	}
	return o
}

// major converts minor units (cents) to major units for ratios and logs.
func major(minor int64) float64 { return float64(minor) / 100 }

// behaviourLogit is the part of the true PD's logit carried by visible
// behaviour. Each term is a monotone function of ONE feature, so an additive
// scorecard (WoE bins + logistic regression) can represent it; NULL features
// contribute nothing (the feature that explains the NULL carries the risk).
func behaviourLogit(o observed) float64 {
	l := 0.0
	if !math.IsNaN(o.growth90) { // decline over the last quarter
		l += -0.8 * math.Max(-2.5, math.Min(1, math.Log(math.Max(1e-9, 1+o.growth90))))
	}
	if !math.IsNaN(o.refundRate90) { // refunds and chargebacks eat the sales
		l += 6 * math.Min(o.refundRate90, 0.35)
	}
	l += 0.45 * float64(min(o.chargebacks180, 5))
	if !math.IsNaN(o.topBuyerShare90) { // dependence on one buyer
		l += 1.6 * math.Max(0, o.topBuyerShare90-0.25)
	}
	if !math.IsNaN(o.salesCV12m) { // volatile sales
		l += 0.9 * math.Min(o.salesCV12m, 2.5)
	} else {
		l += 0.3 // too short a history to judge stability
	}
	l += 1.5 * math.Max(0, 1-float64(o.tenureDays)/365) // young business
	l += 0.55 * math.Log1p(float64(o.daysSinceLastSale)/5)
	// Bigger merchants are safer: log of last year's sales against a typical 2,500.
	l += -0.22 * math.Max(-2.5, math.Min(2.5, math.Log(math.Max(1, o.sales365)/2500)))
	l += 0.1 * float64(12-o.monthsActive12m)
	return l
}

// logistic is 1 / (1 + e^-x).
func logistic(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
