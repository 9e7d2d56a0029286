package synth

// category is a kind of merchant: its ticket size, when its customers buy and
// how its customers behave. The numbers are round, plausible figures for small
// card-accepting merchants, not estimates from a data set.
type category struct {
	name        string
	weight      float64     // share of merchants in the portfolio
	ticketMajor float64     // median ticket, major units
	ticketSigma float64     // per-sale log standard deviation of the ticket
	weekday     [7]float64  // relative intensity Sunday..Saturday
	month       [12]float64 // relative intensity January..December (yearly seasonality)
	hours       [24]float64 // relative intensity by hour of day (UTC)
	refundBase  float64     // per-sale refund probability of a median-risk merchant
	anonShare   float64     // share of sales with no buyer id (cash-like, walk-in)
	anchorProb  float64     // probability the merchant depends on one big buyer
	volBase     float64     // base month-to-month log volatility of sales
}

// Hour profiles shared by several categories.
var (
	hoursShop = [24]float64{0, 0, 0, 0, 0, 0, 0.1, 0.3, 0.7, 1, 1.1, 1.2, 1.3, 1.2, 1.1, 1.1, 1.2, 1.3, 1.3, 1.1, 0.8, 0.5, 0.2, 0.05}
	hoursFood = [24]float64{0, 0, 0, 0, 0, 0, 0, 0.2, 0.4, 0.3, 0.4, 1.2, 2.2, 1.8, 0.6, 0.4, 0.5, 1.0, 2.0, 2.3, 1.8, 1.0, 0.5, 0.2}
	hoursB2B  = [24]float64{0, 0, 0, 0, 0, 0, 0.1, 0.6, 1.2, 1.4, 1.4, 1.3, 0.9, 1.2, 1.3, 1.2, 1.0, 0.6, 0.2, 0.05, 0, 0, 0, 0}
	hoursWeb  = [24]float64{0.3, 0.2, 0.15, 0.1, 0.1, 0.15, 0.3, 0.5, 0.8, 1, 1.1, 1.1, 1.2, 1.2, 1.1, 1.1, 1.1, 1.2, 1.3, 1.4, 1.4, 1.2, 0.9, 0.6}
)

