package training

import (
	"bytes"
	"context"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/lendhq/lend/internal/testutil"
)

// TestScoreFileAgreesWithTraining: issue 5 requires that `lend score` (ScoreFile)
// and the training-time scores agree exactly. Training scores every row once,
// in its train or its test part; ScoreFile scores the whole file from the saved
// artifact. The two multisets of scores must be identical, and every row's PD
// must be the one training attached to that score.
func TestScoreFileAgreesWithTraining(t *testing.T) {
	r := german(t, 42)
	// Round-trip the artifact through its bytes, as `lend score` loads it from disk.
	var out bytes.Buffer
	if _, err := ScoreFile(context.Background(), r.Model, testutil.SharedData(t, "german_credit/germancredit.csv"), "", -1, &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")[1:]
	var fileScores []int
	filePD := map[int]string{}
	for _, l := range lines {
		f := strings.Split(l, ",")
		s, err := strconv.Atoi(f[1])
		if err != nil {
			t.Fatalf("score %q: %v", f[1], err)
		}
		fileScores = append(fileScores, s)
		filePD[s] = f[2]
	}
	trainScores := append(append([]int(nil), r.TrainScore...), r.TestScore...)
	sort.Ints(fileScores)
	sort.Ints(trainScores)
	if len(fileScores) != len(trainScores) {
		t.Fatalf("lend score gave %d rows, training scored %d", len(fileScores), len(trainScores))
	}
	for i := range fileScores {
		if fileScores[i] != trainScores[i] {
			t.Fatalf("score multisets differ at rank %d: lend score %d, training %d", i, fileScores[i], trainScores[i])
		}
	}
	pds := append(append([]float64(nil), r.TrainPD...), r.TestPD...)
	scores := append(append([]int(nil), r.TrainScore...), r.TestScore...)
	for i, s := range scores {
		got, err := strconv.ParseFloat(filePD[s], 64)
		if err != nil {
			t.Fatal(err)
		}
		// ScoreFile prints the PD with limited digits; compare at that precision.
		if d := got - pds[i]; d > 5e-7 || d < -5e-7 {
			t.Fatalf("score %d: lend score PD %s, training PD %v", s, filePD[s], pds[i])
		}
	}
}
