package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/lendhq/lend"
	"github.com/lendhq/lend/internal/pipeline"
	"github.com/lendhq/lend/scoring"
	"github.com/lendhq/lend/scoring/fsregistry"
	"github.com/spf13/cobra"
)

func init() { register(newRefreshCmd) }

// newRefreshCmd is the nightly limit refresh: score every merchant, write
// every credit line, print what changed.
func newRefreshCmd() *cobra.Command {
	var featPath, tx, asOf, modelPath string
	var asJSON bool
	var batch, staleDays int
	var staleShare float64
	cmd := &cobra.Command{
		Use:   "refresh-limits [--features FILE | --tx PATH --as-of DATE] [--model FILE] [--stale-after-days N] [--json]",
		Short: "Nightly batch: score every merchant and refresh its credit line",
		Long: `Score every merchant of a features file (default DATA/features.parquet) with the
model (default: the active model of DATA/models, the one the API decides with;
DATA/model.json while none is active) and write each credit line through the loans
store: a frozen (delinquent) line stays frozen, a limit never drops below what
is drawn, an ineligible merchant's line is cut to what is drawn. With --tx the
feature pipeline runs on the transactions first, as of --as-of. Re-running for
the same as-of and model changes nothing.

An open line whose merchant is not in the features file is not refreshed; the
summary counts those lines (not_refreshed with --json) and a WARNING on stderr
names the first 10 in id order. Among them, an active line whose as-of is more
than --stale-after-days days (default 3; 0 freezes at the first missed night)
before the run's is FROZEN for stale data (frozen_reason stale_data): limit and
drawn amount kept, no new draws (stale_frozen, with its own WARNING). A
stale-frozen merchant back in the features file is assessed and unfrozen
(unfrozen), unless delinquent: then its line stays frozen, for delinquency.
A run that would freeze more than --stale-max-share of the open lines (default
0.10, and always at least 10 lines) freezes none: that many merchants missing
at once is most likely an incomplete features file, not merchants going dark.
It says so in a WARNING (stale_withheld with --json); once the feed is checked,
re-run with --stale-max-share 1 to freeze them. The exit status stays 0.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if staleDays < 0 || staleDays > pipeline.MaxStaleAfterDays {
				return lend.FieldErrorf("stale-after-days", "must be between 0 and %d, got %d", pipeline.MaxStaleAfterDays, staleDays)
			}
			dsn := dbDSN(cmd)
			if !(staleShare > 0 && staleShare <= 1) {
				return lend.FieldErrorf("stale-max-share", "must be more than 0 and at most 1, got %v", staleShare)
			}
			opt := pipeline.RefreshOptions{AsOf: asOf, BatchSize: batch, StaleAfterDays: &staleDays, StaleMaxShare: staleShare}
			switch {
			case tx != "" && featPath != "":
				return lend.FieldErrorf("features", "give --features or --tx, not both")
			case tx != "":
				opt.Transactions = []string{tx}
			case featPath != "":
				opt.Features = featPath
			default:
				opt.Features = filepath.Join(dataDir(cmd), pipeline.FeaturesFile)
			}
			eng, err := refreshEngine(dataDir(cmd), modelPath)
			if err != nil {
				return err
			}
			st, err := openLoansStore(cmd.Context(), dsn)
			if err != nil {
				return err
			}
			defer st.Close()
			opt.Engine, opt.Store = eng, st
			sum, err := pipeline.RefreshLimits(cmd.Context(), opt)
			if err != nil {
				warnRefreshFailed(cmd.ErrOrStderr(), sum, staleDays)
				return err
			}
			// The warning goes to stderr in both modes (stdout stays the
			// summary, pure JSON with --json); the exit stays 0: the lines
			// that were scored are refreshed, and a partial file may be
			// intended.
			defer warnNotRefreshed(cmd.ErrOrStderr(), sum, staleDays)
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(sum)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "refreshed %d merchants as of %s with model %s: %d new, %d raised, %d lowered, %d unchanged, %d frozen, %d declined; %d lines written; %d stale-frozen lines unfrozen; %d open lines not refreshed (merchant not in the features file), of which %d frozen for stale data (as-of more than %d days old)\n",
				sum.Merchants, sum.AsOf, sum.ModelID, sum.New, sum.Raised, sum.Lowered, sum.Unchanged, sum.Frozen, sum.Declined, sum.Written,
				sum.Unfrozen, sum.NotRefreshed, sum.StaleFrozen, staleDays)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&featPath, "features", "", "features file, Parquet or CSV (default DATA/features.parquet)")
	f.StringVar(&tx, "tx", "", "transactions (file or glob): compute features as of --as-of first")
	f.StringVar(&asOf, "as-of", "", "as-of date YYYY-MM-DD (default: the features file's as_of column)")
	f.StringVar(&modelPath, "model", "", "model artifact (default: the active model of DATA/models, else DATA/model.json)")
	f.IntVar(&batch, "batch", pipeline.DefaultRefreshBatch, fmt.Sprintf("credit lines per store transaction (1..%d)", pipeline.MaxRefreshBatch))
	f.IntVar(&staleDays, "stale-after-days", pipeline.DefaultStaleAfterDays,
		fmt.Sprintf("freeze an active line missing from the features file whose as-of is more than N days old (0..%d)", pipeline.MaxStaleAfterDays))
	f.Float64Var(&staleShare, "stale-max-share", pipeline.DefaultStaleMaxShare,
		fmt.Sprintf("freeze none when more than this share of the open lines (and more than %d) would be frozen for stale data (0 < share <= 1; 1: no guard)", pipeline.StaleGuardFloor))
	f.BoolVar(&asJSON, "json", false, "print the summary as JSON")
	return cmd
}

// warnNotRefreshed tells the operator, when the features file missed
// merchants that have an open line, how many and which (the first few in id
// order): those lines keep an earlier night's limit, grade and as-of.
func warnNotRefreshed(w io.Writer, sum pipeline.RefreshSummary, staleDays int) {
	if sum.NotRefreshed == 0 {
		return
	}
	lines, were, which := countedIDs(sum.NotRefreshed, sum.NotRefreshedIDs)
	fmt.Fprintf(w, "WARNING: %d open credit %s (active or frozen) %s not refreshed: the merchant is not in the features file, so the line keeps the limit, grade and as-of of an earlier run (%s)\n",
		sum.NotRefreshed, lines, were, which)
	warnStaleFrozen(w, sum, staleDays)
	warnStaleWithheld(w, sum, staleDays)
}

// warnRefreshFailed warns, for a run that failed, of the stale-data freezes
// it wrote: they are written before the limits, so a limit batch failing
// afterwards leaves them, and a re-run would not count them again. The
// not-refreshed warning comes first: the FROZEN one says "of those".
func warnRefreshFailed(w io.Writer, sum pipeline.RefreshSummary, staleDays int) {
	if sum.StaleFrozen > 0 {
		warnNotRefreshed(w, sum, staleDays)
	}
}

// warnStaleWithheld tells the operator that the stale-data freezes were not
// made because there were too many of them for a real night's churn.
func warnStaleWithheld(w io.Writer, sum pipeline.RefreshSummary, staleDays int) {
	if sum.StaleWithheld == 0 {
		return
	}
	fmt.Fprintf(w, "WARNING: %d active credit lines have had no features for more than %d days, more than one run may freeze (%d, or --stale-max-share of the open lines if that is more): NONE was frozen. So many merchants missing at once usually means an incomplete features file; check the feed, then re-run with --stale-max-share 1 to freeze them\n",
		sum.StaleWithheld, staleDays, pipeline.StaleGuardFloor)
}

// warnStaleFrozen names, apart from the lines merely not refreshed, the lines
// this run froze for stale data: those merchants can no longer draw.
func warnStaleFrozen(w io.Writer, sum pipeline.RefreshSummary, staleDays int) {
	if sum.StaleFrozen == 0 {
		return
	}
	lines, were, which := countedIDs(sum.StaleFrozen, sum.StaleFrozenIDs)
	fmt.Fprintf(w, "WARNING: of those, %d credit %s %s FROZEN for stale data (frozen_reason stale_data): no features for more than %d days, so no new draws until the merchant is back in the features file (%s)\n",
		sum.StaleFrozen, lines, were, staleDays, which)
}

// countedIDs words a warning about n lines whose first ids are ids: "line"
// or "lines", "was" or "were", and the ids (said to be the first ones in id
// order when n is more than listed).
func countedIDs(n int, ids pipeline.MerchantIDs) (lines, were, which string) {
	list := ids.List()
	which = strings.Join(list, ", ")
	if n > len(list) {
		which = fmt.Sprintf("first %d in id order: %s", len(list), which)
	}
	if n == 1 {
		return "line", "was", which
	}
	return "lines", "were", which
}

// refreshEngine is the model the nightly refresh scores with: --model when
// given; otherwise the registry's active model (DATA/models: what the API
// decides with, including a model activated by POST /v1/models/{id}/activate),
// so the nightly limits and the real-time decisions never disagree on the
// model; DATA/model.json while no model is active.
func refreshEngine(data, modelPath string) (*scoring.Engine, error) {
	if modelPath != "" {
		return scoring.LoadEngine(modelPath, "")
	}
	dir := filepath.Join(data, "models")
	if _, err := os.Stat(dir); err == nil {
		reg, err := fsregistry.Open(dir)
		if err != nil {
			return nil, err
		}
		id, err := reg.ActiveID()
		if err != nil {
			return nil, err
		}
		if id != "" {
			return reg.Engine()
		}
	}
	return scoring.LoadEngine(filepath.Join(data, pipeline.ModelFile), "")
}
