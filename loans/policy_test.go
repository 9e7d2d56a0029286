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
