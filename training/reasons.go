package training

import (
	"crypto/sha256"
	"fmt"
	"strings"
)

// knownReason is a reason code and merchant-readable sentence for a feature of
// the merchant feature registry (issue 3). Codes are fixed forever: a code
// printed on an adverse-action notice must mean the same thing next year.
type knownReason struct{ code, text string }

var knownReasons = map[string]knownReason{
	"sales_amount_30d":       {"M01", "Your sales over the last 30 days are low."},
	"sales_amount_90d":       {"M02", "Your sales over the last 90 days are low."},
	"sales_amount_180d":      {"M03", "Your sales over the last 180 days are low."},
	"sales_amount_365d":      {"M04", "Your sales over the last 12 months are low."},
	"sales_count_30d":        {"M05", "You made few sales in the last 30 days."},
	"sales_count_90d":        {"M06", "You made few sales in the last 90 days."},
	"sales_count_365d":       {"M07", "You made few sales in the last 12 months."},
	"avg_ticket_90d":         {"M08", "Your average sale amount over the last 90 days."},
	"active_days_90d":        {"M09", "You had sales on few days in the last 90 days."},
	"refund_rate_90d":        {"M10", "A high share of your sales in the last 90 days was refunded or charged back."},
	"chargeback_count_180d":  {"M11", "You had chargebacks in the last 180 days."},
	"unique_buyers_90d":      {"M12", "You sold to few different customers in the last 90 days."},
	"repeat_buyer_share_90d": {"M13", "Few of your customers came back to buy again in the last 90 days."},
	"top_buyer_share_90d":    {"M14", "Your sales depend heavily on one customer."},
	"sales_growth_90d":       {"M15", "Your sales in the last 90 days fell compared with the 90 days before."},
	"tenure_days":            {"M16", "Your business has a short sales history with us."},
	"days_since_last_sale":   {"M17", "It has been a long time since your last sale."},
	"months_active_12m":      {"M18", "You had sales in few of the last 12 months."},
	"sales_cv_12m":           {"M19", "Your monthly sales vary a lot from month to month."},
	"sales_trend_12m":        {"M20", "Your monthly sales have been declining over the last 12 months."},
}

// reasonFor returns the stable reason code and text of a variable. Merchant
// features use the fixed registry above; any other column gets a code derived
// from a hash of its name ("X" + 5 hex digits), so the same column keeps the
// same code across retrainings, and a generic sentence naming it.
func reasonFor(name string) (code, text string) {
	if r, ok := knownReasons[name]; ok {
		return r.code, r.text
	}
	h := sha256.Sum256([]byte(name))
	code = strings.ToUpper(fmt.Sprintf("X%x", h[:3]))[:6]
	return code, fmt.Sprintf("Your value of %s is associated with higher risk.", humanName(name))
}

func humanName(name string) string {
	return "“" + strings.ReplaceAll(name, "_", " ") + "”"
}
