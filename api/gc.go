package api

import (
	"os"
	"runtime/debug"
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
