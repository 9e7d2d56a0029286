package synth

import (
	"math"
	"math/rand/v2"
	"slices"
)

// Transaction types as written to the type column.
const (
	typeSale uint8 = iota
	typeRefund
	typeChargeback
)

var typeNames = [...]string{"sale", "refund", "chargeback"}

// Trend kinds of a merchant's long-run sales.
const (
	trendFlat = iota
	trendGrowing
	trendDeclining
)

var trendNames = [...]string{"flat", "growing", "declining"}

// Shape parameters of the generator. They were tuned so that, at the default
// 18 months, a merchant writes about 100 transactions on average and the
// portfolio bad rate sits near 6% (see synth_test.go for the checked ranges).
const (
	// logMonthlySalesMu and logMonthlySalesSigma: log-normal number of sales per
	// month at as-of, before seasonality. Combined with the category and
	// merchant ticket spread this gives monthly sales spanning ~3 orders of magnitude.
	logMonthlySalesMu    = 1.29
	logMonthlySalesSigma = 1.0
	// minMonthlySales keeps the smallest merchants from being invisible.
	minMonthlySales = 0.7
	// merchantTicketSigma: how much a merchant's median ticket differs from its category's.
	merchantTicketSigma = 0.35
	// shareOlderThanHistory: merchants that were trading before the history starts.
	shareOlderThanHistory = 0.7
	// maxTenureYears: the oldest merchants started this long before the history.
	maxTenureYears = 8
	// minAmountMinor is the smallest ticket (cents).
	minAmountMinor = 50
	// maxRefundProb and maxChargebackProb cap the per-sale probabilities.
	maxRefundProb     = 0.4
	maxChargebackProb = 0.05
	// pdIntercept centres the true PD so the default bad rate is ~6%.
	pdIntercept = -5.9
	// behaviourScale scales the visible-behaviour logit so the oracle AUC lands
	// near 0.85 (strong but not perfect separation, as in real merchant portfolios).
	behaviourScale = 0.8
	// hiddenLogitCoef is the weight of the hidden risk level in the PD logit that
	// no feature can see (it also acts through behaviour, which features do see).
	hiddenLogitCoef = 0.55
)

// event is one transaction of a merchant.
type event struct {
	ts    int64 // Unix seconds, UTC
	amt   int64 // minor units (cents), > 0
	buyer int32 // buyer index in the merchant's pool, -1 for none
	typ   uint8
}

// profile is one merchant's hidden and visible parameters.
type profile struct {
	cat          int
	riskZ        float64 // hidden risk, standard normal; higher is riskier
	risk01       float64 // Φ(riskZ), the risk percentile
	startDay     int     // first trading day
	churnDay     int     // first day no longer trading (math.MaxInt32 when the merchant did not churn)
	monthlySales float64 // expected sales per month at as-of, before seasonality
	ticketMu     float64 // log median ticket, major units
	trend        int
	trendAnnual  float64 // log growth per year
	rampDays     float64 // young merchants ramp up over this many days
	vol          float64 // month-to-month log volatility
	refundProb   float64
	cbProb       float64
	buyerPool    int
	buyerGamma   float64 // concentration of buyers: index = floor(pool · u^gamma)
	anchorShare  float64 // share of sales to one big buyer (0 = none)
	anchorMult   float64 // ticket multiplier of the big buyer
	anonShare    float64
	dormant      [2][2]int // up to two dormant spells [from, to); from == to when unused
	distressDay  int       // first day of financial distress (math.MaxInt32 when none)
	distressTau  float64   // e-folding days of the sales collapse once distressed
}

// merchantRand seeds a merchant's own random stream from (seed, index), so a
// merchant's data does not depend on which goroutine made it.
func (s *scratch) merchantRand(seed uint64, index int) *rand.Rand {
	s.src.Seed(splitmix64(seed^0x9e3779b97f4a7c15), splitmix64(uint64(index)+splitmix64(seed)))
	return s.rng
}

// splitmix64 is the SplitMix64 finaliser: a cheap bijective scrambler for seeds.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// normCDF is Φ, the standard normal distribution function.
func normCDF(z float64) float64 { return 0.5 * math.Erfc(-z/math.Sqrt2) }

