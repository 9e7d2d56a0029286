package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/lendhq/lend"
	"github.com/lendhq/lend/api"
	"github.com/lendhq/lend/auth"
	"github.com/lendhq/lend/internal/logbuf"
	"github.com/lendhq/lend/internal/pipeline"
	"github.com/lendhq/lend/scoring/fsregistry"
	"github.com/spf13/cobra"
)

func init() { register(newServeCmd) }

// demoKeysFile holds the demo keys --demo creates, inside the data directory.
const demoKeysFile = "demo-keys.txt"

// demoMerchantID is the merchant the demo merchant key is bound to: an
// approved line, and generated recent weeks that pass the real-time risk
// rules once its history is in the real-time store (no refund in its last
// ten days, last week's sales above its 8-week average), so the README's
// applications and draws are not declined by them
// (TestDemoMerchantPassesRiskRules).
const demoMerchantID = "m0000081"

// newServeCmd runs the REST API until SIGINT/SIGTERM, then shuts down
// gracefully: in-flight requests finish, new connections are refused.
func newServeCmd() *cobra.Command {
	var (
		addr     string
		demo     bool
		demoSize int
		rate     float64
		burst    int
		logJSON  bool
		cpuProf  string
		logFlush time.Duration
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the REST API",
		Long:  "Run the REST API on --addr over the data directory's database. --demo bootstraps an empty data directory (demo keys written to DATA/demo-keys.txt) so a newcomer has a working service in one command.",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			dsn := dbDSN(cmd)
			if cmd.Flags().Changed("demo-merchants") {
				if err := checkDemoMerchants(demoSize, demo); err != nil {
					return err
				}
			}
			// Log lines are buffered (a write system call per access line
			// cost ≈ 2% of a decision's CPU); warnings and errors are
			// flushed at once, the rest within logbuf.DefaultFlushEvery,
			// everything at return (the Close is deferred first, so it runs
			// after every other deferred step that may log).
			if logFlush < 0 {
				return lend.FieldErrorf("log-flush", "must be 0 (unbuffered) or a positive duration, got %s", logFlush)
			}
			logOut := logbuf.New(cmd.ErrOrStderr(), 0, logFlush)
			defer logOut.Close()
			var h slog.Handler = slog.NewTextHandler(logOut, nil)
			if logJSON {
				h = slog.NewJSONHandler(logOut, nil)
			}
			logger := slog.New(logbuf.Handler(h, logOut, slog.LevelWarn))
			// GOGC=api.GCPercent and GOMAXPROCS=api.ProcsPerCPU × the
			// default unless the variables are set; the benchmarks of
			// docs/perf use the same calls.
			api.ApplyGCPercent()
			api.ApplyProcs()
			// The profile file is created before the (slow) demo build, so a
			// bad path fails at once; profiling starts when serving does.
			var profFile *os.File
			if cpuProf != "" {
				f, err := os.Create(cpuProf)
				if err != nil {
					return lend.Wrap(lend.EINVALID, err, "cpuprofile: %v", err)
				}
				defer f.Close() // a no-op after stop's Close
				profFile = f
			}
			if demo {
				// The data directory holds the demo's files (and, without
				// --db, its database).
				if err := os.MkdirAll(dataDir(cmd), 0o750); err != nil {
					return lend.Wrap(lend.EINVALID, err, "data: cannot create %s: %v", dataDir(cmd), err)
				}
			}
			store, err := openAuthStore(ctx, dsn)
			if err != nil {
				return err
			}
			defer store.Close()
			// The loans store shares the database (file or PostgreSQL server).
			loanStore, err := openLoansStore(ctx, dsn)
			if err != nil {
				return err
			}
			defer loanStore.Close()
			if demo {
				// The demo portfolio (merchants, features, model, credit
				// lines) goes into the database served; later starts reuse it.
				if err := bootstrapDemoSize(ctx, dataDir(cmd), loanStore, demoSize, cmd.ErrOrStderr()); err != nil {
					return err
				}
				if err := demoBootstrap(cmd, store); err != nil {
					return err
				}
			}
			// Models live in DATA/models; the demo's DATA/model.json is
			// registered (and activated when none is) on first start.
			models, err := fsregistry.Open(filepath.Join(dataDir(cmd), "models"))
			if err != nil {
				return err
			}
			if err := models.Seed(filepath.Join(dataDir(cmd), "model.json")); err != nil {
				return err
			}
			risk, closeRisk, err := openRealtime(ctx, loanStore, models, logger)
			if err != nil {
				return err
			}
			defer closeRisk()
			if demo {
				stopTopUp, err := startDemoTopUp(ctx, dataDir(cmd), loanStore, logger)
				if err != nil {
					return err
				}
				defer stopTopUp()
			}
			srv := api.New(api.Config{
				Addr: addr, Keys: store, Idempotency: store, Ready: store.Ping, Logger: logger, Loans: loanStore,
				RatePerSecond: rate, RateBurst: burst, Models: models, Risk: risk,
			})
			if profFile != nil {
				stop, err := startCPUProfile(profFile, logger)
				if err != nil {
					return err
				}
				defer stop()
			}
			errc := make(chan error, 1)
			go func() { errc <- srv.Start() }()
			_ = logOut.Flush() // the lines logged so far come before this one
			fmt.Fprintf(cmd.ErrOrStderr(), "lend: serving on %s (data %s); try: curl -s localhost%s/healthz\n", addr, dataDir(cmd), portOf(addr))
			select {
			case err := <-errc:
				return err
			case <-ctx.Done():
			}
			logger.Info("shutting down: finishing in-flight requests", "timeout", api.DefaultShutdownTimeout)
			sctx, cancel := context.WithTimeout(context.Background(), api.DefaultShutdownTimeout)
			defer cancel()
			if err := srv.Shutdown(sctx); err != nil {
				return lend.Wrap(lend.EINTERNAL, err, "shutdown: %v", err)
			}
			return <-errc
		},
	}
	cmd.Flags().StringVar(&addr, "addr", api.DefaultAddr, "listen address")
	cmd.Flags().BoolVar(&demo, "demo", false, "bootstrap an empty data directory with a demo portfolio (synthetic merchants, features, model, credit lines) and demo keys")
	cmd.Flags().IntVar(&demoSize, "demo-merchants", 0, fmt.Sprintf("with --demo: merchants in a new demo portfolio (1..%d; default %d); a data directory already built keeps its size", pipeline.MaxDemoMerchants, pipeline.DemoMerchants))
	cmd.Flags().Float64Var(&rate, "rate", api.DefaultRatePerSecond, "per-key request rate limit (requests/s)")
	cmd.Flags().IntVar(&burst, "burst", api.DefaultRateBurst, "per-key burst")
	cmd.Flags().BoolVar(&logJSON, "log-json", false, "write logs as JSON lines")
	cmd.Flags().DurationVar(&logFlush, "log-flush", logbuf.DefaultFlushEvery, "longest time a log line below WARN waits in the log buffer (0: write every line at once)")
	cmd.Flags().StringVar(&cpuProf, "cpuprofile", "", "write a CPU profile of the serving (not the demo build) to this file at shutdown (go tool pprof)")
	return cmd
}

