package features

import (
	"context"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's user + system CPU time (every thread), far less
// sensitive than wall time to other load on the machine.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports CPU µs per op since cpu0.
func reportCPU(b *testing.B, cpu0 time.Duration) {
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
}

// BenchmarkSQLEval times sqleval alone on the online path's two queries over
// a year of one generated merchant's rows: the pre-aggregate of all rows, and
// the feature query over that pre-aggregate.
func BenchmarkSQLEval(b *testing.B) {
	rows, asOf := yearOfHistory(b)
	o, err := OpenOnline(context.Background(), "256MB")
	if err != nil {
		b.Fatal(err)
	}
	defer o.Close()
	hist := validRows(b, o, rows)
	pre, err := o.preOf(hist, asOf)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("pre", func(b *testing.B) {
		cpu0 := cpuTime()
		for i := 0; i < b.N; i++ {
			if _, err := o.preOf(hist, asOf); err != nil {
				b.Fatal(err)
			}
		}
		reportCPU(b, cpu0)
		b.ReportMetric(float64(len(hist)), "rows")
	})
	b.Run("features", func(b *testing.B) {
		cpu0 := cpuTime()
		for i := 0; i < b.N; i++ {
			if _, err := o.featuresOverPre(asOf, true, pre, nil); err != nil {
				b.Fatal(err)
			}
		}
		reportCPU(b, cpu0)
		b.ReportMetric(float64(len(pre)), "pre-rows")
	})
}
