package loans

import (
	"testing"

	"github.com/lendhq/lend"
)

// TestReview59CheckDrawFrozenMessages: the 409 of a draw on a line that is
// not active. A frozen line with no reason (a line stored before reasons
// existed) or a reason this build does not know keeps the plain message,
// the reason in brackets when there is one; a closed line's message is the
// one before frozen reasons were added.
func TestReview59CheckDrawFrozenMessages(t *testing.T) {
	for _, c := range []struct {
		status LineStatus
		reason string
		want   string
	}{
		{LineFrozen, "", "credit line of merchant m1 is frozen"},
		{LineFrozen, "manual_review", "credit line of merchant m1 is frozen (manual_review)"},
		{LineClosed, "", "credit line of merchant m1 is closed"},
		{LineClosed, FrozenByStaleData, "credit line of merchant m1 is closed"},
	} {
		err := CheckDraw(CreditLine{MerchantID: "m1", Currency: "USD", Status: c.status, FrozenReason: c.reason, LimitMinor: 100, AvailableMinor: 100}, 10, "USD")
		if lend.ErrorCode(err) != lend.ECONFLICT || lend.ErrorMessage(err) != c.want {
			t.Errorf("%s/%q: %v (%s); want %s", c.status, c.reason, err, lend.ErrorCode(err), c.want)
		}
	}
}