// startCPUProfile profiles the process into f until stop is called; a
// failed write of the profile is logged (the service's exit does not wait).
func startCPUProfile(f *os.File, logger *slog.Logger) (stop func(), err error) {
	if err := pprof.StartCPUProfile(f); err != nil {
		return nil, lend.Wrap(lend.EINVALID, err, "cpuprofile: %v", err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			logger.Error("cpuprofile: writing the profile failed", "file", f.Name(), "err", err)
		}
	}, nil
}

func portOf(addr string) string {
	if i := strings.LastIndex(addr, ":"); i >= 0 {
		return addr[i:]
	}
	return ""
}

// demoBootstrap creates the data directory and, on first start, an officer
// key and a merchant key written to DATA/demo-keys.txt (mode 0600). Later
// starts reuse the file while its keys still work on the database served
// for the demo merchant (not after --db moved to another database, or a
// build that bound the demo key to another merchant): else new keys
// replace it. The keys are printed so a newcomer can curl at once.
func demoBootstrap(cmd *cobra.Command, store auth.KeyStore) error {
	dir := dataDir(cmd)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return lend.Wrap(lend.EINVALID, err, "data: cannot create %s", dir)
	}
	path := filepath.Join(dir, demoKeysFile)
	if b, err := os.ReadFile(path); err == nil {
		if demoKeysWork(cmd.Context(), store, string(b)) {
			fmt.Fprintf(cmd.ErrOrStderr(), "lend: demo keys (from %s):\n%s", path, b)
			return nil
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "lend: demo: the keys in %s do not work on this database for merchant %s: issuing new ones\n", path, demoMerchantID)
	}
	now := time.Now()
	_, officer, err := auth.Issue(cmd.Context(), store, auth.RoleOfficer, "", now)
	if err != nil {
		return err
	}
	_, merchant, err := auth.Issue(cmd.Context(), store, auth.RoleMerchant, demoMerchantID, now)
	if err != nil {
		return err
	}
	content := fmt.Sprintf("LEND_OFFICER_KEY=%s\nLEND_MERCHANT_KEY=%s\nLEND_MERCHANT_ID=%s\n", officer, merchant, demoMerchantID)
	// Write then rename, so a crash never leaves a half-written key file.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		return lend.Wrap(lend.EINTERNAL, err, "writing %s", tmp)
	}
	if err := os.Rename(tmp, path); err != nil {
		return lend.Wrap(lend.EINTERNAL, err, "writing %s", path)
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "lend: demo keys written to %s:\n%s", path, content)
	return nil
}

// demoKeysWork reports whether a demo keys file's officer and merchant keys
// authenticate on store with their roles, the merchant key for
// demoMerchantID.
func demoKeysWork(ctx context.Context, store auth.KeyStore, file string) bool {
	vals := map[string]string{}
	for _, line := range strings.Split(file, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			vals[k] = v
		}
	}
	if vals["LEND_MERCHANT_ID"] != demoMerchantID {
		return false
	}
	if o, err := auth.Authenticate(ctx, store, vals["LEND_OFFICER_KEY"]); err != nil || o.Role != auth.RoleOfficer {
		return false
	}
	m, err := auth.Authenticate(ctx, store, vals["LEND_MERCHANT_KEY"])
	return err == nil && m.Role == auth.RoleMerchant && m.MerchantID == demoMerchantID
}
