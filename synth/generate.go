package synth

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/schema"
	"github.com/lendhq/lend"
)

// Output file names inside the output directory.
const (
	TransactionsParquet = "transactions.parquet"
	TransactionsCSV     = "transactions.csv.gz"
	MerchantsFile       = "merchants.csv"
	OutcomesFile        = "outcomes.csv"
)

// Summary reports what Generate wrote.
type Summary struct {
	Merchants    int     `json:"merchants"`    // merchants generated (every one has at least one sale)
	Transactions int64   `json:"transactions"` // rows in the transactions file
	Sales        int64   `json:"sales"`        // rows of type sale
	Refunds      int64   `json:"refunds"`      // rows of type refund
	Chargebacks  int64   `json:"chargebacks"`  // rows of type chargeback
	Bad          int64   `json:"bad"`          // merchants drawn as defaulting in the performance window
	BadRate      float64 `json:"bad_rate"`     // Bad / Merchants
	MeanPD       float64 `json:"mean_true_pd"` // mean of true_pd: the expected bad rate
	// OracleAUC is the AUC of true_pd against the drawn outcomes: the best any
	// model can do on these data. NaN when every merchant is good (or bad).
	OracleAUC float64       `json:"-"`
	AsOf      string        `json:"as_of"`  // YYYY-MM-DD
	Months    int           `json:"months"` // history length
	Seed      uint64        `json:"seed"`
	Format    Format        `json:"format"`
	Files     []string      `json:"files"` // names written into the output directory
	Elapsed   time.Duration `json:"-"`     // wall time of Generate
}

// generator holds one run's shared, read-only state.
type generator struct {
	cfg Config
	cal *calendar
}

// Generate writes cfg.Merchants synthetic merchants into outDir: the
// transactions (Parquet or gzipped CSV), merchants.csv and outcomes.csv. Files
// are written into a temporary directory inside outDir and renamed into place
// only when everything succeeded, so a failed or cancelled run leaves nothing
// half-written. Memory is bounded: merchants are generated in blocks by
// cfg.Workers goroutines and written in order as they finish.
func Generate(ctx context.Context, cfg Config, outDir string) (Summary, error) {
	started := time.Now()
	cfg, err := cfg.withDefaults()
	if err != nil {
		return Summary{}, err
	}
	if outDir == "" {
		return Summary{}, lend.FieldErrorf("out", "an output directory is required")
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return Summary{}, outError(err, "out: cannot create directory %s: %v", outDir, unwrapPath(err))
	}
	tmp, err := os.MkdirTemp(outDir, ".lend-gen-*")
	if err != nil {
		return Summary{}, outError(err, "out: directory %s is not writable: %v", outDir, unwrapPath(err))
	}
	defer os.RemoveAll(tmp) // after the renames it is empty; on failure it holds the partial files

	g := &generator{cfg: cfg, cal: newCalendar(cfg.AsOf, cfg.Months)}
	sum, err := g.run(ctx, tmp)
	if err != nil {
		return Summary{}, err
	}
	for _, name := range sum.Files {
		if err := os.Rename(filepath.Join(tmp, name), filepath.Join(outDir, name)); err != nil {
			return Summary{}, lend.Wrap(lend.EINTERNAL, err, "out: moving %s into place: %v", name, err)
		}
	}
	sum.Elapsed = time.Since(started)
	return sum, nil
}

// outError is an EINVALID error naming the --out field.
func outError(cause error, format string, args ...any) *lend.Error {
	e := lend.Wrap(lend.EINVALID, cause, format, args...)
	e.Field = "out"
	return e
}

