// Package pgtest gives tests a fresh PostgreSQL schema on the server named
// by $LEND_TEST_POSTGRES, dropped when the test ends, and skips the test
// with a clear message when the variable is unset.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvVar names the PostgreSQL URL tests read.
const EnvVar = "LEND_TEST_POSTGRES"

// SkipMessage is what a PostgreSQL test says when it is skipped.
const SkipMessage = "PostgreSQL tests skipped: LEND_TEST_POSTGRES not set"

// BaseURL returns $LEND_TEST_POSTGRES or skips t.
func BaseURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(EnvVar)
	if u == "" {
		t.Skip(SkipMessage)
	}
	return u
}

// SchemaURL creates a schema lend_t_<random> and returns a URL whose
// connections use it as their search_path (pgx passes unknown URL
// parameters to the server as run-time parameters), and the schema's name.
// The schema and everything in it is dropped at the end of the test.
func SchemaURL(t testing.TB) (string, string) {
	t.Helper()
	base := BaseURL(t)
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "lend_t_" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("PostgreSQL at %s: %v", EnvVar, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE SCHEMA `+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s: %v", EnvVar, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), schema
}
