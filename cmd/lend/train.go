package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/lendhq/lend"
	"github.com/lendhq/lend/scoring"
	"github.com/lendhq/lend/training"
	"github.com/spf13/cobra"
)

func init() { register(newTrainCmd) }

// newTrainCmd trains a scorecard and writes the model artifact (and a report).
func newTrainCmd() *cobra.Command {
	o := training.Defaults()
	var exclude, special, out, report, createdAt string
	cmd := &cobra.Command{
		Use:   "train --data FILE --target COL [--bad VALUE] --out MODEL.json",
		Short: "Train a scorecard on any tabular data set with a binary target",
		Long: `Train a WoE logistic scorecard: fine and coarse classing under a monotonic WoE
constraint, IV and correlation selection, logistic regression (gonum IRLS),
points scaling, PD calibration, train/test metrics. Reads CSV/TSV (delimiter
sniffed, gzip ok) or Parquet. Writes one deterministic JSON artifact.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return lend.FieldErrorf("out", "an output model path is required")
			}
			for _, e := range strings.Split(exclude, ",") {
				if e = strings.TrimSpace(e); e != "" {
					o.Exclude = append(o.Exclude, e)
				}
			}
			for _, s := range strings.Split(special, ",") {
				if s = strings.TrimSpace(s); s == "" {
					continue
				}
				f, err := strconv.ParseFloat(s, 64)
				if err != nil {
					return lend.FieldErrorf("special", "%q is not a number", s)
				}
				o.Special = append(o.Special, f)
			}
			t, err := createdTime(createdAt)
			if err != nil {
				return err
			}
			o.CreatedAt = t
			res, err := training.Train(cmd.Context(), o)
			if err != nil {
				return err
			}
			for _, w := range res.Warnings {
				fmt.Fprintln(cmd.ErrOrStderr(), "lend: warning: "+w)
			}
			if res.Tuning != nil {
				m := res.Model
				fmt.Fprintf(cmd.ErrOrStderr(), "lend: --tune auto chose max bins %s, min bin share %s, min IV %s, L2 %s (5-fold %s CV inside the training part over %d grid points)\n",
					training.OptionValue(m, "max_bins"), training.OptionValue(m, "min_bin_share"), training.OptionValue(m, "min_iv"), training.OptionValue(m, "l2"), cvKind(m), len(res.Tuning))
			}
			b, err := res.Model.Marshal()
			if err != nil {
				return err
			}
			if report != "" {
				html, err := training.Report(res)
				if err != nil {
					return err
				}
				if err := training.WriteFileAtomic(report, html); err != nil {
					return err
				}
			}
			if err := training.WriteFileAtomic(out, b); err != nil {
				return err
			}
			m := res.Model
			fmt.Fprintf(cmd.OutOrStdout(), "model %s: %d variables, train AUC %.4f, test AUC %.4f (95%% CI %.4f–%.4f), test KS %.4f -> %s\n",
				m.ID, len(m.Variables), m.Metrics.Train.AUC, m.Metrics.Test.AUC, m.Metrics.Test.AUCLow, m.Metrics.Test.AUCHigh, m.Metrics.Test.KS, out)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Data, "data", "", "training data: CSV/TSV (optionally .gz) or Parquet")
	f.StringVar(&o.Target, "target", "", "target column (binary)")
	f.StringVar(&o.Bad, "bad", "", "the target value meaning bad (default: 1 of a 0/1 target)")
	f.StringVar(&o.ID, "id", "", "identifier column (never a variable)")
	f.StringVar(&exclude, "exclude", "", "comma-separated columns to leave out")
	f.StringVar(&special, "special", "", "comma-separated special numeric codes with their own bins, e.g. -9,-8,-7")
	f.IntVar(&o.SkipRows, "skip-rows", -1, "lines before the header (-1: detect a second header line)")
	f.Float64Var(&o.TestFrac, "test-frac", o.TestFrac, "share of rows held out for testing (stratified, seeded)")
	f.StringVar(&o.SplitBy, "split-by", "", "out-of-time split: the latest --test-frac of this column form the test part")
	f.Uint64Var(&o.Seed, "seed", o.Seed, "random seed (split and bootstrap)")
	f.IntVar(&o.MaxBins, "max-bins", o.MaxBins, "maximum bins per variable (besides missing/special)")
	f.Float64Var(&o.MinBinShare, "min-bin-share", o.MinBinShare, "minimum share of training rows per bin")
	f.StringVar(&o.Monotonic, "monotonic", o.Monotonic, "WoE trend of numeric bins: auto, asc or desc")
	f.Float64Var(&o.MinIV, "min-iv", o.MinIV, "drop variables with information value below this")
	f.Float64Var(&o.MaxCorr, "max-corr", o.MaxCorr, "drop the weaker of two variables whose WoE correlation exceeds this")
	f.BoolVar(&o.Stepwise, "stepwise", false, "forward stepwise selection by AIC")
	f.Float64Var(&o.L2, "l2", 0, "L2 penalty of the logistic regression")
	f.Float64Var(&o.PDO, "pdo", o.PDO, "points to double the odds")
	f.Float64Var(&o.BaseScore, "base-score", o.BaseScore, "score at the base odds")
	f.Float64Var(&o.BaseOdds, "base-odds", o.BaseOdds, "good:bad odds at the base score")
	f.StringVar(&o.Calibration, "calibration", o.Calibration, "score-to-PD calibration: isotonic (fitted on the training part) or logistic (Platt, fitted on the test part)")
	f.StringVar(&o.Tune, "tune", o.Tune, "auto: choose --max-bins, --min-bin-share, --min-iv and --l2 left at their defaults by 5-fold cross-validation inside the training part (stratified; forward-chaining in time with --split-by; up to 50,000 training rows); off (the default): use them as given")
	f.StringVar(&o.CapacityTarget, "capacity-target", "", "numeric column (e.g. future_gmv_90d) for the repayment-capacity model")
	f.StringVar(&out, "out", "", "model artifact to write (JSON)")
	f.StringVar(&report, "report", "", "HTML report to write")
	f.StringVar(&createdAt, "created-at", "", "created_at stamp, RFC 3339 (default $SOURCE_DATE_EPOCH, else now)")
	return cmd
}

// createdTime resolves the artifact's created_at: the flag, then
// $SOURCE_DATE_EPOCH (reproducible builds), then now.
func createdTime(flag string) (time.Time, error) {
	if flag != "" {
		t, err := time.Parse(time.RFC3339, flag)
		if err != nil {
			return t, lend.FieldErrorf("created-at", "want RFC 3339 like 2025-01-31T00:00:00Z, got %q", flag)
		}
		return t, nil
	}
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		sec, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return time.Time{}, lend.Errorf(lend.EINVALID, "SOURCE_DATE_EPOCH=%q is not a Unix time", s)
		}
		return time.Unix(sec, 0).UTC(), nil
	}
	return time.Now().UTC().Truncate(time.Second), nil
}

// cvKind names the cross-validation --tune auto ran for model m.
func cvKind(m *scoring.Model) string {
	if training.OptionValue(m, "tune_folds") == "time" {
		return "forward-chaining (time-ordered)"
	}
	return "stratified"
}