func uniform(r *rand.Rand, lo, hi float64) float64 { return lo + (hi-lo)*r.Float64() }

// poisson draws a Poisson(lambda) count: inversion for small lambda, a rounded
// normal for large lambda (accurate enough for synthetic sales counts).
func poisson(r *rand.Rand, lambda float64) int {
	if lambda <= 0 {
		return 0
	}
	if lambda >= 30 {
		n := math.Round(lambda + math.Sqrt(lambda)*r.NormFloat64())
		if n < 0 {
			return 0
		}
		return int(n)
	}
	p := math.Exp(-lambda)
	f := p
	u := r.Float64()
	k := 0
	for u > f && k < 200 {
		k++
		p *= lambda / float64(k)
		f += p
	}
	return k
}

// drawProfile draws a merchant's parameters. The order of draws is part of the
// output: change it and every byte changes.
func drawProfile(r *rand.Rand, cal *calendar) profile {
	var p profile
	u := r.Float64()
	for p.cat = 0; p.cat < len(categoryCDF)-1 && u > categoryCDF[p.cat]; p.cat++ {
	}
	cat := &categories[p.cat]
	p.riskZ = r.NormFloat64()
	p.risk01 = normCDF(p.riskZ)

	// Tenure: most merchants predate the history; the rest open inside it.
	if r.Float64() < shareOlderThanHistory {
		p.startDay = cal.histStart - int(r.Float64()*maxTenureYears*365)
	} else {
		p.startDay = cal.histStart + int(r.Float64()*float64(cal.asOf-14-cal.histStart))
	}
	p.rampDays = uniform(r, 10, 60)

	// Size: log-normal sales count and ticket.
	p.monthlySales = math.Max(minMonthlySales, math.Exp(logMonthlySalesMu+logMonthlySalesSigma*r.NormFloat64()))
	p.ticketMu = math.Log(cat.ticketMajor) + merchantTicketSigma*r.NormFloat64()

	// Trend: riskier merchants decline more often.
	u = r.Float64()
	pDecl := 0.08 + 0.22*p.risk01
	pGrow := 0.32 - 0.14*p.risk01
	switch {
	case u < pDecl:
		p.trend, p.trendAnnual = trendDeclining, -uniform(r, 0.25, 0.9)
	case u < pDecl+pGrow:
		p.trend, p.trendAnnual = trendGrowing, uniform(r, 0.15, 0.7)
	default:
		p.trend, p.trendAnnual = trendFlat, 0.06*r.NormFloat64()
	}

	p.vol = cat.volBase + 0.45*p.risk01*uniform(r, 0.3, 1) + 0.05*math.Abs(r.NormFloat64())
	p.refundProb = math.Min(maxRefundProb, cat.refundBase*math.Exp(0.8*p.riskZ+0.3*r.NormFloat64()))
	p.cbProb = math.Min(maxChargebackProb, 0.0012*math.Exp(1.0*p.riskZ+0.4*r.NormFloat64()))

	// Buyers: a pool sized to about a quarter's sales, heavy-tailed use of it,
	// and for some merchants one big buyer.
	poolFrac := math.Exp(math.Log(0.7) + 0.6*r.NormFloat64())
	p.buyerPool = max(1, int(math.Round(p.monthlySales*3*poolFrac)))
	p.buyerGamma = uniform(r, 1.2, 3.0)
	if r.Float64() < cat.anchorProb {
		p.anchorShare = uniform(r, 0.2, 0.7)
		p.anchorMult = uniform(r, 1.5, 5)
	}
	p.anonShare = cat.anonShare

	// Dormant spells: riskier merchants pause more.
	if r.Float64() < 0.08+0.2*p.risk01 {
		n := 1
		if r.Float64() < 0.3 {
			n = 2
		}
		for i := range n {
			lo := max(p.startDay, cal.histStart)
			from := lo + int(r.Float64()*float64(max(1, cal.asOf-7-lo)))
			p.dormant[i] = [2]int{from, from + 14 + int(math.Min(100, 30*r.ExpFloat64()))}
		}
	}

	// Churn: the merchant stops trading inside the history.
	p.churnDay = math.MaxInt32
	if r.Float64() < 0.015+0.06*p.risk01*p.risk01 {
		lo := max(p.startDay+30, cal.histStart)
		if lo < cal.asOf-1 {
			p.churnDay = lo + int(r.Float64()*float64(cal.asOf-1-lo))
		}
	}

	// Distress: sales collapse, refunds and chargebacks climb. Mostly the riskiest.
	p.distressDay = math.MaxInt32
	if r.Float64() < 0.015+0.22*p.risk01*p.risk01*p.risk01 {
		p.distressDay = cal.asOf - int(uniform(r, 15, 240))
		p.distressTau = uniform(r, 25, 120)
	}
	return p
}

