package main

import (
	"strings"
	"testing"

	"github.com/lendhq/lend/internal/pipeline"
)

// TestReview59WarnRefreshFailed: a run whose limit batch failed after it
// froze m2 and m3 for stale data (3 open lines missed by the file: m2, m3,
// m4). The FROZEN warning begins "of those": printed alone it points at a
// not-refreshed warning that is not there. The operator must read first
// that 3 lines were not refreshed, then that 2 of them froze, naming them.
func TestReview59WarnRefreshFailed(t *testing.T) {
	sum := pipeline.RefreshSummary{NotRefreshed: 3, StaleFrozen: 2}
	sum.NotRefreshedIDs[0], sum.NotRefreshedIDs[1], sum.NotRefreshedIDs[2] = "m2", "m3", "m4"
	sum.StaleFrozenIDs[0], sum.StaleFrozenIDs[1] = "m2", "m3"
	var b strings.Builder
	warnRefreshFailed(&b, sum, 3)
	out := b.String()
	nr := strings.Index(out, "WARNING: 3 open credit lines (active or frozen) were not refreshed")
	fr := strings.Index(out, "WARNING: of those, 2 credit lines were FROZEN for stale data")
	if nr < 0 || fr < nr || !strings.Contains(out, "(m2, m3)") {
		t.Fatalf("warning after a failed run:\n%s\nwant the not-refreshed warning, then the FROZEN one naming m2, m3", out)
	}
	b.Reset()
	warnRefreshFailed(&b, pipeline.RefreshSummary{NotRefreshed: 3}, 3)
	if b.Len() != 0 {
		t.Errorf("a failed run that froze nothing warned: %q", b.String())
	}
}

// TestReview59WarnWithheldNamesFloor: 11 of 12 lines stale, share 0.10:
// 0.10 × 12 = 1.2, yet the guard was the floor, 10. The warning said only
// "more than --stale-max-share of the open lines allows", so an operator
// raising the share to 0.5 (6 lines) expected the freezes and got none
// again; it must name the floor.
func TestReview59WarnWithheldNamesFloor(t *testing.T) {
	var b strings.Builder
	warnStaleWithheld(&b, pipeline.RefreshSummary{NotRefreshed: 11, StaleWithheld: 11}, 3)
	if !strings.Contains(b.String(), "WARNING: 11 active credit lines") || !strings.Contains(b.String(), "(10, or --stale-max-share of the open lines if that is more)") {
		t.Errorf("withheld warning %q does not name the floor of 10", b.String())
	}
}
