package main

import (
	"encoding/json"
	"fmt"

	"github.com/lendhq/lend"
	"github.com/lendhq/lend/scoring"
	"github.com/lendhq/lend/training"
	"github.com/spf13/cobra"
)

func init() { register(newEvaluateCmd) }

// newEvaluateCmd measures a model on new labelled data.
func newEvaluateCmd() *cobra.Command {
	var modelPath, data, target, bad string
	var skip int
	var seed uint64
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "evaluate --model MODEL --data FILE [--target COL] [--bad VALUE] [--json]",
		Short: "Measure a model on new labelled data (AUC, Gini, KS, Brier, log loss, PSI)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if modelPath == "" || data == "" {
				return lend.Errorf(lend.EINVALID, "--model and --data are required")
			}
			m, err := scoring.LoadFile(modelPath)
			if err != nil {
				return err
			}
			met, err := training.Evaluate(cmd.Context(), m, data, target, bad, skip, seed)
			if err != nil {
				return err
			}
			if asJSON {
				b, err := json.Marshal(met)
				if err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), string(b))
				return nil
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "model      %s\n", m.ID)
			fmt.Fprintf(w, "n          %d\nbad rate   %.4f\n", met.N, met.BadRate)
			fmt.Fprintf(w, "AUC        %.4f (95%% CI %.4f–%.4f)\nGini       %.4f\nKS         %.4f\n", met.AUC, met.AUCLow, met.AUCHigh, met.Gini, met.KS)
			fmt.Fprintf(w, "Brier      %.4f\nlog loss   %.4f\nHL         %.2f (p %.3f)\nPSI        %.4f\n", met.Brier, met.LogLoss, met.HLStat, met.HLP, met.PSI)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&modelPath, "model", "", "model artifact (JSON)")
	f.StringVar(&data, "data", "", "labelled data: CSV/TSV or Parquet")
	f.StringVar(&target, "target", "", "target column (default: the model's)")
	f.StringVar(&bad, "bad", "", "the target value meaning bad (default: as trained)")
	f.IntVar(&skip, "skip-rows", -1, "lines before the header (-1: as trained / detect)")
	f.Uint64Var(&seed, "seed", 42, "bootstrap seed")
	f.BoolVar(&asJSON, "json", false, "print the metrics as one JSON object")
	return cmd
}