// active reports whether the merchant trades on day d (ignoring distress).
func (p *profile) active(d int) bool {
	if d < p.startDay || d >= p.churnDay {
		return false
	}
	for _, s := range p.dormant {
		if d >= s[0] && d < s[1] {
			return false
		}
	}
	return true
}

// scratch is a worker's reusable memory for one merchant at a time.
type scratch struct {
	src       rand.PCG
	rng       *rand.Rand // draws from src
	events    []event
	dayCDF    [40]float64
	buyerCnt  []int32
	buyerAmt  []int64
	touched   []int32
	buckets   [12]int64
	daySeen   [91]bool
	futureAmt int64
}

// simulate draws the merchant's history into s.events (sorted by time) and its
// sales in the FutureGMVDays after as-of into s.futureAmt, with sales stopping
// at defaultDay (pass math.MaxInt32 for none). It uses r from where drawProfile left it.
func simulate(r *rand.Rand, p *profile, cal *calendar, s *scratch) {
	cat := &categories[p.cat]
	season := cal.season[p.cat]
	hourCDF := &hourCDFs[p.cat]
	s.events = s.events[:0]
	dailyRate := p.monthlySales / 30.4
	for pi := 0; pi < cal.histPeriods; pi++ {
		from, to := cal.periods[pi], cal.periods[pi+1]
		if to <= p.startDay || from >= p.churnDay {
			continue // not trading in this period
		}
		noise := math.Exp(p.vol*r.NormFloat64() - p.vol*p.vol/2)
		mid := float64(from+to) / 2
		mult := noise * math.Exp(p.trendAnnual*(mid-float64(cal.asOf))/365)
		if age := mid - float64(p.startDay); age < 4*p.rampDays {
			mult *= 1 - math.Exp(-math.Max(age, 1)/p.rampDays)
		}
		total := 0.0
		n := to - from
		for i := range n {
			d := from + i
			w := 0.0
			if p.active(d) {
				w = season[d-cal.histStart]
				if d >= p.distressDay {
					w *= math.Exp(-float64(d-p.distressDay) / p.distressTau)
				}
			}
			total += w
			s.dayCDF[i] = total
		}
		if total == 0 {
			continue
		}
		count := poisson(r, dailyRate*total*mult)
		for range count {
			x := r.Float64() * total
			i, _ := slices.BinarySearch(s.dayCDF[:n], x)
			if i >= n {
				i = n - 1
			}
			d := from + i
			s.addSale(r, p, cat, hourCDF, d, cal.asOf)
		}
	}
	// A merchant in the portfolio has at least one sale: the features pipeline
	// only sees merchants that sold something before as-of.
	if len(s.events) == 0 {
		lo := max(p.startDay, cal.histStart)
		hi := min(p.churnDay, cal.asOf)
		d := lo + int(r.Float64()*float64(max(1, hi-lo)))
		s.addSale(r, p, cat, hourCDF, min(d, cal.asOf-1), cal.asOf)
	}
	slices.SortFunc(s.events, func(a, b event) int {
		if a.ts != b.ts {
			if a.ts < b.ts {
				return -1
			}
			return 1
		}
		if a.typ != b.typ {
			return int(a.typ) - int(b.typ)
		}
		if a.amt != b.amt {
			if a.amt < b.amt {
				return -1
			}
			return 1
		}
		return int(a.buyer - b.buyer)
	})
}

