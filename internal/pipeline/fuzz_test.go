package pipeline

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/lendhq/lend"
	"github.com/lendhq/lend/scoring"
)

// FuzzReadFeatures: any CSV body either reads (every row has a non-empty,
// unique merchant id and numbers or NaN) or fails with a *lend.Error; never a
// panic.
func FuzzReadFeatures(f *testing.F) {
	for _, s := range []string{
		"merchant_id,tenure_days\nm1,2\n",
		"merchant_id,as_of,x\nm1,2026-01-01,1.5\nm2,2026-01-01,\n",
		"merchant_id,x\nm1,NULL\nm1,2\n",
		"x\n1\n",
		"merchant_id,as_of\nm1,notadate\n",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		p := filepath.Join(t.TempDir(), "f.csv")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		err := readFeatures(context.Background(), p, map[string]bool{"tenure_days": true, "x": true}, func(_ int, id, _ string, fs *scoring.Features) error {
			if id == "" || seen[id] {
				t.Fatalf("row with empty or repeated id %q", id)
			}
			seen[id] = true
			if _, ok := fs.Num[IDColumn]; ok {
				t.Fatal("the id column leaked into the features")
			}
			return nil
		})
		var le *lend.Error
		if err != nil && !errors.As(err, &le) {
			t.Fatalf("error %v (%T) is not a *lend.Error", err, err)
		}
	})
}
