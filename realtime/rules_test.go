package realtime

import (
	"math"
	"testing"
	"time"

	"github.com/lendhq/lend/loans"
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func row(ts, typ string, micro int64) StoredTx {
	return StoredTx{TS: ts, Type: typ, TSUs: at(ts).UnixMicro(), AmountMicro: micro}
}

// TestSignalsWindows: the recent week is (now − 7 d, now], the baseline the
// 8 weeks (now − 63 d, now − 7 d], rows after now unseen; worked by hand.
func TestSignalsWindows(t *testing.T) {
	now := at("2025-03-31T12:00:00Z")
	rows := []StoredTx{
		row("2025-03-31T12:00:00Z", "sale", 1_000_000),       // at now: recent
		row("2025-03-31T12:00:01Z", "sale", 99_000_000),      // after now: unseen
		row("2025-03-24T12:00:00Z", "sale", 2_000_000),       // exactly now − 7 d: baseline
		row("2025-03-24T12:00:01Z", "refund", 3_000_000),     // recent
		row("2025-03-30T00:00:00Z", "chargeback", 4_000_000), // recent
		row("2025-01-27T12:00:01Z", "sale", 14_000_000),      // just inside the baseline
		row("2025-01-27T12:00:00Z", "sale", 77_000_000),      // now − 63 d: outside
		row("2025-02-10T00:00:00Z", "refund", 5_000_000),     // baseline refunds are not counted
	}
	got := signalsOf(now, rows[:4], rows[4:])
	want := Signals{At: now, RecentSalesMicro: 1_000_000, RecentRefundsMicro: 7_000_000, PriorWeeklyMicro: (2_000_000 + 14_000_000) / 8}
	if got != want {
		t.Fatalf("signals %+v, want %+v", got, want)
	}
}

// TestRulesCheck: thresholds at their edges, with the default rules
// (spike ≥ 25 % and ≥ 50.00; collapse < 30 % of a baseline ≥ 100.00 a week).
func TestRulesCheck(t *testing.T) {
	r := DefaultRules()
	for _, c := range []struct {
		name                  string
		sales, refunds, prior int64 // major units
		want                  string
	}{
		{"healthy", 800, 10, 840, ""},
		{"refunds exactly 25 %", 400, 100, 840, ReasonRefundSpike},
		{"refunds just under 25 %", 401, 100, 840, ""},
		{"spike too small to count", 100, 49, 200, ""},
		{"refunds without sales", 0, 50, 0, ReasonRefundSpike},
		{"sales exactly 30 % of baseline", 300, 0, 1000, ""},
		{"sales just under 30 %", 299, 0, 1000, ReasonSalesCollapse},
		{"no baseline, no collapse", 0, 0, 99, ""},
		{"baseline at the minimum", 0, 0, 100, ReasonSalesCollapse},
		{"spike wins over collapse", 10, 60, 1000, ReasonRefundSpike},
	} {
		code, _ := r.Check(Signals{RecentSalesMicro: c.sales * 1e6, RecentRefundsMicro: c.refunds * 1e6, PriorWeeklyMicro: c.prior * 1e6})
		if code != c.want {
			t.Errorf("%s: %q, want %q", c.name, code, c.want)
		}
	}
	// Amounts near the int64 limit compare exactly (no overflow).
	if code, _ := r.Check(Signals{RecentSalesMicro: math.MaxInt64 / 3, RecentRefundsMicro: math.MaxInt64 / 4, PriorWeeklyMicro: 0}); code != ReasonRefundSpike {
		t.Errorf("huge amounts: %q", code)
	}
}

// TestDailyIncreaseBound: max(limit × bps / 10000 rounded down, min).
func TestDailyIncreaseBound(t *testing.T) {
	s := &Service{cfg: Config{DailyIncreaseBps: 2000, MinDailyIncreaseMinor: 50_000}}
	for _, c := range []struct{ limit, want int64 }{
		{0, 50_000}, {250_000, 50_000}, {250_005, 50_001}, {1_000_000, 200_000}, {math.MaxInt64, loans.MaxAmountMinor},
	} {
		if got := s.DailyIncreaseBound(c.limit); got != c.want {
			t.Errorf("bound(%d) = %d, want %d", c.limit, got, c.want)
		}
	}
	s.cfg.DailyIncreaseBps = -1
	if got := s.DailyIncreaseBound(1_000_000); got != 0 {
		t.Errorf("no automatic increase: %d", got)
	}
}
