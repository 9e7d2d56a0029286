package training

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/lendhq/lend/internal/testutil"
)

// TestShuffledRowsSameArtifact: the same rows in another order (as a
// features export may write them) train to a byte-identical artifact, with an
// id column and without one.
func TestShuffledRowsSameArtifact(t *testing.T) {
	src, err := os.ReadFile(testutil.SharedData(t, "german_credit/germancredit.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(string(src), "\n"), "\n")
	head, body := lines[0], lines[1:]
	shuffled := append([]string(nil), body...)
	rand.New(rand.NewPCG(9, 9)).Shuffle(len(shuffled), func(a, b int) { shuffled[a], shuffled[b] = shuffled[b], shuffled[a] })
	if strings.Join(shuffled, "\n") == strings.Join(body, "\n") {
		t.Fatal("shuffle left the order unchanged")
	}
	write := func(dir, head string, rows []string) string {
		p := filepath.Join(t.TempDir(), dir, "credit.csv")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(head+"\n"+strings.Join(rows, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	withID := func(rows []string, ids []int) []string {
		out := make([]string, len(rows))
		for i, r := range rows {
			out[i] = itoa(ids[i]) + "," + r
		}
		return out
	}
	train := func(path, id string) []byte {
		o := Defaults()
		o.Data, o.Target, o.Bad, o.ID = path, "creditability", "bad", id
		r, err := Train(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		b, err := r.Model.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	t.Run("no id: sorted by all columns", func(t *testing.T) {
		a := train(write("a", head, body), "")
		b := train(write("b", head, shuffled), "")
		if !bytes.Equal(a, b) {
			t.Fatal("shuffled rows gave a different artifact")
		}
	})
	t.Run("id column", func(t *testing.T) {
		// ids follow the original order; the shuffled file carries the same id on each row.
		ids := make([]int, len(body))
		pos := map[string][]int{}
		for i, r := range body {
			ids[i] = 1000 + i
			pos[r] = append(pos[r], 1000+i)
		}
		sids := make([]int, len(shuffled))
		for i, r := range shuffled {
			sids[i] = pos[r][0]
			pos[r] = pos[r][1:]
		}
		a := train(write("a", "id,"+head, withID(body, ids)), "id")
		b := train(write("b", "id,"+head, withID(shuffled, sids)), "id")
		if !bytes.Equal(a, b) {
			t.Fatal("shuffled rows with ids gave a different artifact")
		}
	})
}

func itoa(i int) string { return strconv.Itoa(i) }
