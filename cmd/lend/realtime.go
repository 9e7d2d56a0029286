package main

import (
	"context"
	"log/slog"

	"github.com/lendhq/lend/api"
	"github.com/lendhq/lend/loans"
	loanspg "github.com/lendhq/lend/loans/postgres"
	loanssqlite "github.com/lendhq/lend/loans/sqlite"
	"github.com/lendhq/lend/realtime"
	rtpg "github.com/lendhq/lend/realtime/postgres"
	rtsqlite "github.com/lendhq/lend/realtime/sqlite"
)

// openRealtime starts the real-time risk loop over the loans store's
// database: transactions are stored in the same SQLite file, or in the same
// PostgreSQL database through the loans store's pool (one pool per process,
// sized once; every `lend serve` on the database sees every batch). It
// serves POST /v1/merchants/{id}/transactions and the draw risk rules. A
// loans store with no real-time store beside it gets nil, and the endpoint
// answers 501. The returned close releases it (the pool stays the loans
// store's).
func openRealtime(ctx context.Context, ls loans.Store, engines realtime.EngineSource, logger *slog.Logger) (api.DrawRiskChecker, func(), error) {
	st, err := realtimeStoreFor(ctx, ls)
	if err != nil {
		return nil, nil, err
	}
	if st == nil {
		logger.Warn("real-time ingestion needs the SQLite or PostgreSQL store; POST /v1/merchants/{id}/transactions answers 501")
		return nil, func() {}, nil
	}
	svc, err := realtime.New(ctx, realtime.Config{Store: st, Loans: ls, Engines: engines, Logger: logger})
	if err != nil {
		closeRealtimeStore(st)
		return nil, nil, err
	}
	return svc, func() {
		svc.Close()
		closeRealtimeStore(st)
	}, nil
}

// realtimeStoreFor returns the real-time store beside the loans store ls (the
// same SQLite file, or the same PostgreSQL pool), or nil for another store.
func realtimeStoreFor(ctx context.Context, ls loans.Store) (realtime.Store, error) {
	switch s := ls.(type) {
	case *loanssqlite.Store:
		return rtsqlite.New(ctx, s.DB())
	case *loanspg.Store:
		return rtpg.New(ctx, s.Pool())
	}
	return nil, nil
}

// closeRealtimeStore releases what st holds of its own (prepared
// statements); the database is the loans store's.
func closeRealtimeStore(st realtime.Store) {
	if c, ok := st.(interface{ Close() error }); ok {
		c.Close()
	}
}
