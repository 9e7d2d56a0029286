package main

import (
	"context"
	"fmt"
	"io"

	"github.com/lendhq/lend/internal/pipeline"
)

// bootstrapDemo builds the demo portfolio (synthetic merchants, features, a
// trained model, credit lines in DATA/lend.db) in an empty data directory, or
// reuses what an earlier start built. `lend serve --demo` calls it before
// issuing the demo keys. It warns when the demo merchant key's merchant has
// no approved line, naming one that has.
func bootstrapDemo(ctx context.Context, dataDir string, out io.Writer) error {
	res, err := pipeline.Demo(ctx, pipeline.DemoOptions{DataDir: dataDir, Out: out, MerchantID: demoMerchantID})
	if err != nil {
		return err
	}
	if !res.MerchantApproved {
		fmt.Fprintf(out, "lend: demo: note: merchant %s has no approved credit line (first approved merchant: %q)\n", demoMerchantID, res.FirstApproved)
	}
	return nil
}
