package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/lendhq/lend/loans"
	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"
)

func init() { register(newEODCmd) }

// newEODCmd runs close of business.
func newEODCmd() *cobra.Command {
	var date string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "eod --date YYYY-MM-DD",
		Short: "Close of business: accrual, due dates, delinquency, penalties, charge-off, line freezes",
		Long: `Close every business day after the last closed one through --date, in order.
Each day is one transaction that records the day as closed, so running a date twice
changes nothing, skipped days are caught up, and a run killed midway resumes from the
first unclosed day without posting anything twice.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := loans.ParseDate("date", date)
			if err != nil {
				return err
			}
			st, err := openLoansStore(cmd.Context(), dbDSN(cmd))
			if err != nil {
				return err
			}
			defer st.Close()
			var progress func(loans.Date)
			if isatty.IsTerminal(os.Stderr.Fd()) {
				progress = func(d loans.Date) { fmt.Fprintf(os.Stderr, "\rclosed %s", d.Format(loans.DateLayout)) }
			}
			rep, err := st.CloseOfBusiness(cmd.Context(), d, progress)
			if progress != nil {
				fmt.Fprintln(os.Stderr)
			}
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(rep)
			}
			if rep.Days == 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "already closed through %s\n", rep.Through)
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "closed %s..%s (%d days): %d interest-due, %d accrual, %d penalty entries; %d statements; %d charge-offs; %d delinquent loans; lines frozen %d, unfrozen %d; %d idempotency keys expired\n",
				rep.From, rep.Through, rep.Days, rep.InterestDue, rep.Accruals, rep.Penalties, rep.Statements, rep.ChargeOffs, rep.Delinquent, rep.FrozenLines, rep.UnfrozenLines, rep.KeysExpired)
			return nil
		},
	}
	cmd.Flags().StringVar(&date, "date", "", "business date to close through (YYYY-MM-DD)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	_ = cmd.MarkFlagRequired("date")
	return cmd
}
