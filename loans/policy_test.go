package loans

import (
	"testing"
	"time"

	"github.com/lendhq/lend"
)

// TestPolicyIdempotencyRetention: zero takes the 30-day default; less than a
// day is refused naming the field; a longer retention is kept.
func TestPolicyIdempotencyRetention(t *testing.T) {
	for _, c := range []struct {
		in, want time.Duration
		field    string
	}{
		{0, 30 * 24 * time.Hour, ""},
		{90 * 24 * time.Hour, 90 * 24 * time.Hour, ""},
		{time.Hour, 0, "idempotency_retention"},
	} {
		p, err := Policy{IdempotencyRetention: c.in}.WithDefaults()
		if c.field != "" {
			if lend.ErrorCode(err) != lend.EINVALID || lend.ErrorField(err) != c.field {
				t.Errorf("retention %v: %v, want EINVALID on %s", c.in, err, c.field)
			}
			continue
		}
		if err != nil || p.IdempotencyRetention != c.want {
			t.Errorf("retention %v: %v, %v; want %v", c.in, p.IdempotencyRetention, err, c.want)
		}
	}
}

// TestCapDailyIncrease: the daily bound, rounded down to the policy's limit
// step, never lowering the current line (values worked by hand).
func TestCapDailyIncrease(t *testing.T) {
	for _, c := range []struct {
		name                                       string
		proposed, current, opening, maxDaily, step int64
		want                                       int64
		guard                                      string
	}{
		{"capped, rounded to the step", 200_000, 100_000, 100_000, 23_456, 10_000, 120_000, GuardDailyIncreaseCap},
		{"capped, no step", 200_000, 100_000, 100_000, 23_456, 0, 123_456, GuardDailyIncreaseCap},
		{"step 1 is exact", 200_000, 100_000, 100_000, 23_456, 1, 123_456, GuardDailyIncreaseCap},
		{"within the rounded bound", 115_000, 100_000, 100_000, 23_456, 10_000, 115_000, ""},
		{"within the raw bound, above the rounded one", 121_000, 100_000, 100_000, 23_456, 10_000, 120_000, GuardDailyIncreaseCap},
		{"never below the current line", 200_000, 125_000, 100_000, 23_456, 10_000, 125_000, GuardDailyIncreaseCap},
		{"no automatic increase", 200_000, 100_000, 100_000, 0, 10_000, 100_000, GuardDailyIncreaseCap},
	} {
		got, guard := CapDailyIncrease(c.proposed, c.current, c.opening, c.maxDaily, c.step)
		if got != c.want || guard != c.guard {
			t.Errorf("%s: %d %q, want %d %q", c.name, got, guard, c.want, c.guard)
		}
	}
}
