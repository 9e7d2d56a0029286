package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"time"

	"github.com/lendhq/lend"
	"github.com/lendhq/lend/synth"
	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"
)

func init() { register(newGenCmd) }

// newGenCmd is `lend gen`: synthetic merchant histories and outcomes (SPEC §6).
func newGenCmd() *cobra.Command {
	var (
		merchants int
		months    int
		asOf      string
		seed      uint64
		format    string
		out       string
		asJSON    bool
	)
	cmd := &cobra.Command{
		Use:   "gen --merchants N --out DIR",
		Short: "Generate seeded synthetic merchant histories and outcomes",
		Long: `Generate realistic synthetic merchants: transactions (transactions.parquet, or
transactions.csv.gz with --format csv), merchants.csv (the hidden parameters each
merchant was drawn with) and outcomes.csv (merchant_id, as_of, bad, true_pd,
future_gmv_90d). Every transaction is strictly before --as-of; bad is a default in
the 365 days after it. Same flags and seed give byte-identical files.`,
		Example: "  lend gen --merchants 2000 --seed 11 --out data/synth",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("merchants") {
				return lend.FieldErrorf("merchants", "required (how many merchants to generate)")
			}
			if out == "" {
				return lend.FieldErrorf("out", "required (the output directory)")
			}
			day, err := synth.ParseAsOf(asOf)
			if err != nil {
				return err
			}
			if months <= 0 {
				return lend.FieldErrorf("months", "must be between 1 and %d, got %d", synth.MaxMonths, months)
			}
			cfg := synth.Config{Merchants: merchants, Months: months, AsOf: day, Seed: seed, Format: synth.Format(format)}
			// Progress only on a terminal: logs and pipes get the summary alone.
			stderr := cmd.ErrOrStderr()
			if f, ok := stderr.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
				last := time.Time{}
				cfg.Progress = func(done, total int) {
					if now := time.Now(); now.Sub(last) >= 200*time.Millisecond || done == total {
						last = now
						fmt.Fprintf(stderr, "\rlend gen: %d/%d merchants (%.0f%%)", done, total, 100*float64(done)/float64(total))
						if done == total {
							fmt.Fprintln(stderr)
						}
					}
				}
			}
			sum, err := synth.Generate(cmd.Context(), cfg, out)
			if err != nil {
				return err
			}
			if asJSON {
				type jsonSummary struct {
					synth.Summary
					OracleAUC *float64 `json:"oracle_auc"`
					ElapsedS  float64  `json:"elapsed_s"`
					Out       string   `json:"out"`
				}
				js := jsonSummary{Summary: sum, ElapsedS: math.Round(sum.Elapsed.Seconds()*1000) / 1000, Out: out}
				if !math.IsNaN(sum.OracleAUC) {
					js.OracleAUC = &sum.OracleAUC
				}
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(js)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "lend gen: %s\nwrote %v to %s in %s\n", sum, sum.Files, out, sum.Elapsed.Round(time.Millisecond))
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&merchants, "merchants", 0, fmt.Sprintf("number of merchants (1..%d, required)", synth.MaxMerchants))
	f.IntVar(&months, "months", synth.DefaultMonths, "months of history before --as-of")
	f.StringVar(&asOf, "as-of", synth.DefaultAsOf.Format(time.DateOnly), "as-of date YYYY-MM-DD: transactions are strictly before it")
	f.Uint64Var(&seed, "seed", synth.DefaultSeed, "random seed")
	f.StringVar(&format, "format", string(synth.FormatParquet), "transactions file format: parquet or csv")
	f.StringVar(&out, "out", "", "output directory (created if missing; required)")
	f.BoolVar(&asJSON, "json", false, "print the summary as JSON")
	return cmd
}
