package realtime

import (
	"context"
	"slices"
	"strconv"
	"time"

	"github.com/lendhq/lend"
	"github.com/lendhq/lend/features"
	"github.com/lendhq/lend/loans"
	"github.com/lendhq/lend/scoring"
)

// redecide re-assesses the merchant's line from its fresh features with the
// active model and applies it through the store's guard rails. A merchant
// without a credit line is left alone (lines are opened by the nightly
// refresh or an accepted application, never by a transaction feed).
func (s *Service) redecide(ctx context.Context, eng *scoring.Engine, res *IngestResult, row features.Row, now time.Time) error {
	line, err := s.cfg.Loans.CreditLine(ctx, res.MerchantID)
	if lend.ErrorCode(err) == lend.ENOTFOUND {
		return nil
	}
	if err != nil {
		return err
	}
	delinquent, err := s.delinquent(ctx, &line)
	if err != nil {
		return err
	}
	u, err := lineUpdate(eng, &line, &scoring.Features{Num: row.Num(), Str: map[string]string{}}, res.FeaturesAsOf, delinquent)
	if err != nil {
		return err
	}
	ch, err := s.cfg.Loans.ApplyLineDecision(ctx, loans.LineDecision{Line: u, Source: loans.SourceRealtime,
		MaxDailyIncreaseMinor: s.DailyIncreaseBound(line.LimitMinor), Now: now})
	if err != nil {
		return err
	}
	after, err := s.cfg.Loans.CreditLine(ctx, res.MerchantID)
	if err != nil {
		return err
	}
	res.CreditLine, res.Change = &after, &ch
	return nil
}

// DailyIncreaseBound is the automatic increase allowed in one day for a line
// whose limit is limitMinor: max(limit × DailyIncreaseBps / 10000, rounded
// down, MinDailyIncreaseMinor); 0 when DailyIncreaseBps is negative.
func (s *Service) DailyIncreaseBound(limitMinor int64) int64 {
	if s.cfg.DailyIncreaseBps < 0 {
		return 0
	}
	share := mulDivFloor(limitMinor, s.cfg.DailyIncreaseBps, 10_000)
	return min(max(share, s.cfg.MinDailyIncreaseMinor), loans.MaxAmountMinor)
}

// lineUpdate is the nightly refresh's rule (scoring.RefreshLine) applied to
// one merchant's fresh assessment: a frozen line stays frozen, an ineligible
// merchant's limit falls to what is drawn, otherwise the assessed limit.
// delinquent (from s.delinquent) is whether the merchant has a loan past due.
func lineUpdate(eng *scoring.Engine, prev *loans.CreditLine, f *scoring.Features, asOf string, delinquent bool) (loans.CreditLineUpdate, error) {
	var u loans.CreditLineUpdate
	mer := &scoring.Merchant{ID: prev.MerchantID, Features: f, ExposureMinor: prev.DrawnMinor, Delinquent: delinquent}
	st := string(prev.Status)
	if prev.Status == loans.LineClosed {
		st = scoring.LineDeclined
	}
	a, err := eng.Assess(mer, scoring.ProductCreditLine)
	if err != nil {
		return u, err
	}
	next, _, err := scoring.RefreshLine(&scoring.LineState{LimitMinor: prev.LimitMinor, DrawnMinor: prev.DrawnMinor, Status: st}, a, mer.Delinquent)
	if err != nil {
		return u, err
	}
	pd, err := strconv.ParseFloat(a.PD, 64)
	if err != nil {
		return u, lend.Errorf(lend.EINTERNAL, "pd %q: %v", a.PD, err)
	}
	u = loans.CreditLineUpdate{MerchantID: prev.MerchantID, Currency: prev.Currency, LimitMinor: next.LimitMinor, APR: prev.APR,
		Grade: a.Grade, Score: float64(a.Score), PD: pd, Reasons: reasonCodes(a), ModelID: eng.ModelID(), AsOf: asOf}
	if next.Status == scoring.LineActive && a.Pricing != nil {
		if u.APR, err = loans.ParseRate("apr", a.Pricing.APR); err != nil {
			return u, err
		}
	}
	return u, nil
}

// delinquent reports whether line's merchant is delinquent. A freeze for
// delinquency says so; a freeze for stale data says nothing either way
// (close of business does not re-freeze such a line when a loan falls past
// due), so the loans decide, by the predicate close of business freezes on,
// as the nightly refresh does.
func (s *Service) delinquent(ctx context.Context, line *loans.CreditLine) (bool, error) {
	if line.Status != loans.LineFrozen {
		return false, nil
	}
	if line.FrozenReason != loans.FrozenByStaleData {
		return true, nil
	}
	return loans.MerchantDelinquent(ctx, s.cfg.Loans, line.MerchantID)
}

// reasonCodes lists the policy reasons then the score's key factors, each once.
func reasonCodes(a *scoring.Assessment) []string {
	out := make([]string, 0, len(a.Reasons)+len(a.ScoreReasons))
	for _, rs := range [][]scoring.Reason{a.Reasons, a.ScoreReasons} {
		for _, r := range rs {
			if !slices.Contains(out, r.Code) {
				out = append(out, r.Code)
			}
		}
	}
	return out
}
