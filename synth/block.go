package synth

import (
	"bytes"
	"compress/gzip"
	"io"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/apache/arrow-go/v18/parquet"
)

// block is the output of blockMerchants consecutive merchants: their
// transactions in column form (Parquet) or as a gzip member (CSV), their
// merchants.csv and outcomes.csv rows, and what the summary needs. Blocks are
// reused through a free list, so their slices keep their capacity.
type block struct {
	index  int
	lo, hi int  // merchant index range [lo, hi)
	cfgCSV bool // the run writes CSV (sizes the buffers)

	// Parquet columns, one entry per transaction (buyer only for non-null rows).
	mid      []parquet.ByteArray
	tsMicros []int64
	amtMinor []int64
	typ      []parquet.ByteArray
	buyer    []parquet.ByteArray
	buyerDef []int16
	cur      []parquet.ByteArray
	idArena  []byte  // merchant ids, 8 bytes each
	bArena   []byte  // buyer ids
	bOff     []int32 // end offsets into bArena of each buyer id

	csv      bytes.Buffer // CSV format: this block's rows as one gzip member
	csvText  []byte
	gz       *gzip.Writer
	merchRow []byte // merchants.csv rows
	outRow   []byte // outcomes.csv rows

	pd                        []float64
	bad                       []bool
	rows, sales, refunds, cbs int64
}

var typeBytes = [...]parquet.ByteArray{[]byte("sale"), []byte("refund"), []byte("chargeback")}

// riskLevel names the hidden risk percentile's band.
func riskLevel(risk01 float64) string {
	switch {
	case risk01 < 0.6:
		return "low"
	case risk01 < 0.9:
		return "medium"
	}
	return "high"
}

// gen fills b with merchants [b.lo, b.hi).
func (g *generator) gen(b *block, s *scratch) {
	cal, cfg := g.cal, g.cfg
	csvOut := cfg.Format == FormatCSV
	b.cfgCSV = csvOut
	b.mid, b.tsMicros, b.amtMinor, b.typ = b.mid[:0], b.tsMicros[:0], b.amtMinor[:0], b.typ[:0]
	b.buyer, b.buyerDef, b.cur = b.buyer[:0], b.buyerDef[:0], b.cur[:0]
	b.idArena, b.bArena, b.bOff = b.idArena[:0], b.bArena[:0], b.bOff[:0]
	b.csvText, b.merchRow, b.outRow = b.csvText[:0], b.merchRow[:0], b.outRow[:0]
	b.pd, b.bad = b.pd[:0], b.bad[:0]
	b.rows, b.sales, b.refunds, b.cbs = 0, 0, 0, 0
	if cap(b.idArena) < blockMerchants*8 {
		b.reserve()
	}
	curBytes := parquet.ByteArray(cfg.Currency)
	asOfText := cfg.AsOf.Format(time.DateOnly)

	for i := b.lo; i < b.hi; i++ {
		r := s.merchantRand(cfg.Seed, i)
		p := drawProfile(r, cal)
		simulate(r, &p, cal, s)
		o := observe(s.events, cal.asOf, s)
		pd := logistic(pdIntercept + behaviourScale*behaviourLogit(o) + hiddenLogitCoef*p.riskZ)
		bad := r.Float64() < pd
		defaultDay := math.MaxInt32
		if bad {
			defaultDay = cal.asOf + r.IntN(PerformanceWindowDays)
		}
		future := futureSales(r, &p, cal, defaultDay)

		start := len(b.idArena)
		b.idArena = append(b.idArena, MerchantID(i)...)
		id := b.idArena[start:len(b.idArena):len(b.idArena)]
		for _, e := range s.events {
			b.rows++
			switch e.typ {
			case typeSale:
				b.sales++
			case typeRefund:
				b.refunds++
			default:
				b.cbs++
			}
			if csvOut {
				b.csvText = appendCSVRow(b.csvText, id, e, cal, cfg.Currency)
				continue
			}
			b.mid = append(b.mid, id)
			b.tsMicros = append(b.tsMicros, e.ts*1_000_000)
			b.amtMinor = append(b.amtMinor, e.amt)
			b.typ = append(b.typ, typeBytes[e.typ])
			b.cur = append(b.cur, curBytes)
			if e.buyer < 0 {
				b.buyerDef = append(b.buyerDef, 0)
				continue
			}
			b.buyerDef = append(b.buyerDef, 1)
			b.bArena = appendBuyerID(b.bArena, id, e.buyer)
			b.bOff = append(b.bOff, int32(len(b.bArena)))
		}
		b.merchRow = appendMerchantRow(b.merchRow, id, &p, cal, cfg.Currency)
		b.outRow = append(b.outRow, id...)
		b.outRow = append(b.outRow, ',')
		b.outRow = append(b.outRow, asOfText...)
		b.outRow = append(b.outRow, ',')
		if bad {
			b.outRow = append(b.outRow, '1')
		} else {
			b.outRow = append(b.outRow, '0')
		}
		b.outRow = append(b.outRow, ',')
		b.outRow = strconv.AppendFloat(b.outRow, pd, 'f', 6, 64)
		b.outRow = append(b.outRow, ',')
		b.outRow = appendMinorAsMajor(b.outRow, future)
		b.outRow = append(b.outRow, '\n')
		b.pd = append(b.pd, pd)
		b.bad = append(b.bad, bad)
	}
	// Buyer ids point into bArena only now that it has stopped growing.
	prev := int32(0)
	for _, end := range b.bOff {
		b.buyer = append(b.buyer, b.bArena[prev:end:end])
		prev = end
	}
	if csvOut {
		_ = gzipBlock(b) // compressing into a bytes.Buffer cannot fail
	}
}

