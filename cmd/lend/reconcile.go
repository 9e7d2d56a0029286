package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
)

func init() { register(newReconcileCmd) }

// newReconcileCmd checks the ledger against the loan tables.
func newReconcileCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "reconcile",
		Short: "Recompute balances from the journal and compare with the loan tables (exit 1 on any difference)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := openLoansStore(cmd.Context(), dbDSN(cmd))
			if err != nil {
				return err
			}
			defer st.Close()
			rep, err := st.Reconcile(cmd.Context())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				if err := json.NewEncoder(out).Encode(rep); err != nil {
					return err
				}
			} else {
				for _, d := range rep.Differences {
					fmt.Fprintln(out, d)
				}
				fmt.Fprintf(out, "%d loans, %d journal entries, %d differences\n", rep.Loans, rep.Entries, len(rep.Differences))
			}
			if !rep.Clean() {
				return &exitError{code: 1, msg: fmt.Sprintf("reconcile found %d differences", len(rep.Differences))}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}
