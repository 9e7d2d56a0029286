package scoring

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// wideModel is a 20-variable scorecard (6 range bins and a missing bin each),
// the size of a production merchant scorecard, built for the benchmarks.
func wideModel(b testing.TB) (*Scorer, [][]float64) {
	m := loadGolden(b)
	m.Variables = nil
	m.Policy.WorseWhen = nil
	m.Capacity = nil
	for v := 0; v < 20; v++ {
		bins := []Bin{{Kind: BinMissing, Label: "missing", Points: 10}}
		for k := 0; k < 6; k++ {
			var lo, hi *float64
			if k > 0 {
				l := float64(k * 10)
				lo = &l
			}
			if k < 5 {
				h := float64((k + 1) * 10)
				hi = &h
			}
			bins = append(bins, Bin{Kind: BinRange, Lower: lo, Upper: hi, Label: fmt.Sprint(k), Points: 5 * k})
		}
		m.Variables = append(m.Variables, Variable{Name: fmt.Sprintf("v%02d", v), Type: "numeric", ReasonCode: fmt.Sprintf("R%02d", v), Bins: bins})
	}
	s, err := Compile(m)
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(7, 7))
	rows := make([][]float64, 1024)
	for i := range rows {
		rows[i] = make([]float64, 20)
		for v := range rows[i] {
			rows[i][v] = r.Float64() * 70
			if r.IntN(50) == 0 {
				rows[i][v] = math.NaN()
			}
		}
	}
	return s, rows
}

// BenchmarkScoreWide: the hot path on a 20-variable scorecard (binning,
// points, PD, grade), rows cycling through 1,024 random feature vectors.
func BenchmarkScoreWide(b *testing.B) {
	s, rows := wideModel(b)
	r := s.NewResult()
	b.ReportAllocs()
	b.ResetTimer()
	cpu := startCPU()
	for i := 0; i < b.N; i++ {
		s.Score(rows[i&1023], nil, r)
	}
	cpu.report(b, "scores")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "scores/s")
}

// BenchmarkScoreWideReasons: the same plus the top-4 reason codes.
func BenchmarkScoreWideReasons(b *testing.B) {
	s, rows := wideModel(b)
	r := s.NewResult()
	reasons := make([]Reason, 0, MaxReasons)
	b.ReportAllocs()
	b.ResetTimer()
	cpu := startCPU()
	for i := 0; i < b.N; i++ {
		s.Score(rows[i&1023], nil, r)
		reasons = s.TopReasons(r, MaxReasons, reasons[:0])
	}
	cpu.report(b, "scores")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "scores/s")
}

// BenchmarkCeilingWide is the floor under BenchmarkScoreWide: the same 20
// table lookups per row with the bin indexes already known, summed, and one
// exp for the PD. No scorer can do less work.
func BenchmarkCeilingWide(b *testing.B) {
	s, rows := wideModel(b)
	idx := make([][]int, len(rows))
	for i, row := range rows {
		idx[i] = make([]int, len(row))
		for v, x := range row {
			idx[i][v] = s.BinNumeric(v, x)
		}
	}
	tables := make([][]int, len(s.vars))
	for v := range s.vars {
		tables[v] = s.vars[v].points
	}
	var sink float64
	b.ResetTimer()
	cpu := startCPU()
	for i := 0; i < b.N; i++ {
		total := 0
		for v, j := range idx[i&1023] {
			total += tables[v][j]
		}
		sink += 1 / (1 + math.Exp(-(6 - 0.05*float64(total))))
	}
	cpu.report(b, "scores")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "scores/s")
	_ = sink
}

// BenchmarkScoreFeaturesGolden: scoring by feature name (map lookups) on the
// 4-variable golden model.
func BenchmarkScoreFeaturesGolden(b *testing.B) {
	s, err := Compile(loadGolden(b))
	if err != nil {
		b.Fatal(err)
	}
	f := m1()
	r := s.NewResult()
	b.ReportAllocs()
	b.ResetTimer()
	cpu := startCPU()
	for i := 0; i < b.N; i++ {
		s.ScoreFeatures(f, r)
	}
	cpu.report(b, "scores")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "scores/s")
}

// BenchmarkDecide: a full application decision (score, reasons, capacity,
// eligibility, limit, exact pricing, decision object) on golden row m2.
func BenchmarkDecide(b *testing.B) {
	e := goldenEngine(b)
	app := goldenApplications()["m2"]
	b.ReportAllocs()
	b.ResetTimer()
	cpu := startCPU()
	for i := 0; i < b.N; i++ {
		if _, err := e.Decide(app); err != nil {
			b.Fatal(err)
		}
	}
	cpu.report(b, "decisions")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
}

// BenchmarkDecideWithChallenger: the same with a challenger in shadow.
func BenchmarkDecideWithChallenger(b *testing.B) {
	e, err := NewEngine(loadGolden(b), loadGolden(b))
	if err != nil {
		b.Fatal(err)
	}
	app := goldenApplications()["m2"]
	b.ReportAllocs()
	b.ResetTimer()
	cpu := startCPU()
	for i := 0; i < b.N; i++ {
		if _, err := e.Decide(app); err != nil {
			b.Fatal(err)
		}
	}
	cpu.report(b, "decisions")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
}

// BenchmarkAssessAndRefresh: the per-merchant work of the nightly refresh
// (assessment + line rule), without the store.
func BenchmarkAssessAndRefresh(b *testing.B) {
	e := goldenEngine(b)
	m := goldenApplications()["m2"].Merchant
	prev := &LineState{LimitMinor: 1000000, DrawnMinor: 200000, Status: LineActive}
	b.ReportAllocs()
	b.ResetTimer()
	cpu := startCPU()
	for i := 0; i < b.N; i++ {
		a, err := e.Assess(&m, ProductCreditLine)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := RefreshLine(prev, a, false); err != nil {
			b.Fatal(err)
		}
	}
	cpu.report(b, "merchants")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "merchants/s")
}

// threadCPU measures the CPU time the benchmark goroutine's thread spends,
// so a figure on a machine shared with other jobs states the work per core
// rather than a share of contended wall time.
type threadCPU struct{ start time.Duration }

func startCPU() *threadCPU {
	runtime.LockOSThread()
	return &threadCPU{start: threadCPUTime()}
}

func (c *threadCPU) report(b *testing.B, unit string) {
	d := threadCPUTime() - c.start
	runtime.UnlockOSThread()
	if d > 0 {
		b.ReportMetric(float64(d.Nanoseconds())/float64(b.N), "cpu-ns/op")
		b.ReportMetric(float64(b.N)/d.Seconds(), unit+"/cpu-s")
	}
}

func threadCPUTime() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
