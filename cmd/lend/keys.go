package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/lendhq/lend/auth"
	"github.com/spf13/cobra"
)

func init() { register(newKeysCmd) }

// newKeysCmd manages API keys: create (the secret printed once), list, revoke.
func newKeysCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Issue, list and revoke API keys",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newKeysCreateCmd(), newKeysListCmd(), newKeysRevokeCmd())
	return cmd
}

func newKeysCreateCmd() *cobra.Command {
	var role, merchant string
	cmd := &cobra.Command{
		Use:   "create --role merchant|officer|service [--merchant ID]",
		Short: "Issue an API key; the key alone is printed on stdout, once (only its hash is stored)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := auth.ParseRole(role)
			if err != nil {
				return err
			}
			st, err := openAuthStore(cmd.Context(), dbDSN(cmd))
			if err != nil {
				return err
			}
			defer st.Close()
			k, secret, err := auth.Issue(cmd.Context(), st, r, merchant, time.Now())
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), secret)
			fmt.Fprintf(cmd.ErrOrStderr(), "lend: created %s key %s%s; store it now, it is not shown again\n", k.Role, k.ID, forMerchant(k.MerchantID))
			return nil
		},
	}
	cmd.Flags().StringVar(&role, "role", "", "merchant, officer or service (required)")
	cmd.Flags().StringVar(&merchant, "merchant", "", "the merchant a merchant key is bound to")
	_ = cmd.MarkFlagRequired("role")
	return cmd
}

func forMerchant(m string) string {
	if m == "" {
		return ""
	}
	return " for merchant " + m
}

func newKeysListCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List API keys (ids and roles, never secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := openAuthStore(cmd.Context(), dbDSN(cmd))
			if err != nil {
				return err
			}
			defer st.Close()
			type row struct {
				ID         string `json:"id"`
				Role       string `json:"role"`
				MerchantID string `json:"merchant_id,omitempty"`
				CreatedAt  string `json:"created_at"`
				RevokedAt  string `json:"revoked_at,omitempty"`
			}
			var rows []row
			after := ""
			for {
				keys, err := st.ListKeys(cmd.Context(), after, keysPageSize)
				if err != nil {
					return err
				}
				for _, k := range keys {
					r := row{ID: k.ID, Role: string(k.Role), MerchantID: k.MerchantID, CreatedAt: k.CreatedAt.Format(time.RFC3339)}
					if k.Revoked() {
						r.RevokedAt = k.RevokedAt.Format(time.RFC3339)
					}
					rows = append(rows, r)
				}
				if len(keys) < keysPageSize {
					break
				}
				after = keys[len(keys)-1].ID
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if rows == nil {
					rows = []row{}
				}
				return enc.Encode(rows)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tROLE\tMERCHANT\tCREATED\tREVOKED")
			for _, r := range rows {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.ID, r.Role, r.MerchantID, r.CreatedAt, r.RevokedAt)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newKeysRevokeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "revoke KEY_ID",
		Short: "Revoke an API key by its id (from keys list)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := openAuthStore(cmd.Context(), dbDSN(cmd))
			if err != nil {
				return err
			}
			defer st.Close()
			if err := st.RevokeKey(cmd.Context(), args[0], time.Now()); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "lend: revoked key %s\n", args[0])
			return nil
		},
	}
}
