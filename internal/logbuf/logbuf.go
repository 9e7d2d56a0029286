// Package logbuf buffers a process's log stream, so a request's access line
// costs a copy instead of a write system call (one write per request was
// ≈ 2% of a decision's CPU under load, docs/perf/api-resources.md).
//
// Nothing is dropped while the stream accepts writes (a failed write loses
// that batch, as an unbuffered write loses its line): a full buffer is
// written out by the writer that filled it (back-pressure, as an unbuffered
// stream would give). Lines reach the
// underlying stream at the latest FlushEvery after they were written,
// at once for records at or above the Handler's flush level, and at Close.
// What a process killed with SIGKILL loses is at most the last FlushEvery of
// lines below that level.
package logbuf

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// Defaults of New's limits.
const (
	// DefaultMaxBytes is the buffer size at which a Write flushes itself.
	DefaultMaxBytes = 64 << 10
	// DefaultFlushEvery is how long a line waits at most in the buffer.
	DefaultFlushEvery = 100 * time.Millisecond
)

// Writer is an io.Writer that buffers whole writes (slog handlers write one
// record a call) and writes them to the underlying stream in order.
// It is safe for concurrent use.
type Writer struct {
	out        io.Writer
	maxBytes   int
	flushEvery time.Duration

	outMu sync.Mutex // held while writing to out: keeps flushes in order
	mu    sync.Mutex // guards buf, spare, closed
	buf   []byte
	spare []byte
	// closed: Close ran; later writes go straight to out.
	closed bool

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// New returns a Writer over out that flushes when maxBytes are buffered
// (zero or less: DefaultMaxBytes) and every flushEvery. A flushEvery of zero
// or less buffers nothing: every Write goes straight to out. Call Close
// before the process ends.
func New(out io.Writer, maxBytes int, flushEvery time.Duration) *Writer {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	w := &Writer{out: out, maxBytes: maxBytes, flushEvery: flushEvery,
		stop: make(chan struct{}), done: make(chan struct{})}
	if flushEvery <= 0 {
		w.closed = true // the pass-through a closed Writer is
		w.closeOnce.Do(func() {})
		return w
	}
	w.buf, w.spare = make([]byte, 0, maxBytes), make([]byte, 0, maxBytes)
	go w.loop()
	return w
}

func (w *Writer) loop() {
	defer close(w.done)
	t := time.NewTicker(w.flushEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			_ = w.Flush() // nowhere to report it; the next flush retries the stream
		case <-w.stop:
			return
		}
	}
}

// Write buffers p (a copy), flushing first when p would not fit. A p larger
// than the buffer is written straight through, after what is buffered.
func (w *Writer) Write(p []byte) (int, error) {
	if w.tryBuffer(p) {
		return len(p), nil
	}
	w.outMu.Lock()
	defer w.outMu.Unlock()
	if err := w.flushLocked(); err != nil {
		return 0, err
	}
	if w.tryBuffer(p) {
		return len(p), nil
	}
	// Still under outMu: nothing buffered since can be written before p.
	return w.out.Write(p)
}

// tryBuffer appends p to the buffer if the Writer is open and p fits.
func (w *Writer) tryBuffer(p []byte) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed || len(w.buf)+len(p) > w.maxBytes {
		return false
	}
	w.buf = append(w.buf, p...)
	return true
}

// Flush writes what is buffered to the underlying stream.
func (w *Writer) Flush() error {
	w.outMu.Lock()
	defer w.outMu.Unlock()
	return w.flushLocked()
}

// flushLocked swaps the buffer out and writes it; outMu is held.
func (w *Writer) flushLocked() error {
	w.mu.Lock()
	b := w.buf
	w.buf, w.spare = w.spare[:0], nil
	w.mu.Unlock()
	var err error
	if len(b) > 0 {
		_, err = w.out.Write(b)
	}
	// A failed write loses that batch (as an unbuffered write loses its
	// line) but not the log: the next flush tries the stream again, so a
	// disk full for a moment does not silence the process for good.
	w.mu.Lock()
	w.spare = b[:0]
	w.mu.Unlock()
	return err
}

// Close flushes, stops the periodic flush and makes later writes go straight
// to the underlying stream (a late log line is never lost). It does not
// close the underlying stream. Calling it again is a no-op.
func (w *Writer) Close() error {
	var err error
	w.closeOnce.Do(func() {
		close(w.stop)
		<-w.done
		w.outMu.Lock()
		defer w.outMu.Unlock()
		// closed before the flush: a Write from here on waits for outMu
		// and goes straight out, instead of into a buffer no one flushes.
		w.mu.Lock()
		w.closed = true
		w.mu.Unlock()
		err = w.flushLocked()
	})
	return err
}

// Handler wraps h (which writes to w) so that a record at or above level is
// flushed at once: an operator sees warnings and errors without the delay,
// and they survive a crash that follows them.
func Handler(h slog.Handler, w *Writer, level slog.Leveler) slog.Handler {
	return &flushHandler{h: h, w: w, level: level}
}

type flushHandler struct {
	h     slog.Handler
	w     *Writer
	level slog.Leveler
}

func (f *flushHandler) Enabled(ctx context.Context, l slog.Level) bool { return f.h.Enabled(ctx, l) }

func (f *flushHandler) Handle(ctx context.Context, r slog.Record) error {
	err := f.h.Handle(ctx, r)
	if r.Level >= f.level.Level() {
		if e := f.w.Flush(); err == nil {
			err = e
		}
	}
	return err
}

func (f *flushHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &flushHandler{h: f.h.WithAttrs(as), w: f.w, level: f.level}
}

func (f *flushHandler) WithGroup(name string) slog.Handler {
	return &flushHandler{h: f.h.WithGroup(name), w: f.w, level: f.level}
}
