package logbuf

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// sink is the underlying stream: it records every Write call.
type sink struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
	err    error
}

func (s *sink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return 0, s.err
	}
	s.writes++
	return s.b.Write(p)
}

func (s *sink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

const hour = time.Hour // a flush interval no test waits for

func TestBuffersUntilFlush(t *testing.T) {
	out := &sink{}
	w := New(out, 1024, hour)
	defer w.Close()
	for i := 0; i < 3; i++ {
		fmt.Fprintf(w, "line %d\n", i)
	}
	if got := out.String(); got != "" {
		t.Fatalf("before a flush the stream got %q, want nothing (buffered)", got)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "line 0\nline 1\nline 2\n"; got != want {
		t.Fatalf("after Flush: %q, want %q", got, want)
	}
	if out.writes != 1 {
		t.Fatalf("%d writes to the stream for one flush, want 1", out.writes)
	}
}

func TestPeriodicFlush(t *testing.T) {
	out := &sink{}
	w := New(out, 1024, 10*time.Millisecond)
	defer w.Close()
	fmt.Fprint(w, "access line\n")
	// Polls for the periodic flush; TestBuffersUntilFlush is the control
	// (without a flush nothing arrives).
	deadline := time.Now().Add(10 * time.Second)
	for out.String() == "" {
		if time.Now().After(deadline) {
			t.Fatal("no periodic flush within 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := out.String(); got != "access line\n" {
		t.Fatalf("got %q", got)
	}
}

func TestFullBufferFlushesNothingDropped(t *testing.T) {
	out := &sink{}
	w := New(out, 16, hour)
	// 10-byte lines: the second does not fit after the first, so the first
	// is written out by the Write of the second.
	for i := 0; i < 5; i++ {
		fmt.Fprintf(w, "line %03d\n", i) // 9 bytes
	}
	if got, want := out.String(), "line 000\nline 001\nline 002\nline 003\n"; got != want {
		t.Fatalf("after 5 writes of 9 bytes into 16: stream %q, want %q", got, want)
	}
	// Larger than the whole buffer: straight through, after what is buffered.
	big := strings.Repeat("x", 40) + "\n"
	if n, err := w.Write([]byte(big)); err != nil || n != len(big) {
		t.Fatalf("Write(big) = %d, %v", n, err)
	}
	fmt.Fprint(w, "tail\n")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	want := "line 000\nline 001\nline 002\nline 003\nline 004\n" + big + "tail\n"
	if got := out.String(); got != want {
		t.Fatalf("after Close: %q, want %q", got, want)
	}
}

func TestCloseFlushesAndLaterWritesPassThrough(t *testing.T) {
	out := &sink{}
	w := New(out, 1024, hour)
	fmt.Fprint(w, "before close\n")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "before close\n" {
		t.Fatalf("Close did not flush: %q", got)
	}
	fmt.Fprint(w, "after close\n") // e.g. a deferred shutdown message
	if got := out.String(); got != "before close\nafter close\n" {
		t.Fatalf("a write after Close: %q", got)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// TestConcurrentWritersLinesIntact: every line of 8 writers arrives once,
// whole, and in each writer's order (run with -race).
func TestConcurrentWritersLinesIntact(t *testing.T) {
	out := &sink{}
	w := New(out, 256, time.Millisecond)
	const writers, lines = 8, 500
	var wg sync.WaitGroup
	for g := 0; g < writers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < lines; i++ {
				fmt.Fprintf(w, "g%d n%04d %s\n", g, i, strings.Repeat("p", g*7))
			}
		}()
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	next := make([]int, writers)
	got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(got) != writers*lines {
		t.Fatalf("%d lines, want %d", len(got), writers*lines)
	}
	for _, l := range got {
		var g, i int
		if _, err := fmt.Sscanf(l, "g%d n%d ", &g, &i); err != nil {
			t.Fatalf("torn line %q: %v", l, err)
		}
		if g < 0 || g >= writers || i != next[g] || l != fmt.Sprintf("g%d n%04d %s", g, i, strings.Repeat("p", g*7)) {
			t.Fatalf("line %q out of order or torn (writer %d expected n%04d)", l, g, next[g])
		}
		next[g]++
	}
}

func TestHandlerFlushesWarningsAtOnce(t *testing.T) {
	out := &sink{}
	w := New(out, 4096, hour)
	defer w.Close()
	opts := &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}
	l := slog.New(Handler(slog.NewTextHandler(w, opts), w, slog.LevelWarn))
	l.Info("request", "status", 200)
	if got := out.String(); got != "" {
		t.Fatalf("an info line was flushed at once: %q", got)
	}
	// With attributes and a group: the derived handler flushes too.
	l.With("request_id", "r1").WithGroup("g").Warn("slow commit", "ms", 12)
	want := "level=INFO msg=request status=200\nlevel=WARN msg=\"slow commit\" request_id=r1 g.ms=12\n"
	if got := out.String(); got != want {
		t.Fatalf("after a warning: %q, want %q", got, want)
	}
}

func TestStreamErrorReported(t *testing.T) {
	out := &sink{err: errors.New("disk full")}
	w := New(out, 16, hour)
	defer w.Close()
	fmt.Fprint(w, "a\n")
	if err := w.Flush(); err == nil || err.Error() != "disk full" {
		t.Fatalf("Flush = %v, want the stream's error", err)
	}
	// Once failed, a write that needs a flush reports it instead of
	// pretending the line was written.
	if _, err := w.Write([]byte(strings.Repeat("y", 20))); err == nil {
		t.Fatal("Write after a failed flush returned no error")
	}
}

func TestZeroFlushEveryWritesThrough(t *testing.T) {
	out := &sink{}
	w := New(out, 1024, 0)
	fmt.Fprint(w, "one\n")
	fmt.Fprint(w, "two\n")
	if got := out.String(); got != "one\ntwo\n" || out.writes != 2 {
		t.Fatalf("unbuffered writer: %q in %d writes, want each line written at once", got, out.writes)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// gate is a stream whose first Write blocks until released: it holds Close
// inside its final flush.
type gate struct {
	sink
	entered, release chan struct{}
	once             sync.Once
}

func (g *gate) Write(p []byte) (int, error) {
	g.once.Do(func() { close(g.entered); <-g.release })
	return g.sink.Write(p)
}

// TestWriteDuringCloseNotLost: a line written while Close is writing out the
// buffer (a request finishing as the process shuts down) reaches the
// stream, although nothing is written after it. Close's doc promises that a
// late line is never lost; before the fix such a line went into the buffer
// after Close's flush and stayed there.
func TestWriteDuringCloseNotLost(t *testing.T) {
	out := &gate{entered: make(chan struct{}), release: make(chan struct{})}
	w := New(out, 1024, hour)
	fmt.Fprint(w, "before close\n")
	closed := make(chan error)
	go func() { closed <- w.Close() }()
	<-out.entered // Close is in its flush
	wrote := make(chan struct{})
	go func() { fmt.Fprint(w, "during close\n"); close(wrote) }()
	select {
	case <-wrote: // buffered (before the fix) ...
	case <-time.After(50 * time.Millisecond): // ... or waiting for the flush
	}
	close(out.release)
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	<-wrote
	if got, want := out.String(), "before close\nduring close\n"; got != want {
		t.Fatalf("after Close: %q, want %q", got, want)
	}
}

// flaky fails its first Write (a disk full for a moment) and then works.
type flaky struct {
	sink
	failed bool
}

func (f *flaky) Write(p []byte) (int, error) {
	if !f.failed {
		f.failed = true
		return 0, errors.New("no space left on device")
	}
	return f.sink.Write(p)
}

// TestStreamRecoversAfterError: after the stream fails once, later lines
// (a warning among them) still reach it, as they would unbuffered. The
// lines of the failed flush are lost, as an unbuffered failed write's line
// is; the log must not stay silent for the rest of the process's life.
func TestStreamRecoversAfterError(t *testing.T) {
	out := &flaky{}
	w := New(out, 1024, hour)
	fmt.Fprint(w, "lost\n")
	if err := w.Flush(); err == nil {
		t.Fatal("the failed flush reported no error")
	}
	fmt.Fprint(w, "after\n")
	if err := w.Flush(); err != nil {
		t.Fatalf("flush after the stream recovered: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "after\n"; got != want {
		t.Fatalf("stream got %q, want %q", got, want)
	}
}
