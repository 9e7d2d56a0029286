package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/lendhq/lend"
	"github.com/lendhq/lend/internal/pipeline"
	"github.com/lendhq/lend/loans"
	"github.com/lendhq/lend/realtime"
)

// bootstrapDemo builds the demo portfolio (synthetic merchants, features, a
// trained model, credit lines in the loans store ls, the demo merchant's
// history in the real-time store beside it) in an empty data directory, or
// reuses what an earlier start built. `lend serve --demo` calls it before
// issuing the demo keys. It warns when the demo merchant key's merchant has
// no approved line, naming one that has.
func bootstrapDemo(ctx context.Context, dataDir string, ls loans.Store, out io.Writer) error {
	return bootstrapDemoSize(ctx, dataDir, ls, 0, out)
}

// bootstrapDemoSize is bootstrapDemo building a new portfolio of merchants
// merchants (0: pipeline.DemoMerchants; --demo-merchants); a data directory
// already built is reused at its own size, with a note when a size was asked.
func bootstrapDemoSize(ctx context.Context, dataDir string, ls loans.Store, merchants int, out io.Writer) error {
	rt, err := realtimeStoreFor(ctx, ls)
	if err != nil {
		return err
	}
	if rt != nil {
		defer closeRealtimeStore(rt)
	}
	res, err := pipeline.Demo(ctx, pipeline.DemoOptions{DataDir: dataDir, Out: out, MerchantID: demoMerchantID, Store: ls, Realtime: rt, Merchants: merchants})
	if err != nil {
		return err
	}
	if res.Reused && merchants != 0 {
		fmt.Fprintf(out, "lend: demo: note: --demo-merchants %d ignored: %s already holds a built demo (a new size needs a new data directory)\n", merchants, dataDir)
	}
	if !res.MerchantApproved {
		fmt.Fprintf(out, "lend: demo: note: merchant %s has no approved credit line (first approved merchant: %q)\n", demoMerchantID, res.FirstApproved)
	}
	return nil
}

// demoTopUpEvery is how often a running demo server checks whether a new day
// began and the demo merchant's history needs topping up.
const demoTopUpEvery = time.Hour

// startDemoTopUp keeps the demo merchant's real-time history ending
// yesterday while the server runs (pipeline.TopUpDemo), as a restart would:
// once a day, checked every demoTopUpEvery (demoTopUpLoop), through its own
// handle on the real-time store. stop ends it, waits for a top-up under way
// and releases the handle, so it must run before the loans store closes.
func startDemoTopUp(ctx context.Context, dataDir string, ls loans.Store, logger *slog.Logger) (stop func(), err error) {
	rt, err := realtimeStoreFor(ctx, ls)
	if err != nil || rt == nil {
		return func() {}, err
	}
	ctx, cancel := context.WithCancel(ctx)
	tick := time.NewTicker(demoTopUpEvery)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		demoTopUpLoop(ctx, tick.C, func(now time.Time) error { return demoTopUp(ctx, dataDir, rt, now) }, logger)
	}()
	return func() {
		cancel()
		wg.Wait()
		tick.Stop()
		closeRealtimeStore(rt)
	}, nil
}

// demoTopUpLoop calls topUp at the first tick of every UTC day until ctx
// ends; a failed top-up is logged and retried at the next tick. The first
// tick tops up too: the start's own top-up (bootstrapDemo) may have run on
// the eve of the day serving began (a first build that crossed midnight
// UTC), and a repeat on the same day stores nothing.
func demoTopUpLoop(ctx context.Context, ticks <-chan time.Time, topUp func(now time.Time) error, logger *slog.Logger) {
	last := "" // the UTC day of the last successful top-up
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-ticks:
			day := now.UTC().Format(time.DateOnly)
			if day == last {
				continue
			}
			if err := topUp(now); err != nil {
				if ctx.Err() != nil {
					return // cut short by the shutdown, not a failure
				}
				logger.Error("demo: topping up the demo merchant's history failed", "err", err)
				continue // retried at the next tick
			}
			last = day
		}
	}
}

// demoTopUp tops the demo merchant's history up to the eve of now.
func demoTopUp(ctx context.Context, dataDir string, rt realtime.Store, now time.Time) error {
	return pipeline.TopUpDemo(ctx, pipeline.DemoOptions{DataDir: dataDir, MerchantID: demoMerchantID, Realtime: rt, Now: now})
}

// checkDemoMerchants validates a given --demo-merchants before the slow
// build: only with --demo, and within what the demo builds.
func checkDemoMerchants(merchants int, demo bool) error {
	switch {
	case !demo:
		return lend.FieldErrorf("demo-merchants", "applies only with --demo")
	case merchants < 1 || merchants > pipeline.MaxDemoMerchants:
		return lend.FieldErrorf("demo-merchants", "must be between 1 and %d, got %d", pipeline.MaxDemoMerchants, merchants)
	}
	return nil
}
