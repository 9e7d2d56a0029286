package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/lendhq/lend/loans"
	"github.com/spf13/cobra"
)

func init() { register(newScheduleCmd) }

// newScheduleCmd prints a repayment schedule.
func newScheduleCmd() *cobra.Command {
	var principal, rate, method, start, dayCount, frequency string
	var term, everyDays int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "schedule",
		Short: "Print a repayment schedule",
		Long: `Print the repayment schedule of a term loan.

Convention: --rate is the ANNUAL nominal rate as a decimal fraction (0.24 = 24%).
Monthly periods use 30/360 by default: each period's interest is balance × rate / 12,
whatever the month's length; --day-count act/365 uses actual days / 365 instead.
Weekly and every-N-days periods use N/360 (30/360) or N/365 (act/365).
Each installment's interest is rounded half-even to the cent; annuity installments
are the level payment rounded half-even; the last installment absorbs the rounding
residue so principal sums exactly to the amount lent. Due dates fall one period
apart from --start (month ends clamp: 31 Jan -> 28/29 Feb).`,
		Example: `  lend schedule --principal 12000 --rate 0.24 --term 4 --method annuity --start 2011-09-20`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := loans.ParseMinor("principal", principal)
			if err != nil {
				return err
			}
			r, err := loans.ParseRate("rate", rate)
			if err != nil {
				return err
			}
			st, err := loans.ParseDate("start", start)
			if err != nil {
				return err
			}
			s, err := loans.BuildSchedule(loans.Terms{PrincipalMinor: p, Rate: r, Periods: term, Method: loans.Method(method),
				Frequency: loans.Frequency(frequency), EveryDays: everyDays, DayCount: loans.DayCount(dayCount), Start: st})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(s)
			}
			tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintln(tw, "#\tdue date\tinstallment\tprincipal\tinterest\tbalance\t")
			for _, in := range s {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t\n", in.Seq, in.DueDateText, loans.FormatMinor(in.TotalMinor()),
					loans.FormatMinor(in.PrincipalMinor), loans.FormatMinor(in.InterestMinor), loans.FormatMinor(in.BalanceAfterMinor))
			}
			tp, ti := loans.ScheduleTotals(s)
			fmt.Fprintf(tw, "\ttotal\t%s\t%s\t%s\t\t\n", loans.FormatMinor(tp+ti), loans.FormatMinor(tp), loans.FormatMinor(ti))
			return tw.Flush()
		},
	}
	f := cmd.Flags()
	f.StringVar(&principal, "principal", "", "amount lent, in major units (e.g. 12000 or 12000.50)")
	f.StringVar(&rate, "rate", "", "annual nominal rate as a fraction (0.24 = 24% a year)")
	f.IntVar(&term, "term", 0, "number of installments")
	f.StringVar(&method, "method", "annuity", "annuity | equal-principal | interest-only")
	f.StringVar(&start, "start", "2026-01-01", "disbursement date (YYYY-MM-DD); first due date is one period later")
	f.StringVar(&dayCount, "day-count", "30/360", "30/360 | act/365")
	f.StringVar(&frequency, "frequency", "monthly", "monthly | weekly | days (with --every-days)")
	f.IntVar(&everyDays, "every-days", 0, "period length in days when --frequency days")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	_ = cmd.MarkFlagRequired("principal")
	_ = cmd.MarkFlagRequired("rate")
	_ = cmd.MarkFlagRequired("term")
	return cmd
}