// newGzip returns a fast gzip writer. Its header carries no name and a zero
// modification time, so the bytes depend only on the data.
func newGzip(w io.Writer) (*gzip.Writer, error) { return gzip.NewWriterLevel(w, gzip.BestSpeed) }

// appendBuyerID appends a merchant-scoped buyer id: <merchant id>-<n>.
func appendBuyerID(dst, merchantID []byte, buyer int32) []byte {
	dst = append(dst, merchantID...)
	dst = append(dst, '-')
	return strconv.AppendInt(dst, int64(buyer), 10)
}

// appendMinorAsMajor writes a non-negative amount of minor units as a decimal with two places.
func appendMinorAsMajor(dst []byte, minor int64) []byte {
	dst = strconv.AppendInt(dst, minor/100, 10)
	c := minor % 100
	return append(dst, '.', byte('0'+c/10), byte('0'+c%10))
}

// appendCSVRow writes one transaction as merchant_id,ts,amount,type,buyer_id,currency.
func appendCSVRow(dst, id []byte, e event, cal *calendar, currency string) []byte {
	dst = append(dst, id...)
	dst = append(dst, ',')
	day := e.ts / secondsPerDay
	sec := e.ts - day*secondsPerDay
	dst = append(dst, cal.dateText[int(day)-cal.histStart]...)
	h, m, sc := sec/3600, sec/60%60, sec%60
	dst = append(dst, ' ', byte('0'+h/10), byte('0'+h%10), ':', byte('0'+m/10), byte('0'+m%10), ':', byte('0'+sc/10), byte('0'+sc%10), ',')
	dst = appendMinorAsMajor(dst, e.amt)
	dst = append(dst, ',')
	dst = append(dst, typeNames[e.typ]...)
	dst = append(dst, ',')
	if e.buyer >= 0 {
		dst = appendBuyerID(dst, id, e.buyer)
	}
	dst = append(dst, ',')
	dst = append(dst, currency...)
	return append(dst, '\n')
}

