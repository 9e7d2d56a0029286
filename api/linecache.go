package api

import (
	"context"
	"sync"

	"github.com/lendhq/lend"
	"github.com/lendhq/lend/loans"
)

// MaxCachedLines bounds the in-process credit-line cache (two generations;
// a few hundred bytes each).
const MaxCachedLines = 50_000

// maxLineAttempts is how many times a decision is taken on a line the store
// then finds changed before the last attempt goes without the check.
const maxLineAttempts = 3

// lineCache keeps the credit line each merchant's last decision was taken
// against, so a decision does not read the loans store for it: that read
// (a fresh read transaction whose page cache every commit invalidates) was
// about a tenth of a decision's CPU. Correctness does not rest on it: the
// application goes to the store with the line it was decided on
// (loans.Cmd.Line), and the store writes it only if that is still the
// stored line inside the writer's transaction — which also catches changes
// made by other processes sharing the database. When the line changed
// (loans.ErrLineChanged) the decision reads the line afresh and is taken
// again (decideAndStore).
type lineCache struct {
	mu sync.Mutex
	m  recent[string, loans.CreditLine]
}

func (lc *lineCache) get(merchantID string) (loans.CreditLine, bool) {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	return lc.m.get(merchantID)
}

func (lc *lineCache) put(l loans.CreditLine) {
	lc.mu.Lock()
	lc.m.put(l.MerchantID, l, MaxCachedLines)
	lc.mu.Unlock()
}

// drop forgets merchantID's line: this process just changed it (accept,
// draw, repayment), so the next decision reads it instead of being refused
// by the store first.
func (lc *lineCache) drop(merchantID string) {
	lc.mu.Lock()
	delete(lc.m.cur, merchantID)
	delete(lc.m.old, merchantID)
	lc.mu.Unlock()
}

// line returns merchantID's credit line: the cached one unless fresh, else
// read from the store (and cached). found is false when the merchant has no
// line (not cached: nothing in the store could check that it is still so).
func (s *Server) line(ctx context.Context, merchantID string, fresh bool) (l loans.CreditLine, found bool, err error) {
	if !fresh {
		if l, ok := s.lines.get(merchantID); ok {
			return l, true, nil
		}
	}
	l, err = s.cfg.Loans.CreditLine(ctx, merchantID)
	switch {
	case lend.ErrorCode(err) == lend.ENOTFOUND:
		s.lines.drop(merchantID)
		return l, false, nil
	case err != nil:
		return l, false, err
	}
	s.lines.put(l)
	return l, true, nil
}
