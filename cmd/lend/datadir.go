package main

import (
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
)

// dataDir resolves the data directory: --data, then $LEND_DATA, then ./lend-data.
func dataDir(cmd *cobra.Command) string {
	if d, _ := cmd.Flags().GetString("data"); d != "" {
		return d
	}
	if d := os.Getenv("LEND_DATA"); d != "" {
		return d
	}
	return "lend-data"
}

// dbDSN resolves the database: --db, then $LEND_DB, then DATA/lend.db.
func dbDSN(cmd *cobra.Command) string {
	if d, _ := cmd.Flags().GetString("db"); d != "" {
		return d
	}
	if d := os.Getenv("LEND_DB"); d != "" {
		return d
	}
	return filepath.Join(dataDir(cmd), "lend.db")
}
