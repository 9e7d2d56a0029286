package pipeline

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/lendhq/lend"
	"github.com/lendhq/lend/loans"
)

// TestStaleFreezeGuard, worked by hand: night 1 (2024-01-01) opens 12
// lines, m01..m12. On 2024-01-05 (4 days, more than the default 3) the file
// carries m01 only, so 11 lines are stale. The guard allows
// max(StaleGuardFloor 10, floor(0.10 × 12 open lines) = 1) = 10 freezes:
// 11 > 10, so none is frozen, stale_withheld is 11, and m01's limit is still
// refreshed. With StaleMaxShare 1 (the operator checked the feed) the same
// run freezes all 11. A file that carries m01 and m02 leaves 10 stale, not
// more than 10: they are frozen without the override.
func TestStaleFreezeGuard(t *testing.T) {
	ids := make([]string, 12)
	rows := []string{review46Head}
	for i := range ids {
		ids[i] = fmt.Sprintf("m%02d", i+1)
		rows = append(rows, review46Row(ids[i], "400"))
	}
	all := review46File(t, "all.csv", rows...)
	one := review46File(t, "one.csv", review46Head, review46Row("m01", "400"))
	two := review46File(t, "two.csv", review46Head, review46Row("m01", "400"), review46Row("m02", "400"))
	run := func(st loans.Store, file, asOf string, share float64) RefreshSummary {
		t.Helper()
		sum, err := RefreshLimits(context.Background(), RefreshOptions{Features: file, AsOf: asOf, Engine: review46Engine(t), Store: st, StaleMaxShare: share})
		if err != nil {
			t.Fatal(err)
		}
		return sum
	}
	countFrozen := func(st loans.Store) int {
		n := 0
		for _, id := range ids {
			if review54Line(t, st, id).Status == loans.LineFrozen {
				n++
			}
		}
		return n
	}

	st := openStore(t)
	if s := run(st, all, "2024-01-01", 0); s.New != 12 {
		t.Fatalf("night 1: %+v", s)
	}
	s := run(st, one, "2024-01-05", 0)
	if s.StaleWithheld != 11 || s.StaleFrozen != 0 || s.NotRefreshed != 11 || s.Merchants != 1 || countFrozen(st) != 0 {
		t.Fatalf("11 of 12 stale: %+v, %d frozen; want 11 withheld, none frozen", s, countFrozen(st))
	}
	if l := review54Line(t, st, "m01"); l.AsOf != "2024-01-05" {
		t.Fatalf("m01 not refreshed while the freezes were withheld: as-of %s", l.AsOf)
	}
	s = run(st, one, "2024-01-05", 1)
	if s.StaleWithheld != 0 || s.StaleFrozen != 11 || countFrozen(st) != 11 {
		t.Fatalf("with share 1: %+v, %d frozen; want 11 frozen", s, countFrozen(st))
	}

	st2 := openStore(t)
	run(st2, all, "2024-01-01", 0)
	s = run(st2, two, "2024-01-05", 0)
	if s.StaleWithheld != 0 || s.StaleFrozen != 10 || countFrozen(st2) != 10 {
		t.Fatalf("10 of 12 stale: %+v; want all 10 frozen (not more than the floor)", s)
	}
}

// TestStaleMaxShareRange: a share outside (0, 1] (NaN included; 0 is the
// default) is refused naming the option, before anything is read.
func TestStaleMaxShareRange(t *testing.T) {
	for _, share := range []float64{-0.1, 1.5, math.NaN()} {
		_, err := RefreshLimits(context.Background(), RefreshOptions{Features: "unused.csv", AsOf: "2024-01-01", Engine: review46Engine(t), Store: openStore(t), StaleMaxShare: share})
		if lend.ErrorCode(err) != lend.EINVALID || lend.ErrorField(err) != "stale-max-share" {
			t.Errorf("share %v: %v; want EINVALID on stale-max-share", share, err)
		}
	}
}