// unwrapPath drops the *PathError wrapper, whose text repeats the path.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// run generates everything into dir.
func (g *generator) run(ctx context.Context, dir string) (Summary, error) {
	cfg := g.cfg
	sum := Summary{Merchants: cfg.Merchants, AsOf: cfg.AsOf.Format(time.DateOnly), Months: cfg.Months, Seed: cfg.Seed, Format: cfg.Format}
	txName := TransactionsParquet
	if cfg.Format == FormatCSV {
		txName = TransactionsCSV
	}
	sum.Files = []string{txName, MerchantsFile, OutcomesFile}

	tx, err := newFileSink(filepath.Join(dir, txName))
	if err != nil {
		return sum, err
	}
	defer tx.abort()
	merch, err := newFileSink(filepath.Join(dir, MerchantsFile))
	if err != nil {
		return sum, err
	}
	defer merch.abort()
	outc, err := newFileSink(filepath.Join(dir, OutcomesFile))
	if err != nil {
		return sum, err
	}
	defer outc.abort()

	var txw txWriter
	if cfg.Format == FormatCSV {
		txw, err = newCSVTxWriter(tx.w)
	} else {
		txw, err = newParquetTxWriter(tx.w)
	}
	if err != nil {
		return sum, err
	}
	_, _ = merch.w.WriteString(merchantsHeader) // bufio errors surface at Flush
	_, _ = outc.w.WriteString(outcomesHeader)

	pd := make([]float64, 0, cfg.Merchants)
	bad := make([]bool, 0, cfg.Merchants)
	err = g.pipeline(ctx, func(b *block) error {
		if err := txw.writeBlock(b); err != nil {
			return err
		}
		if _, err := merch.w.Write(b.merchRow); err != nil {
			return err
		}
		if _, err := outc.w.Write(b.outRow); err != nil {
			return err
		}
		pd = append(pd, b.pd...)
		bad = append(bad, b.bad...)
		sum.Transactions += b.rows
		sum.Sales += b.sales
		sum.Refunds += b.refunds
		sum.Chargebacks += b.cbs
		if cfg.Progress != nil {
			cfg.Progress(b.hi, cfg.Merchants)
		}
		return nil
	})
	if err != nil {
		return sum, err
	}
	if err := txw.close(); err != nil {
		return sum, lend.Wrap(lend.EINTERNAL, err, "writing transactions: %v", err)
	}
	for _, f := range []*fileSink{tx, merch, outc} {
		if err := f.close(); err != nil {
			return sum, err
		}
	}
	totalPD := 0.0
	for i, b := range bad {
		if b {
			sum.Bad++
		}
		totalPD += pd[i]
	}
	sum.BadRate = float64(sum.Bad) / float64(len(bad))
	sum.MeanPD = totalPD / float64(len(pd))
	sum.OracleAUC = AUC(pd, bad)
	return sum, nil
}

// pipeline generates the blocks on cfg.Workers goroutines and hands them to
// write strictly in merchant order. At most 2·workers blocks are in flight.
func (g *generator) pipeline(ctx context.Context, write func(*block) error) error {
	workers := g.cfg.Workers
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	nBlocks := (g.cfg.Merchants + blockMerchants - 1) / blockMerchants
	workers = min(workers, nBlocks)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	type job struct {
		b   *block
		out chan *block
	}
	free := make(chan *block, 2*workers+1)
	for range cap(free) {
		free <- &block{}
	}
	futures := make(chan chan *block, 2*workers)
	jobs := make(chan job)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // producer: hands out blocks in order, one future per block
		defer wg.Done()
		defer close(jobs)
		defer close(futures)
		for i := range nBlocks {
			var b *block
			select {
			case b = <-free:
			case <-ctx.Done():
				return
			}
			b.index, b.lo, b.hi = i, i*blockMerchants, min(g.cfg.Merchants, (i+1)*blockMerchants)
			out := make(chan *block, 1)
			select {
			case futures <- out:
			case <-ctx.Done():
				return
			}
			// A published future must get its job, or the writer waits for it
			// forever; workers drain jobs until it is closed, so this cannot block
			// for long, and they skip the work once ctx is cancelled.
			jobs <- job{b, out}
		}
	}()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := newScratch()
			for j := range jobs {
				if ctx.Err() == nil {
					g.gen(j.b, s)
				}
				j.out <- j.b
			}
		}()
	}
	var err error
	for out := range futures {
		b := <-out
		if err == nil {
			if err = ctx.Err(); err == nil {
				err = write(b)
			}
			if err != nil {
				cancel()
			}
		}
		free <- b
	}
	wg.Wait()
	if err == nil {
		err = ctx.Err() // the producer stopped early because ctx was cancelled
	}
	if err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return lend.Wrap(lend.EINTERNAL, err, "generation cancelled: %v", err)
		}
		if lend.ErrorCode(err) == lend.EINTERNAL {
			return lend.Wrap(lend.EINTERNAL, err, "writing output: %v", err)
		}
	}
	return err
}

