package main

import (
	"encoding/json"
	"fmt"

	"github.com/lendhq/lend"
	"github.com/lendhq/lend/features"
	"github.com/spf13/cobra"
)

func init() { register(newFeaturesCmd) }

// newFeaturesCmd wires `lend features` to features.Run.
func newFeaturesCmd() *cobra.Command {
	var (
		tx            []string
		asOf, out     string
		rejects       string
		maxRejectRate float64
		list, asJSON  bool
		threads       int
		memLimit      string
		currency      string
	)
	cmd := &cobra.Command{
		Use:   "features --tx PATH... --as-of DATE --out FILE [--rejects FILE]",
		Short: "Compute point-in-time merchant features from transaction files",
		Long: `Reads merchant transactions (CSV, gzipped CSV or Parquet; files or globs), rejects
invalid rows to a rejects CSV (source file, line, reason, raw row), and writes one
row per merchant with at least one sale before --as-of: merchant_id, as_of, then
every registry feature (see --list). Only transactions with ts < as-of count.
Amounts are in --currency (default USD, not read from the model: give the
active model's policy currency): a row whose currency column names another is
rejected; an empty one is --currency.
--out and --rejects must not be an input file, nor each other: a --tx glob that
matches an earlier run's output (or its default OUT.rejects.csv) is refused.
--out is .parquet, .csv, or .duckdb (table "features").`,
		Example: `  lend features --list
  lend features --tx 'data/tx-*.csv.gz' --as-of 2024-01-01 --out features.parquet --rejects rejects.csv`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if list {
				if asJSON {
					return featuresPrintJSON(cmd, features.Registry())
				}
				fmt.Fprint(cmd.OutOrStdout(), features.FormatList())
				return nil
			}
			paths := append(append([]string{}, tx...), args...)
			if len(paths) == 0 {
				return lend.FieldErrorf("tx", "at least one transaction file is required")
			}
			date, err := features.ParseAsOf(asOf)
			if err != nil {
				return err
			}
			cur, err := features.ParseCurrency("currency", currency)
			if err != nil {
				return err
			}
			rep, err := features.Run(cmd.Context(), features.Options{
				Paths: paths, AsOf: date, Out: out, Rejects: rejects,
				MaxRejectRate: maxRejectRate, Threads: threads, MemoryLimit: memLimit, Currency: cur,
			})
			if rep != nil {
				if asJSON {
					if jerr := featuresPrintJSON(cmd, rep); jerr != nil {
						return jerr
					}
				} else {
					w := cmd.ErrOrStderr()
					fmt.Fprintf(w, "read %d rows from %d file(s): %d accepted, %d rejected (%.3f%%)",
						rep.RowsIn, len(rep.Files), rep.Accepted, rep.Rejected, 100*rep.RejectRate())
					if rep.Blank > 0 {
						fmt.Fprintf(w, ", %d blank lines skipped", rep.Blank)
					}
					fmt.Fprintln(w)
					if rep.Rejects != "" {
						fmt.Fprintf(w, "rejects: %s\n", rep.Rejects)
					}
					if err == nil {
						fmt.Fprintf(w, "wrote %d merchants as of %s to %s\n", rep.Merchants, rep.AsOf, rep.Out)
					}
				}
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&tx, "tx", nil, "transaction file or glob (repeatable; CSV, .csv.gz or Parquet)")
	f.StringVar(&asOf, "as-of", "", "as-of date YYYY-MM-DD (midnight UTC); only transactions before it count")
	f.StringVar(&out, "out", "", "output file: .parquet, .csv or .duckdb (table features)")
	f.StringVar(&rejects, "rejects", "", "rejects CSV (default OUT.rejects.csv when there are rejects)")
	f.Float64Var(&maxRejectRate, "max-reject-rate", features.DefaultMaxRejectRate, "fail when rejected/rows exceeds this share")
	f.BoolVar(&list, "list", false, "print the feature registry and exit")
	f.BoolVar(&asJSON, "json", false, "print the run report (or --list) as JSON on stdout")
	f.IntVar(&threads, "threads", features.DefaultThreads, "DuckDB worker threads")
	f.StringVar(&currency, "currency", features.DefaultCurrency, "lending currency (ISO 4217); rows in another currency are rejected")
	f.StringVar(&memLimit, "memory-limit", features.DefaultMemoryLimit, "DuckDB memory limit (e.g. 4GB); spills to disk beyond")
	return cmd
}

// featuresPrintJSON writes v as indented JSON to stdout.
func featuresPrintJSON(cmd *cobra.Command, v any) error {
	enc := json.NewEncoder(cmd.OutOrStdout())
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