// categories is the fixed category list; its order is part of the output
// (category draws index into it), so append only.
var categories = []category{
	{
		name: "grocery", weight: 0.20, ticketMajor: 28, ticketSigma: 0.6,
		weekday:    [7]float64{1.2, 0.85, 0.9, 0.95, 1.0, 1.2, 1.35},
		month:      [12]float64{0.95, 0.92, 0.98, 1.0, 1.0, 1.0, 1.02, 1.0, 0.98, 1.0, 1.05, 1.18},
		hours:      [24]float64{0, 0, 0, 0, 0, 0, 0.2, 0.6, 0.9, 1, 1.1, 1.1, 1.2, 1.1, 1.0, 1.1, 1.3, 1.5, 1.5, 1.2, 0.8, 0.5, 0.2, 0.05},
		refundBase: 0.008, anonShare: 0.25, anchorProb: 0.02, volBase: 0.06,
	},
	{
		name: "restaurant", weight: 0.19, ticketMajor: 24, ticketSigma: 0.5,
		weekday:    [7]float64{1.1, 0.75, 0.8, 0.9, 1.05, 1.35, 1.45},
		month:      [12]float64{0.85, 0.88, 0.95, 1.0, 1.05, 1.1, 1.12, 1.1, 1.0, 0.98, 0.95, 1.05},
		hours:      hoursFood,
		refundBase: 0.005, anonShare: 0.2, anchorProb: 0.01, volBase: 0.1,
	},
	{
		name: "apparel", weight: 0.14, ticketMajor: 65, ticketSigma: 0.7,
		weekday:    [7]float64{1.3, 0.8, 0.8, 0.85, 0.95, 1.15, 1.45},
		month:      [12]float64{0.8, 0.75, 0.9, 0.95, 1.0, 0.95, 0.9, 1.0, 1.0, 1.0, 1.3, 1.6},
		hours:      hoursShop,
		refundBase: 0.06, anonShare: 0.05, anchorProb: 0.03, volBase: 0.15,
	},
	{
		name: "electronics", weight: 0.08, ticketMajor: 240, ticketSigma: 0.9,
		weekday:    [7]float64{1.2, 0.9, 0.9, 0.9, 0.95, 1.1, 1.3},
		month:      [12]float64{0.85, 0.8, 0.85, 0.85, 0.9, 0.9, 0.9, 1.0, 1.0, 0.95, 1.5, 1.7},
		hours:      hoursWeb,
		refundBase: 0.045, anonShare: 0.03, anchorProb: 0.05, volBase: 0.18,
	},
	{
		name: "beauty_salon", weight: 0.12, ticketMajor: 55, ticketSigma: 0.5,
		weekday:    [7]float64{0.3, 0.6, 1.1, 1.15, 1.2, 1.35, 1.5},
		month:      [12]float64{0.9, 0.9, 0.95, 1.0, 1.1, 1.05, 0.95, 0.95, 1.0, 1.0, 1.0, 1.2},
		hours:      hoursShop,
		refundBase: 0.01, anonShare: 0.05, anchorProb: 0.01, volBase: 0.08,
	},
	{
		name: "home_garden", weight: 0.10, ticketMajor: 90, ticketSigma: 0.8,
		weekday:    [7]float64{1.4, 0.8, 0.8, 0.85, 0.9, 1.05, 1.5},
		month:      [12]float64{0.7, 0.75, 1.05, 1.4, 1.45, 1.3, 1.1, 1.0, 0.95, 0.9, 0.8, 0.8},
		hours:      hoursShop,
		refundBase: 0.035, anonShare: 0.05, anchorProb: 0.06, volBase: 0.15,
	},
	{
		name: "wholesale", weight: 0.09, ticketMajor: 650, ticketSigma: 0.8,
		weekday:    [7]float64{0.1, 1.3, 1.3, 1.3, 1.3, 1.2, 0.2},
		month:      [12]float64{0.9, 0.95, 1.05, 1.0, 1.0, 1.0, 0.95, 0.9, 1.05, 1.1, 1.1, 0.85},
		hours:      hoursB2B,
		refundBase: 0.02, anonShare: 0, anchorProb: 0.45, volBase: 0.2,
	},
	{
		name: "travel_events", weight: 0.08, ticketMajor: 320, ticketSigma: 0.7,
		weekday:    [7]float64{0.9, 1.1, 1.05, 1.0, 1.0, 1.0, 0.95},
		month:      [12]float64{0.6, 0.65, 0.9, 1.0, 1.2, 1.55, 1.65, 1.5, 1.0, 0.85, 0.7, 1.2},
		hours:      hoursWeb,
		refundBase: 0.055, anonShare: 0.02, anchorProb: 0.08, volBase: 0.25,
	},
}

// categoryCDF is the cumulative weight of categories, for drawing one.
var categoryCDF = func() []float64 {
	cdf := make([]float64, len(categories))
	total := 0.0
	for _, c := range categories {
		total += c.weight
	}
	acc := 0.0
	for i, c := range categories {
		acc += c.weight / total
		cdf[i] = acc
	}
	cdf[len(cdf)-1] = 1
	return cdf
}()

// hourCDFs holds each category's cumulative hour-of-day distribution.
var hourCDFs = func() [][24]float64 {
	out := make([][24]float64, len(categories))
	for i, c := range categories {
		total := 0.0
		for _, h := range c.hours {
			total += h
		}
		acc := 0.0
		for h, w := range c.hours {
			acc += w / total
			out[i][h] = acc
		}
		out[i][23] = 1
	}
	return out
}()