// fileSink is a buffered output file that is removed unless closed cleanly.
type fileSink struct {
	f      *os.File
	w      *bufio.Writer
	closed bool
}

const sinkBufferBytes = 1 << 20

func newFileSink(path string) (*fileSink, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, outError(err, "out: cannot create %s: %v", filepath.Base(path), unwrapPath(err))
	}
	return &fileSink{f: f, w: bufio.NewWriterSize(f, sinkBufferBytes)}, nil
}

func (s *fileSink) close() error {
	if err := s.w.Flush(); err != nil {
		return lend.Wrap(lend.EINTERNAL, err, "writing %s: %v", filepath.Base(s.f.Name()), err)
	}
	s.closed = true
	if err := s.f.Close(); err != nil {
		return lend.Wrap(lend.EINTERNAL, err, "closing %s: %v", filepath.Base(s.f.Name()), err)
	}
	return nil
}

func (s *fileSink) abort() {
	if !s.closed {
		s.f.Close()
	}
}

// txWriter writes the transaction columns of blocks.
type txWriter interface {
	writeBlock(b *block) error
	close() error
}

// csvTxWriter writes gzipped CSV: a header member, then one gzip member per
// block, compressed by the workers. Concatenated members are one valid gzip
// stream (RFC 1952 §2.2).
type csvTxWriter struct{ w io.Writer }

const csvHeader = "merchant_id,ts,amount,type,buyer_id,currency\n"

func newCSVTxWriter(w io.Writer) (*csvTxWriter, error) {
	hb := &block{csvText: []byte(csvHeader)}
	if err := gzipBlock(hb); err != nil {
		return nil, err
	}
	if _, err := w.Write(hb.csv.Bytes()); err != nil {
		return nil, err
	}
	return &csvTxWriter{w: w}, nil
}

func (c *csvTxWriter) writeBlock(b *block) error {
	_, err := c.w.Write(b.csv.Bytes())
	return err
}

func (c *csvTxWriter) close() error { return nil }

// parquetTxWriter writes one row group per block.
type parquetTxWriter struct{ w *file.Writer }

// transactionsSchema is the Parquet schema of SPEC §2.1: ts is a TIMESTAMP in
// microseconds, not adjusted to UTC (DuckDB reads it as TIMESTAMP, wall clock
// in UTC); amount is DECIMAL(18,2) stored as int64 minor units.
func transactionsSchema() (*schema.GroupNode, error) {
	req, opt := parquet.Repetitions.Required, parquet.Repetitions.Optional
	str := schema.StringLogicalType{}
	nodes := []struct {
		name string
		rep  parquet.Repetition
		lt   schema.LogicalType
		pt   parquet.Type
	}{
		{"merchant_id", req, str, parquet.Types.ByteArray},
		{"ts", req, schema.NewTimestampLogicalTypeForce(false, schema.TimeUnitMicros), parquet.Types.Int64},
		{"amount", req, schema.NewDecimalLogicalType(18, 2), parquet.Types.Int64},
		{"type", req, str, parquet.Types.ByteArray},
		{"buyer_id", opt, str, parquet.Types.ByteArray},
		{"currency", req, str, parquet.Types.ByteArray},
	}
	fields := make(schema.FieldList, 0, len(nodes))
	for _, n := range nodes {
		node, err := schema.NewPrimitiveNodeLogical(n.name, n.rep, n.lt, n.pt, -1, -1)
		if err != nil {
			return nil, err
		}
		fields = append(fields, node)
	}
	return schema.NewGroupNode("schema", req, fields, -1)
}

