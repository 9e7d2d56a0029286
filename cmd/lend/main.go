// Command lend is Lend's one binary: the REST service (lend serve) and every
// batch and officer command. This package only wires the domain packages
// together; no business rule lives here.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/lendhq/lend"
	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

// commands holds the constructors of every subcommand. Each subcommand lives in
// its own file and registers itself in init, so adding a command touches one file.
var commands []func() *cobra.Command

func register(f func() *cobra.Command) { commands = append(commands, f) }

// newRoot builds the root command with every registered subcommand.
func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "lend",
		Short:         "Lend: credit scoring and lending for small merchants",
		Long:          "Lend scores small merchants on their own sales, sets risk-based credit lines and runs the loan lifecycle on a double-entry ledger.",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().String("data", "", "data directory (default $LEND_DATA or ./lend-data)")
	root.PersistentFlags().String("db", "", "database: a SQLite path (default DATA/lend.db) or a postgres:// URL; or $LEND_DB")
	// Flag errors are usage errors: exit 2 with the flag named.
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return lend.Errorf(lend.EINVALID, "%v", err)
	})
	for _, f := range commands {
		root.AddCommand(f())
	}
	return root
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRoot().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "lend: "+oneLine(err))
		os.Exit(exitCode(err))
	}
}

// exitCode maps an error to the process exit status: 2 for bad input, 1 otherwise.
func exitCode(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	switch lend.ErrorCode(err) {
	case lend.EINVALID, lend.ENOTFOUND, lend.ETOOLARGE, lend.EUNPROCESSABLE:
		return 2
	}
	return 1
}

// exitError carries an explicit exit status (e.g. reconcile found differences).
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// oneLine flattens an error message to a single line for stderr.
func oneLine(err error) string {
	b := []byte(err.Error())
	for i, c := range b {
		if c == '\n' || c == '\r' {
			b[i] = ' '
		}
	}
	return string(b)
}
