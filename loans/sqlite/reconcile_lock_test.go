package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/lendhq/lend/loans"
)

// lend reconcile runs against a live service: it must read one snapshot
// without taking the write lock, or the writer's group commits fail with
// "database is locked" for as long as it runs. Here another connection holds
// the write lock (BEGIN IMMEDIATE with a write in progress) and Reconcile must
// still answer, clean, within 5 s (the busy timeout is 30 s: a Reconcile that
// wants the write lock waits for it and then fails).
func TestReconcileDoesNotTakeTheWriteLock(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "loans.db"), loans.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	line(t, s, "m1", 1_000_000, "0.12")
	holder, err := s.DB().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	if _, err := holder.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	defer holder.ExecContext(context.Background(), "ROLLBACK")
	if _, err := holder.ExecContext(ctx, "UPDATE credit_lines SET limit_minor = limit_minor WHERE merchant_id = 'm1'"); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		rep, err := s.Reconcile(rctx)
		if err == nil && len(rep.Differences) > 0 {
			t.Errorf("differences: %v", rep.Differences)
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Reconcile while another connection holds the write lock: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Reconcile waited for the write lock (still waiting after 10 s)")
	}
}
