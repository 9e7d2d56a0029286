package main

import (
	"context"
	"strings"

	"github.com/lendhq/lend/auth"
	authpg "github.com/lendhq/lend/auth/postgres"
	authsqlite "github.com/lendhq/lend/auth/sqlite"
	"github.com/lendhq/lend/loans"
	loanspg "github.com/lendhq/lend/loans/postgres"
	loanssqlite "github.com/lendhq/lend/loans/sqlite"
)

// The database behind every command is dbDSN: a SQLite file path (the
// embedded default) or a postgres:// URL (several service processes sharing
// one server database). These helpers open the right store for either.

// isPostgres reports whether dsn names a PostgreSQL server.
func isPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// authStore is what serve and keys need of an auth store.
type authStore interface {
	auth.KeyStore
	auth.IdempotencyStore
	Ping(ctx context.Context) error
	Close() error
}

// keysPageSize is one page of `lend keys list`: the smaller of the two
// stores' page limits (both are 1,000 today).
const keysPageSize = min(authsqlite.MaxListKeys, authpg.MaxListKeys)

// openAuthStore opens (and migrates) the API key and idempotency store.
func openAuthStore(ctx context.Context, dsn string) (authStore, error) {
	if isPostgres(dsn) {
		return authpg.Open(ctx, dsn)
	}
	return authsqlite.Open(ctx, dsn)
}

// openLoansStore opens (and migrates) the loans store with the default policy.
func openLoansStore(ctx context.Context, dsn string) (loans.Store, error) {
	if isPostgres(dsn) {
		return loanspg.Open(ctx, dsn, loans.Policy{})
	}
	return loanssqlite.Open(dsn, loans.Policy{})
}
