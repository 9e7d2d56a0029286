package realtime

import (
	"context"
	"math"
	"math/bits"
	"sync"
	"time"

	"github.com/lendhq/lend"
)

// Risk rule reason codes: stable, returned in the refusal's field as
// "risk.<code>".
const (
	ReasonRefundSpike   = "refund_spike"
	ReasonSalesCollapse = "sales_collapse"
)

// Signal windows, measured back from the moment of the check.
const (
	RecentDays = 7 // the recent week
	PriorWeeks = 8 // the baseline: the 8 weeks before the recent week
	windowDays = RecentDays + 7*PriorWeeks
)

// MaxCachedMerchants bounds the signal cache.
const MaxCachedMerchants = 100_000

// Rules are the real-time risk rules a new application or draw must pass.
// Ratios are basis points and amounts millionths of a major unit, so no
// float decides.
type Rules struct {
	// RefundSpikeBps: refunds plus chargebacks of the recent week at or above
	// this share of the week's sales decline (default 2500 = 25 %; a week with
	// refunds and no sales is a spike).
	RefundSpikeBps int64
	// MinRefundMicro: a spike needs at least this much refunded in the week
	// (default 50 major units), so one small refund is not a spike.
	MinRefundMicro int64
	// SalesCollapseBps: recent-week sales below this share of the prior 8
	// weeks' weekly average decline (default 3000 = 30 %).
	SalesCollapseBps int64
	// MinPriorWeeklyMicro: the collapse rule needs a prior weekly average of
	// at least this (default 100 major units): no baseline, no collapse.
	MinPriorWeeklyMicro int64
	// CacheTTL is how long the signals computed at an ingest answer a check
	// (default 15 minutes); older ones are recomputed from stored rows.
	CacheTTL time.Duration
}

// DefaultRules returns the documented defaults (docs/POLICY.md).
func DefaultRules() Rules {
	return Rules{RefundSpikeBps: 2500, MinRefundMicro: 50_000_000, SalesCollapseBps: 3000,
		MinPriorWeeklyMicro: 100_000_000, CacheTTL: 15 * time.Minute}
}

func (r Rules) validate() error {
	switch {
	case r.RefundSpikeBps <= 0:
		return lend.FieldErrorf("refund_spike_bps", "must be > 0")
	case r.SalesCollapseBps < 0 || r.SalesCollapseBps > 10_000:
		return lend.FieldErrorf("sales_collapse_bps", "must be between 0 and 10000")
	case r.MinRefundMicro < 0 || r.MinPriorWeeklyMicro < 0:
		return lend.FieldErrorf("rules", "minimum amounts must be >= 0")
	case r.CacheTTL < 0:
		return lend.FieldErrorf("cache_ttl", "must be >= 0")
	}
	return nil
}

// Signals are a merchant's recent-activity figures at one moment: what the
// risk rules read.
type Signals struct {
	At                 time.Time `json:"at"`
	RecentSalesMicro   int64     `json:"recent_sales_micro"`       // sales in (At − 7 days, At]
	RecentRefundsMicro int64     `json:"recent_refunds_micro"`     // refunds + chargebacks in the same week
	PriorWeeklyMicro   int64     `json:"prior_weekly_sales_micro"` // sales in (At − 63 days, At − 7 days] / 8, rounded down
}

// signalsOf computes the signals at now over stored rows (any order); rows
// after now are not yet seen.
func signalsOf(now time.Time, parts ...[]StoredTx) Signals {
	nowUs := now.UnixMicro()
	recentFrom := nowUs - RecentDays*86_400_000_000
	priorFrom := nowUs - windowDays*86_400_000_000
	var prior int64
	sig := Signals{At: now}
	for _, rows := range parts {
		for _, r := range rows {
			if r.TSUs > nowUs || r.TSUs <= priorFrom {
				continue
			}
			recent := r.TSUs > recentFrom
			switch {
			case r.Type == "sale" && recent:
				sig.RecentSalesMicro = satAdd(sig.RecentSalesMicro, r.AmountMicro)
			case r.Type == "sale":
				prior = satAdd(prior, r.AmountMicro)
			case recent: // refund or chargeback
				sig.RecentRefundsMicro = satAdd(sig.RecentRefundsMicro, r.AmountMicro)
			}
		}
	}
	sig.PriorWeeklyMicro = prior / PriorWeeks
	return sig
}