// merchantsHeader is the header of merchants.csv: the hidden and visible
// parameters each merchant was drawn with.
const merchantsHeader = "merchant_id,category,risk_level,risk_score,start_date,expected_sales_per_month,median_ticket,expected_monthly_sales,trend,trend_annual,volatility,refund_prob,chargeback_prob,buyer_pool,anchor_buyer_share,dormant_days,churn_date,distress_date,currency\n"

// outcomesHeader is the header of outcomes.csv (SPEC §2.3).
const outcomesHeader = "merchant_id,as_of,bad,true_pd,future_gmv_90d\n"

func dayText(d int) string {
	return time.Unix(int64(d)*secondsPerDay, 0).UTC().Format(time.DateOnly)
}

func appendMerchantRow(dst, id []byte, p *profile, cal *calendar, currency string) []byte {
	cat := &categories[p.cat]
	f := func(x float64, prec int) {
		dst = strconv.AppendFloat(dst, x, 'f', prec, 64)
		dst = append(dst, ',')
	}
	dst = append(dst, id...)
	dst = append(dst, ',')
	dst = append(dst, cat.name...)
	dst = append(dst, ',')
	dst = append(dst, riskLevel(p.risk01)...)
	dst = append(dst, ',')
	f(p.risk01, 4)
	dst = append(dst, dayText(p.startDay)...)
	dst = append(dst, ',')
	f(p.monthlySales, 3)
	median := math.Exp(p.ticketMu)
	f(median, 2)
	// Mean of a log-normal ticket is median·e^(σ²/2).
	f(p.monthlySales*median*math.Exp(cat.ticketSigma*cat.ticketSigma/2), 2)
	dst = append(dst, trendNames[p.trend]...)
	dst = append(dst, ',')
	f(p.trendAnnual, 4)
	f(p.vol, 4)
	f(p.refundProb, 5)
	f(p.cbProb, 5)
	dst = strconv.AppendInt(dst, int64(p.buyerPool), 10)
	dst = append(dst, ',')
	f(p.anchorShare, 4)
	dormant := 0
	for _, s := range p.dormant {
		dormant += s[1] - s[0]
	}
	dst = strconv.AppendInt(dst, int64(dormant), 10)
	dst = append(dst, ',')
	if p.churnDay != math.MaxInt32 {
		dst = append(dst, dayText(p.churnDay)...)
	}
	dst = append(dst, ',')
	if p.distressDay != math.MaxInt32 {
		dst = append(dst, dayText(p.distressDay)...)
	}
	dst = append(dst, ',')
	dst = append(dst, currency...)
	return append(dst, '\n')
}

// newScratch returns a worker's reusable per-merchant memory.
func newScratch() *scratch {
	s := &scratch{events: make([]event, 0, 1024)}
	s.rng = rand.New(&s.src)
	return s
}

// expectedRowsPerMerchant sizes a fresh block's buffers (the default mix
// averages about 100 transactions per merchant), so appends rarely grow them.
const expectedRowsPerMerchant = 120

// reserve gives a fresh block its working capacity.
func (b *block) reserve() {
	n := blockMerchants * expectedRowsPerMerchant
	b.idArena = make([]byte, 0, blockMerchants*8)
	if b.cfgCSV {
		b.csvText = make([]byte, 0, n*56)
	} else {
		b.mid = make([]parquet.ByteArray, 0, n)
		b.tsMicros = make([]int64, 0, n)
		b.amtMinor = make([]int64, 0, n)
		b.typ = make([]parquet.ByteArray, 0, n)
		b.cur = make([]parquet.ByteArray, 0, n)
		b.buyer = make([]parquet.ByteArray, 0, n)
		b.buyerDef = make([]int16, 0, n)
		b.bOff = make([]int32, 0, n)
		b.bArena = make([]byte, 0, n*12)
	}
	b.merchRow = make([]byte, 0, blockMerchants*160)
	b.outRow = make([]byte, 0, blockMerchants*48)
	b.pd = make([]float64, 0, blockMerchants)
	b.bad = make([]bool, 0, blockMerchants)
}
