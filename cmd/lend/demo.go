package main

import (
	"context"
	"fmt"
	"io"

	"github.com/lendhq/lend/internal/pipeline"
	"github.com/lendhq/lend/loans"
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