// Check applies the rules to sig: nil, or the reason code and a sentence.
func (r Rules) Check(sig Signals) (code, why string) {
	if sig.RecentRefundsMicro > 0 && sig.RecentRefundsMicro >= r.MinRefundMicro &&
		!lessScaled(sig.RecentRefundsMicro, 10_000, sig.RecentSalesMicro, r.RefundSpikeBps) {
		return ReasonRefundSpike, "refunds and chargebacks of the last 7 days are a spike against that week's sales"
	}
	if sig.PriorWeeklyMicro > 0 && sig.PriorWeeklyMicro >= r.MinPriorWeeklyMicro &&
		lessScaled(sig.RecentSalesMicro, 10_000, sig.PriorWeeklyMicro, r.SalesCollapseBps) {
		return ReasonSalesCollapse, "sales of the last 7 days collapsed against the weekly average of the 8 weeks before"
	}
	return "", ""
}

// CheckDraw implements api.DrawRiskChecker: it re-checks the merchant's
// freshest signals (cached from its last ingest, recomputed from stored
// transactions when older than CacheTTL) and refuses new credit with
// EUNPROCESSABLE and field "risk.<reason code>" when a rule fires. A merchant
// without stored transactions passes (no real-time data, nothing to flag).
func (s *Service) CheckDraw(ctx context.Context, merchantID string, amountMinor int64) error {
	now := s.cfg.Now().UTC()
	sig, ok := s.cache.get(merchantID)
	if !ok || now.Sub(sig.At) > s.rules.CacheTTL || now.Before(sig.At) {
		rows, err := s.cfg.Store.History(ctx, merchantID, now.AddDate(0, 0, -windowDays))
		if err != nil {
			return err
		}
		sig = signalsOf(now, rows)
		s.cache.put(merchantID, sig)
	}
	if code, why := s.rules.Check(sig); code != "" {
		return &lend.Error{Code: lend.EUNPROCESSABLE, Field: "risk." + code, Message: "declined by real-time risk rule " + code + ": " + why}
	}
	return nil
}

// lessScaled reports a×x < b×y for non-negative operands, exactly (128-bit).
func lessScaled(a, x, b, y int64) bool {
	h1, l1 := bits.Mul64(uint64(a), uint64(x))
	h2, l2 := bits.Mul64(uint64(b), uint64(y))
	return h1 < h2 || (h1 == h2 && l1 < l2)
}

// mulDivFloor is a×b/c rounded down for non-negative operands, saturated.
func mulDivFloor(a, b, c int64) int64 {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	if hi >= uint64(c) {
		return math.MaxInt64
	}
	q, _ := bits.Div64(hi, lo, uint64(c))
	if q > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(q)
}

// satAdd adds non-negative amounts, saturating at MaxInt64.
func satAdd(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// signalCache holds each merchant's last signals, bounded.
type signalCache struct {
	mu  sync.Mutex
	max int
	m   map[string]Signals
}

func (c *signalCache) init(max int) { c.max, c.m = max, make(map[string]Signals) }

func (c *signalCache) get(id string) (Signals, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.m[id]
	return s, ok
}

func (c *signalCache) put(id string, s Signals) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[id]; !ok && len(c.m) >= c.max {
		for k := range c.m { // full: forget about half, arbitrarily
			delete(c.m, k)
			if len(c.m) < c.max/2 {
				break
			}
		}
	}
	c.m[id] = s
}
