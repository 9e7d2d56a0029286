package main

import (
	"context"
	"log/slog"

	"github.com/lendhq/lend/api"
	"github.com/lendhq/lend/loans"
	loanssqlite "github.com/lendhq/lend/loans/sqlite"
	"github.com/lendhq/lend/realtime"
	rtsqlite "github.com/lendhq/lend/realtime/sqlite"
)

// openRealtime starts the real-time risk loop over the loans store's SQLite
// database (transactions are stored in the same file). It serves
// POST /v1/merchants/{id}/transactions and the draw risk rules. On
// PostgreSQL it is not available yet: nil, and the endpoint answers 501.
// The returned close releases it.
func openRealtime(ctx context.Context, ls loans.Store, engines realtime.EngineSource, logger *slog.Logger) (api.DrawRiskChecker, func(), error) {
	sq, ok := ls.(*loanssqlite.Store)
	if !ok {
		logger.Warn("real-time ingestion needs the SQLite store; POST /v1/merchants/{id}/transactions answers 501")
		return nil, func() {}, nil
	}
	st, err := rtsqlite.New(ctx, sq.DB())
	if err != nil {
		return nil, nil, err
	}
	svc, err := realtime.New(ctx, realtime.Config{Store: st, Loans: ls, Engines: engines, Logger: logger})
	if err != nil {
		return nil, nil, err
	}
	return svc, func() { svc.Close() }, nil
}
