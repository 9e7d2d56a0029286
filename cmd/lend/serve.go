package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/spf13/cobra"
)

func init() { register(newServeCmd) }

// newServeCmd is the REST service. Until the API issue lands it serves only
// the health endpoints, so `make run` starts something real.
func newServeCmd() *cobra.Command {
	var addr string
	var demo bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the REST API",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			mux := http.NewServeMux()
			mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
			srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
			go func() {
				<-cmd.Context().Done()
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_ = srv.Shutdown(ctx)
			}()
			fmt.Fprintf(cmd.ErrOrStderr(), "lend: serving on %s (data %s)\n", addr, dataDir(cmd))
			if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&addr, "addr", ":8080", "listen address")
	cmd.Flags().BoolVar(&demo, "demo", false, "bootstrap an empty data directory with a demo portfolio")
	return cmd
}
