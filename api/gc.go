package api

import (
	"os"
	"runtime"
	"runtime/debug"
	"sync"
)

// GCPercent is the garbage collector target (GOGC) a serving process runs
// with unless the GOGC environment variable is set. The server's live heap
// is small (tens of MB) while each request allocates tens of KB, so Go's
// default of 100 collects every few ms at thousands of requests/s; 400 cuts
// GC CPU about 4× for a few tens of MB more (docs/perf/api-resources.md).
const GCPercent = 400

// ApplyGCPercent sets GCPercent unless GOGC is set in the environment, and
// returns the GOGC in effect. lend serve and the loopback benchmarks call it
// so the benchmarks measure the binary's GC setting.
func ApplyGCPercent() int {
	if os.Getenv("GOGC") != "" {
		v := debug.SetGCPercent(100)
		debug.SetGCPercent(v)
		return v
	}
	debug.SetGCPercent(GCPercent)
	return GCPercent
}

// ProcsPerCPU is how many Go processors (GOMAXPROCS) a serving process runs
// per CPU Go would use by default, unless the GOMAXPROCS environment
// variable is set. SQLite runs in cgo calls (statement steps, the commit's
// fsync), and a goroutine in a cgo call keeps its processor until the
// scheduler takes it back; with one processor per core, a core then idles
// while requests wait. Two per core measured +8–15% decisions/s and a lower
// p99 on the 2-core machine (docs/perf/api-resources.md).
const ProcsPerCPU = 2

// ApplyProcs sets GOMAXPROCS to ProcsPerCPU × the default unless GOMAXPROCS
// is set in the environment, and returns the value in effect. lend serve and
// the loopback benchmarks call it, as ApplyGCPercent.
func ApplyProcs() int {
	if os.Getenv("GOMAXPROCS") != "" {
		return runtime.GOMAXPROCS(0)
	}
	n := ProcsPerCPU * defaultProcs()
	runtime.GOMAXPROCS(n)
	return n
}

// defaultProcs is the GOMAXPROCS Go chose, read before the first
// ApplyProcs changed it (a benchmark calls ApplyProcs once per run: the
// value must not double each time).
var defaultProcs = sync.OnceValue(func() int { return runtime.GOMAXPROCS(0) })
