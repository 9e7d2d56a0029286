package scoring

import "github.com/lendhq/lend"

// Line statuses.
const (
	LineActive   = "active"   // can be drawn up to the limit
	LineFrozen   = "frozen"   // a delinquent loan: no new draws, limit kept
	LineDeclined = "declined" // the merchant no longer qualifies: limit cut to what is drawn
)

// Line changes counted by the nightly refresh.
const (
	ChangeNew       = "new"
	ChangeRaised    = "raised"
	ChangeLowered   = "lowered"
	ChangeUnchanged = "unchanged"
	ChangeFrozen    = "frozen"
	ChangeDeclined  = "declined"
)

// LineState is a merchant's credit line as the loans store keeps it.
type LineState struct {
	LimitMinor int64  `json:"limit_minor"`
	DrawnMinor int64  `json:"drawn_minor"`
	Status     string `json:"status"` // active, frozen or declined
}

// RefreshLine is the pure rule of the nightly limit refresh: from a merchant's
// current line (nil when it has none) and its new assessment, the new line and
// how it changed. Rules, in order:
//   - a frozen line stays frozen with its limit (only curing the delinquency,
//     in the loans lifecycle, unfreezes it); a delinquent merchant's active
//     line is frozen;
//   - an ineligible merchant's line is declined: its limit falls to what is
//     already drawn (money lent cannot be recalled by a limit), no line is
//     opened for a merchant without one;
//   - otherwise the limit becomes the assessed limit, never below what is drawn.
//
// The same inputs always give the same output, so re-running a refresh for the
// same as-of and model changes nothing.
func RefreshLine(prev *LineState, a *Assessment, delinquent bool) (next *LineState, change string, err error) {
	if a == nil {
		return nil, "", lend.Errorf(lend.EINVALID, "refresh: no assessment")
	}
	if prev != nil {
		if prev.LimitMinor < 0 || prev.DrawnMinor < 0 || prev.LimitMinor > MaxMoneyMinor || prev.DrawnMinor > MaxMoneyMinor {
			return nil, "", lend.FieldErrorf("line", "merchant %s: limit %d and drawn %d must be in 0..%d", a.MerchantID, prev.LimitMinor, prev.DrawnMinor, int64(MaxMoneyMinor))
		}
		switch prev.Status {
		case LineActive, LineFrozen, LineDeclined:
		default:
			return nil, "", lend.FieldErrorf("line.status", "merchant %s: unknown status %q", a.MerchantID, prev.Status)
		}
		if prev.Status == LineFrozen || delinquent {
			n := *prev
			n.Status = LineFrozen
			return &n, ChangeFrozen, nil
		}
	}
	if !a.Eligible || a.Line == nil {
		if prev == nil {
			return nil, ChangeDeclined, nil
		}
		return &LineState{LimitMinor: min(prev.LimitMinor, prev.DrawnMinor), DrawnMinor: prev.DrawnMinor, Status: LineDeclined}, ChangeDeclined, nil
	}
	if prev == nil {
		return &LineState{LimitMinor: a.Line.LimitMinor, Status: LineActive}, ChangeNew, nil
	}
	n := &LineState{LimitMinor: max(a.Line.LimitMinor, prev.DrawnMinor), DrawnMinor: prev.DrawnMinor, Status: LineActive}
	switch {
	case n.LimitMinor > prev.LimitMinor:
		change = ChangeRaised
	case n.LimitMinor < prev.LimitMinor:
		change = ChangeLowered
	case prev.Status == LineDeclined:
		change = ChangeRaised // reinstated at the same limit
	default:
		change = ChangeUnchanged
	}
	return n, change, nil
}
