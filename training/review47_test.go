package training

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lendhq/lend/scoring"
)

// Review 47: a missing or special bin training never saw scores at the
// worst attribute, and the artifact's points table says so.

// review47Train trains on 80 hand-made rows (training needs at least 50) of
// one variable col with two values and no missing or special value: value a
// 40 rows (8 bad, 32 good), value b 40 rows (24 bad, 16 good); G = 48,
// B = 32. No test part, no tuning, special code -9.
func review47Train(t *testing.T, col, a, b string) *scoring.Model {
	t.Helper()
	var sb strings.Builder
	sb.WriteString(col + ",bad\n")
	for i := 0; i < 40; i++ {
		sb.WriteString(a + "," + map[bool]string{true: "1", false: "0"}[i < 8] + "\n")
		sb.WriteString(b + "," + map[bool]string{true: "1", false: "0"}[i < 24] + "\n")
	}
	p := filepath.Join(t.TempDir(), "tiny.csv")
	if err := os.WriteFile(p, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	opt := Defaults()
	opt.Data, opt.Target, opt.TestFrac, opt.Special = p, "bad", 0, []float64{-9}
	res, err := Train(context.Background(), opt)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Model.Variables) != 1 {
		t.Fatalf("want 1 variable, got %d", len(res.Model.Variables))
	}
	return res.Model
}

// review47Want is the points table worked by hand. One WoE variable with a
// bin per value fits the bin bad rates exactly: coefficient −1, intercept
// ln(B/G) = ln(32/48) = −0.405465. factor = 20/ln 2 = 28.853901;
// offset = 600 − factor·ln 50 = 600 − 112.877124 = 487.122876; base =
// offset − factor·intercept = 487.122876 + 11.699250 = 498.822126 → 499.
// WoE(a) = ln((32/48)/(8/32)) = ln(8/3) = 0.980829 → round(28.3008) = 28,
// points 527; WoE(b) = ln((16/48)/(24/32)) = ln(4/9) = −0.810930 →
// round(−23.3984) = −23, points 476. The worst attribute is b: 476. The
// empty missing (and special −9) bin has WoE 0, which would be the neutral
// 499 points; it must show 476.
const (
	review47A, review47B, review47Worst, review47Neutral = 527, 476, 476, 499
)

func TestReview47EmptyMissingBinScoresWorstNumeric(t *testing.T) {
	m := review47Train(t, "x", "1", "2")
	v := m.Variables[0]
	got := map[string]int{}
	for _, b := range v.Bins {
		got[b.Label] = b.Points
		if b.Count == 0 && b.WoE != 0 {
			t.Errorf("%s: empty bin WoE %v, want 0", b.Label, b.WoE)
		}
	}
	want := map[string]int{
		"[-inf, 2)": review47A,
		"[2, +inf)": review47B,
		"special -9 (not seen in training: scored as the worst attribute)": review47Worst,
		"missing (not seen in training: scored as the worst attribute)":    review47Worst,
	}
	if len(got) != len(want) {
		t.Errorf("bins %v, want %v", got, want)
	}
	for l, p := range want {
		if got[l] != p {
			t.Errorf("bin %q: %d points, want %d (bins %v)", l, got[l], p, got)
		}
	}
	// The scorer agrees with the table: a blank, a special code and the
	// worst value all score 476, never more than a value training saw.
	sc, err := scoring.Compile(m)
	if err != nil {
		t.Fatal(err)
	}
	r := sc.NewResult()
	for x, w := range map[float64]int{1: review47A, 2: review47B, -9: review47Worst, math.NaN(): review47Worst} {
		sc.Score([]float64{x}, nil, r)
		if r.Score != w {
			t.Errorf("x = %v scores %d, want %d", x, r.Score, w)
		}
	}
	// The points table a risk officer reads shows the same.
	if tab := PointsTable(m); !strings.Contains(tab, "missing (not seen in training: scored as the worst attribute)") {
		t.Errorf("points table does not say how missing is scored:\n%s", tab)
	}
}

func TestReview47EmptyMissingBinScoresWorstCategorical(t *testing.T) {
	m := review47Train(t, "c", "a", "b")
	v := m.Variables[0]
	for _, b := range v.Bins {
		var want int
		switch {
		case b.Kind == scoring.BinCategory && b.Label == "a":
			want = review47A
		case b.Kind == scoring.BinCategory && b.Label == "b":
			want = review47B
		case b.Kind == scoring.BinMissing:
			want = review47Worst
			if b.Label != "missing (not seen in training: scored as the worst attribute)" {
				t.Errorf("missing bin label %q", b.Label)
			}
		case b.Kind == scoring.BinOther:
			// No rare level pooled: unseen levels score as the worst
			// attribute (b's WoE), never the neutral review47Neutral.
			want = review47Worst
			if b.Label != "levels not seen in training (scored as the worst attribute)" {
				t.Errorf("other bin label %q", b.Label)
			}
		default:
			t.Errorf("unexpected bin %+v", b)
		}
		if b.Points != want {
			t.Errorf("bin %q: %d points, want %d", b.Label, b.Points, want)
		}
	}
	sc, err := scoring.Compile(m)
	if err != nil {
		t.Fatal(err)
	}
	r := sc.NewResult()
	sc.Score(nil, []string{""}, r)
	if r.Score != review47Worst {
		t.Errorf("blank category scores %d, want %d", r.Score, review47Worst)
	}
	sc.Score(nil, []string{"z"}, r)
	if r.Score != review47Worst {
		t.Errorf("level z, not seen in training, scores %d, want %d (the worst attribute)", r.Score, review47Worst)
	}
}
