// Package synth generates realistic, seeded, deterministic synthetic merchant
// histories and their credit outcomes (SPEC §6, `lend gen`).
//
// Every merchant is drawn from its own random stream, derived from (seed,
// merchant index), so the output does not depend on how many goroutines ran or
// in which order they finished: same Config, same bytes.
//
// The outcome model is built so a scorecard on the feature pipeline's features
// can recover most of what is knowable: the true PD is driven mainly by the
// behaviour realised in the written history (measured with the same
// definitions as the features package), and the hidden risk level acts mostly
// through that behaviour (decline, refunds, volatility, churn) plus a modest
// term no feature can see.
package synth

import (
	"fmt"
	"regexp"
	"time"

	"github.com/lendhq/lend"
)

// Limits and defaults of the generator.
const (
	// MaxMerchants bounds --merchants: merchant ids are m + 7 digits.
	MaxMerchants = 9_999_999
	// MaxMonths bounds --months (ten years of history).
	MaxMonths = 120
	// DefaultMonths is the default length of the history.
	DefaultMonths = 18
	// DefaultSeed is the default random seed.
	DefaultSeed = 1
	// DefaultCurrency is the ISO 4217 currency every merchant trades in.
	DefaultCurrency = "USD"
	// PerformanceWindowDays is the window after as-of in which a default counts as bad.
	PerformanceWindowDays = 365
	// FutureGMVDays is the window after as-of summed into future_gmv_90d.
	FutureGMVDays = 90
	// blockMerchants is how many merchants one worker generates at a time; each
	// block becomes one Parquet row group (about 200k rows at the default mix).
	// It is a constant, not a tuning knob, because the bytes must not depend on it varying.
	blockMerchants = 2048
)

// DefaultAsOf is the default as-of date: every transaction is strictly before it.
var DefaultAsOf = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Format is the transactions file format.
type Format string

// Transaction file formats.
const (
	FormatParquet Format = "parquet" // transactions.parquet
	FormatCSV     Format = "csv"     // transactions.csv.gz
)

// Config says what to generate. The zero value of optional fields means the default.
type Config struct {
	Merchants int       // number of merchants, 1..MaxMerchants
	Months    int       // history length in calendar months before AsOf (default 18)
	AsOf      time.Time // midnight UTC; transactions are strictly before it (default 2026-01-01)
	Seed      uint64    // random seed, used as given (the CLI defaults it to DefaultSeed)
	Format    Format    // parquet (default) or csv
	Currency  string    // ISO 4217 code (default USD)
	// Workers is how many goroutines generate merchants (default GOMAXPROCS).
	// It never changes the output.
	Workers int
	// Progress, when set, is called after each block is written with how many
	// merchants are done; the CLI uses it to draw progress on a terminal.
	Progress func(doneMerchants, totalMerchants int)
}

var currencyRE = regexp.MustCompile(`^[A-Z]{3}$`)

// withDefaults fills the defaults and validates; errors are *lend.Error naming the flag.
func (c Config) withDefaults() (Config, error) {
	if c.Merchants < 1 || c.Merchants > MaxMerchants {
		return c, lend.FieldErrorf("merchants", "must be between 1 and %d, got %d", MaxMerchants, c.Merchants)
	}
	if c.Months == 0 {
		c.Months = DefaultMonths
	}
	if c.Months < 1 || c.Months > MaxMonths {
		return c, lend.FieldErrorf("months", "must be between 1 and %d, got %d", MaxMonths, c.Months)
	}
	if c.AsOf.IsZero() {
		c.AsOf = DefaultAsOf
	}
	c.AsOf = c.AsOf.UTC()
	if c.AsOf != c.AsOf.Truncate(24*time.Hour) {
		return c, lend.FieldErrorf("as-of", "must be a date (midnight UTC), got %s", c.AsOf.Format(time.RFC3339))
	}
	if y := c.AsOf.Year(); y < 1990 || y > 2200 {
		return c, lend.FieldErrorf("as-of", "year must be between 1990 and 2200, got %d", y)
	}
	switch c.Format {
	case "":
		c.Format = FormatParquet
	case FormatParquet, FormatCSV:
	default:
		return c, lend.FieldErrorf("format", "must be parquet or csv, got %q", string(c.Format))
	}
	if c.Currency == "" {
		c.Currency = DefaultCurrency
	}
	if !currencyRE.MatchString(c.Currency) {
		return c, lend.FieldErrorf("currency", "must be a 3-letter ISO 4217 code, got %q", c.Currency)
	}
	if c.Workers < 0 {
		return c, lend.FieldErrorf("workers", "must be >= 0, got %d", c.Workers)
	}
	return c, nil
}

// ParseAsOf parses an as-of date given as YYYY-MM-DD (midnight UTC).
func ParseAsOf(s string) (time.Time, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, lend.FieldErrorf("as-of", "want a date YYYY-MM-DD, got %q", s)
	}
	return t, nil
}

// MerchantID returns the id of the merchant with 0-based index i: zero-padded
// so that sorting by id is sorting by index.
func MerchantID(i int) string { return fmt.Sprintf("m%07d", i+1) }