// addSale appends one sale on day d and, when drawn, its refund or chargeback
// (kept only if it lands before as-of).
func (s *scratch) addSale(r *rand.Rand, p *profile, cat *category, hourCDF *[24]float64, d, asOfDay int) {
	u := r.Float64()
	h := 0
	for h < 23 && u > hourCDF[h] {
		h++
	}
	ts := int64(d)*secondsPerDay + int64(h)*3600 + int64(r.IntN(3600))
	buyer := int32(-1)
	ticketMult := 1.0
	switch {
	case p.anchorShare > 0 && r.Float64() < p.anchorShare:
		buyer, ticketMult = 0, p.anchorMult
	case r.Float64() < p.anonShare:
	default:
		buyer = 1 + int32(float64(p.buyerPool)*math.Pow(r.Float64(), p.buyerGamma))
	}
	amt := int64(math.Round(math.Exp(p.ticketMu+cat.ticketSigma*r.NormFloat64()) * ticketMult * 100))
	amt = max(amt, minAmountMinor)
	s.events = append(s.events, event{ts: ts, amt: amt, buyer: buyer, typ: typeSale})

	refundProb, cbProb := p.refundProb, p.cbProb
	if d >= p.distressDay {
		refundProb, cbProb = math.Min(maxRefundProb, refundProb*3+0.03), math.Min(maxChargebackProb, cbProb*4+0.004)
	}
	switch u := r.Float64(); {
	case u < cbProb:
		delay := int64(uniform(r, 20, 75) * secondsPerDay)
		if ts+delay < int64(asOfDay)*secondsPerDay {
			s.events = append(s.events, event{ts: ts + delay, amt: amt, buyer: buyer, typ: typeChargeback})
		}
	case u < cbProb+refundProb:
		delay := int64((0.2 + 8*r.ExpFloat64()) * secondsPerDay)
		ramt := amt
		if r.Float64() < 0.4 {
			ramt = max(1, int64(float64(amt)*uniform(r, 0.2, 0.9)))
		}
		if ts+delay < int64(asOfDay)*secondsPerDay {
			s.events = append(s.events, event{ts: ts + delay, amt: ramt, buyer: buyer, typ: typeRefund})
		}
	}
}

// futureSales draws the merchant's sales in [asOf, asOf+FutureGMVDays): the same
// process continued (trend, seasonality, distress, churn), stopping at
// defaultDay. Dormant spells are not extended into the future.
func futureSales(r *rand.Rand, p *profile, cal *calendar, defaultDay int) int64 {
	cat := &categories[p.cat]
	season := cal.season[p.cat]
	dailyRate := p.monthlySales / 30.4
	var sum int64
	for pi := cal.histPeriods; pi+1 < len(cal.periods); pi++ {
		from, to := cal.periods[pi], cal.periods[pi+1]
		noise := math.Exp(p.vol*r.NormFloat64() - p.vol*p.vol/2)
		if from >= p.churnDay {
			continue
		}
		mid := float64(from+to) / 2
		mult := noise * math.Exp(p.trendAnnual*(mid-float64(cal.asOf))/365)
		if age := mid - float64(p.startDay); age < 4*p.rampDays {
			mult *= 1 - math.Exp(-math.Max(age, 1)/p.rampDays)
		}
		total := 0.0
		for d := from; d < to && d < defaultDay; d++ {
			w := season[d-cal.histStart]
			if d >= p.distressDay {
				w *= math.Exp(-float64(d-p.distressDay) / p.distressTau)
			}
			total += w
		}
		for range poisson(r, dailyRate*total*mult) {
			mult := 1.0
			if p.anchorShare > 0 && r.Float64() < p.anchorShare {
				mult = p.anchorMult
			}
			amt := int64(math.Round(math.Exp(p.ticketMu+cat.ticketSigma*r.NormFloat64()) * mult * 100))
			sum += max(amt, minAmountMinor)
		}
	}
	return sum
}
