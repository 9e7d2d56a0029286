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
	var batch int
	cmd := &cobra.Command{
		Use:   "refresh-limits [--features FILE | --tx PATH --as-of DATE] [--model FILE] [--json]",
		Short: "Nightly batch: score every merchant and refresh its credit line",
		Long: `Score every merchant of a features file (default DATA/features.parquet) with the
model (default: the active model of DATA/models, the one the API decides with;
DATA/model.json while none is active) and write each credit line through the loans
store: a frozen (delinquent) line stays frozen, a limit never drops below what
is drawn, an ineligible merchant's line is cut to what is drawn. With --tx the
feature pipeline runs on the transactions first, as of --as-of. Re-running for
the same as-of and model changes nothing.

An open line whose merchant is not in the features file is left as it is; the
summary counts those lines (not_refreshed with --json) and a WARNING on stderr
names the first 10 in id order. The exit status stays 0.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dsn := dbDSN(cmd)
			opt := pipeline.RefreshOptions{AsOf: asOf, BatchSize: batch}
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
				return err
			}
			// The warning goes to stderr in both modes (stdout stays the
			// summary, pure JSON with --json); the exit stays 0: the lines
			// that were scored are refreshed, and a partial file may be
			// intended.
			defer warnNotRefreshed(cmd.ErrOrStderr(), sum)
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(sum)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "refreshed %d merchants as of %s with model %s: %d new, %d raised, %d lowered, %d unchanged, %d frozen, %d declined; %d lines written; %d open lines not refreshed (merchant not in the features file)\n",
				sum.Merchants, sum.AsOf, sum.ModelID, sum.New, sum.Raised, sum.Lowered, sum.Unchanged, sum.Frozen, sum.Declined, sum.Written, sum.NotRefreshed)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&featPath, "features", "", "features file, Parquet or CSV (default DATA/features.parquet)")
	f.StringVar(&tx, "tx", "", "transactions (file or glob): compute features as of --as-of first")
	f.StringVar(&asOf, "as-of", "", "as-of date YYYY-MM-DD (default: the features file's as_of column)")
	f.StringVar(&modelPath, "model", "", "model artifact (default: the active model of DATA/models, else DATA/model.json)")
	f.IntVar(&batch, "batch", pipeline.DefaultRefreshBatch, fmt.Sprintf("credit lines per store transaction (1..%d)", pipeline.MaxRefreshBatch))
	f.BoolVar(&asJSON, "json", false, "print the summary as JSON")
	return cmd
}

// warnNotRefreshed tells the operator, when the features file missed
// merchants that have an open line, how many and which (the first few in id
// order): those lines keep an earlier night's limit, grade and as-of.
func warnNotRefreshed(w io.Writer, sum pipeline.RefreshSummary) {
	if sum.NotRefreshed == 0 {
		return
	}
	ids := sum.NotRefreshedIDs.List()
	which := strings.Join(ids, ", ")
	if sum.NotRefreshed > len(ids) {
		which = fmt.Sprintf("first %d in id order: %s", len(ids), which)
	}
	lines, were := "lines", "were"
	if sum.NotRefreshed == 1 {
		lines, were = "line", "was"
	}
	fmt.Fprintf(w, "WARNING: %d open credit %s (active or frozen) %s not refreshed: the merchant is not in the features file, so the line keeps the limit, grade and as-of of an earlier run (%s)\n",
		sum.NotRefreshed, lines, were, which)
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
