package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

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
	rt, err := realtimeStoreFor(ctx, ls)
	if err != nil {
		return err
	}
	if rt != nil {
		defer closeRealtimeStore(rt)
	}
	res, err := pipeline.Demo(ctx, pipeline.DemoOptions{DataDir: dataDir, Out: out, MerchantID: demoMerchantID, Store: ls, Realtime: rt})
	if err != nil {
		return err
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
// once a day, checked every demoTopUpEvery. stop ends it and waits.
func startDemoTopUp(ctx context.Context, dataDir string, ls loans.Store, logger *slog.Logger) (stop func(), err error) {
	rt, err := realtimeStoreFor(ctx, ls)
	if err != nil || rt == nil {
		return func() {}, err
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(demoTopUpEvery)
		defer tick.Stop()
		last := time.Now().UTC().Format(time.DateOnly) // the start topped up today
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-tick.C:
				if day := now.UTC().Format(time.DateOnly); day != last {
					if err := demoTopUp(ctx, dataDir, rt, now); err != nil {
						logger.Error("demo: topping up the demo merchant's history failed", "err", err)
						continue // retried at the next tick
					}
					last = day
				}
			}
		}
	}()
	return func() {
		cancel()
		wg.Wait()
		closeRealtimeStore(rt)
	}, nil
}

// demoTopUp tops the demo merchant's history up to the eve of now.
func demoTopUp(ctx context.Context, dataDir string, rt realtime.Store, now time.Time) error {
	return pipeline.TopUpDemo(ctx, pipeline.DemoOptions{DataDir: dataDir, MerchantID: demoMerchantID, Realtime: rt, Now: now})
}
