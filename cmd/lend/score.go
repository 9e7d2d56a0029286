package main

import (
	"bytes"
	"fmt"
	"io"

	"github.com/lendhq/lend"
	"github.com/lendhq/lend/scoring"
	"github.com/lendhq/lend/training"
	"github.com/spf13/cobra"
)

func init() { register(newScoreCmd) }

// newScoreCmd scores a file in batch: id, score, PD, grade, reason codes.
func newScoreCmd() *cobra.Command {
	var modelPath, data, out, id string
	var skip int
	cmd := &cobra.Command{
		Use:   "score --model MODEL --data FILE [--out FILE.csv] [--id COL]",
		Short: "Score a file: id, score, PD, grade and top reason codes (CSV)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if modelPath == "" || data == "" {
				return lend.Errorf(lend.EINVALID, "--model and --data are required")
			}
			m, err := scoring.LoadFile(modelPath)
			if err != nil {
				return err
			}
			var w io.Writer = cmd.OutOrStdout()
			var buf bytes.Buffer
			if out != "" {
				w = &buf
			}
			n, err := training.ScoreFile(cmd.Context(), m, data, id, skip, w)
			if err != nil {
				return err
			}
			if out != "" {
				if err := training.WriteFileAtomic(out, buf.Bytes()); err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "lend: scored %d rows with model %s -> %s\n", n, m.ID, out)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&modelPath, "model", "", "model artifact (JSON)")
	f.StringVar(&data, "data", "", "rows to score: CSV/TSV or Parquet")
	f.StringVar(&out, "out", "", "CSV to write (default stdout)")
	f.StringVar(&id, "id", "", "identifier column (default: the model's id column if present, else row number)")
	f.IntVar(&skip, "skip-rows", -1, "lines before the header (-1: as trained / detect)")
	return cmd
}