func newParquetTxWriter(w io.Writer) (*parquetTxWriter, error) {
	sc, err := transactionsSchema()
	if err != nil {
		return nil, lend.Wrap(lend.EINTERNAL, err, "transactions schema: %v", err)
	}
	props := parquet.NewWriterProperties(
		parquet.WithCompression(compress.Codecs.Snappy),
		// Dictionaries only where values repeat: they make merchant_id, type and
		// currency nearly free; on unique-ish columns they cost time for nothing.
		parquet.WithDictionaryDefault(false),
		parquet.WithDictionaryFor("merchant_id", false),
		parquet.WithDictionaryFor("type", false),
		parquet.WithDictionaryFor("currency", false),
		parquet.WithStatsFor("buyer_id", false),
		parquet.WithMaxRowGroupLength(math.MaxInt64),
		parquet.WithCreatedBy("lend gen"),
	)
	fw, err := file.NewParquetWriterWithError(w, sc, file.WithWriterProps(props))
	if err != nil {
		return nil, lend.Wrap(lend.EINTERNAL, err, "transactions parquet: %v", err)
	}
	return &parquetTxWriter{w: fw}, nil
}

func (p *parquetTxWriter) writeBlock(b *block) error {
	if b.rows == 0 {
		return nil
	}
	rg, err := p.w.AppendRowGroupChecked()
	if err != nil {
		return err
	}
	for col := range 6 {
		cw, err := rg.NextColumn()
		if err != nil {
			return err
		}
		switch col {
		case 0:
			_, err = cw.(*file.ByteArrayColumnChunkWriter).WriteBatch(b.mid, nil, nil)
		case 1:
			_, err = cw.(*file.Int64ColumnChunkWriter).WriteBatch(b.tsMicros, nil, nil)
		case 2:
			_, err = cw.(*file.Int64ColumnChunkWriter).WriteBatch(b.amtMinor, nil, nil)
		case 3:
			_, err = cw.(*file.ByteArrayColumnChunkWriter).WriteBatch(b.typ, nil, nil)
		case 4:
			_, err = cw.(*file.ByteArrayColumnChunkWriter).WriteBatch(b.buyer, b.buyerDef, nil)
		case 5:
			_, err = cw.(*file.ByteArrayColumnChunkWriter).WriteBatch(b.cur, nil, nil)
		}
		if err != nil {
			return err
		}
	}
	return rg.Close()
}

func (p *parquetTxWriter) close() error { return p.w.Close() }

// gzipBlock compresses b.csvText into b.csv as one gzip member.
func gzipBlock(b *block) error {
	b.csv.Reset()
	if b.gz == nil {
		gz, err := newGzip(&b.csv)
		if err != nil {
			return err
		}
		b.gz = gz
	} else {
		b.gz.Reset(&b.csv)
	}
	if _, err := b.gz.Write(b.csvText); err != nil {
		return err
	}
	return b.gz.Close()
}

// String renders the summary for humans.
func (s Summary) String() string {
	auc := "n/a (one class only)"
	if !math.IsNaN(s.OracleAUC) {
		auc = fmt.Sprintf("%.4f", s.OracleAUC)
	}
	return fmt.Sprintf("merchants %d, transactions %d (sales %d, refunds %d, chargebacks %d), bad rate %.4f (%d bad, mean true PD %.4f), oracle AUC %s",
		s.Merchants, s.Transactions, s.Sales, s.Refunds, s.Chargebacks, s.BadRate, s.Bad, s.MeanPD, auc)
}
