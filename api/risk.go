package api

import "context"

// DrawRiskChecker vets new credit (an application or a draw) against
// real-time risk rules before it is decided. An error refuses the request and
// is rendered like any other (*lend.Error with its code).
type DrawRiskChecker interface {
	CheckDraw(ctx context.Context, merchantID string, amountMinor int64) error
}

// checkDrawRisk runs Config.Risk on a new application or draw; without a
// checker every request passes. A retry of a command this process has
// completed is not checked again: the store replays the stored result, which
// must not be refused because the first one changed the merchant's risk.
func (s *Server) checkDrawRisk(ctx context.Context, merchantID string, amountMinor int64) error {
	if s.cfg.Risk == nil || knownReplayFor(ctx, merchantID) {
		return nil
	}
	return s.cfg.Risk.CheckDraw(ctx, merchantID, amountMinor)
}
