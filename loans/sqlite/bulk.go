package sqlite

import (
	"strings"

	"github.com/lendhq/lend"
	"github.com/lendhq/lend/loans"
)

// Applications are the commonest command and the simplest: a key lookup and
// two inserts, with nothing read or changed that another command of the
// group touches. When a group commit holds several in a row, the writer runs
// them as one multi-row statement each instead of five statements per
// command (SAVEPOINT, lookup, two INSERTs, RELEASE): the writer is the one
// serial part of a decision, so its time per command sets how long every
// request of a group waits.

// maxBulkChunk is the most applications one multi-row statement carries.
// Runs are cut into power-of-two chunks, so each statement text (one per
// chunk size) is prepared once and stays in the statement cache.
const maxBulkChunk = 64

// bulkSQL holds the lookup and insert statements for each chunk size.
var bulkSQL = func() map[int][3]string {
	m := make(map[int][3]string)
	for n := 1; n <= maxBulkChunk; n *= 2 {
		m[n] = [3]string{
			// CROSS JOIN keeps the VALUES list outside, so each key is a
			// primary-key search (a row-value IN over VALUES scans the table).
			`SELECT i.merchant_id, i.key, i.op, i.request_hash, i.response FROM (VALUES ` + placeholders(n, 2) +
				`) AS v CROSS JOIN loans_idempotency AS i ON i.merchant_id = v.column1 AND i.key = v.column2`,
			`INSERT INTO applications (id, merchant_id, body, status, created_at) VALUES ` + placeholders(n, 5),
			`INSERT INTO loans_idempotency VALUES ` + placeholders(n, 6),
		}
	}
	return m
}()

// placeholders is n rows of cols "?" each: (?, ?), (?, ?).
func placeholders(n, cols int) string {
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", cols), ", ") + ")"
	return strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
}

// chunks cuts n into power-of-two sizes of at most maxBulkChunk.
func chunks(n int) []int {
	var out []int
	for n > 0 {
		c := maxBulkChunk
		for c > n {
			c /= 2
		}
		out = append(out, c)
		n -= c
	}
	return out
}

// bulkRun is the end of the run of checked applications starting at
// batch[i] with no key twice (a repeated key ends the run: its second
// command must see the first one's result, so it runs after the run).
func bulkRun(batch []op, i int) int {
	type mk struct{ merchant, key string }
	var seen map[mk]bool
	j := i
	for ; j < len(batch) && batch[j].app != nil && batch[j].app.pre == nil; j++ {
		k := mk{batch[j].app.k.merchantID, batch[j].app.k.key}
		if seen[k] {
			break
		}
		if seen == nil {
			seen = make(map[mk]bool)
		}
		seen[k] = true
	}
	return j
}

// bulkApplications answers a run of checked application commands of one
// group in its own savepoint, with the same results the commands would get
// one by one: a stored key replays (or is EUNPROCESSABLE), a new one is
// inserted with its key. The run's keys are distinct (bulkRun). It declines
// (done false, nothing written) when a statement fails; the writer then runs
// the commands one by one, each in its savepoint. A non-nil error means the
// transaction is unusable.
func (s *Store) bulkApplications(tx *Tx, ops []op, res []result) (done bool, err error) {
	type mk struct{ merchant, key string }
	index := make(map[mk]int, len(ops))
	for i, o := range ops {
		index[mk{o.app.k.merchantID, o.app.k.key}] = i
	}
	if _, err := tx.Exec("SAVEPOINT bulk"); err != nil {
		return false, nil
	}
	if err := s.bulkInsert(tx, ops, res, func(merchant, key string) int { return index[mk{merchant, key}] }); err != nil {
		_, e1 := tx.Exec("ROLLBACK TO bulk")
		_, e2 := tx.Exec("RELEASE bulk")
		clear(res)
		if e1 != nil || e2 != nil {
			return false, lend.Errorf(lend.EINTERNAL, "rollback to savepoint failed: %v %v", e1, e2)
		}
		return false, nil
	}
	if _, err := tx.Exec("RELEASE bulk"); err != nil {
		clear(res)
		if _, e1 := tx.Exec("ROLLBACK TO bulk"); e1 != nil {
			return false, lend.Errorf(lend.EINTERNAL, "release failed: %v; rollback to savepoint failed: %v", err, e1)
		}
		_, _ = tx.Exec("RELEASE bulk")
		return false, nil
	}
	return true, nil
}

// bulkInsert looks up the run's keys, fills the results of stored ones and
// inserts the others with explicit ids after the largest (the writer holds
// the write lock, so they are the ids SQLite would have given one by one).
func (s *Store) bulkInsert(tx *Tx, ops []op, res []result, index func(merchant, key string) int) error {
	stored := make([]bool, len(ops))
	type hit struct {
		i        int
		op       string
		hash, rv []byte
	}
	var hits []hit
	at := 0
	for _, n := range chunks(len(ops)) {
		args := make([]any, 0, 2*n)
		for _, o := range ops[at : at+n] {
			args = append(args, o.app.k.merchantID, o.app.k.key)
		}
		at += n
		rows, err := tx.Query(bulkSQL[n][0], args...)
		if err != nil {
			return internal(err, "idempotency lookup")
		}
		for rows.Next() {
			var merchant, key string
			var h hit
			if err := rows.Scan(&merchant, &key, &h.op, &h.hash, &h.rv); err != nil {
				rows.Close()
				return internal(err, "idempotency lookup")
			}
			h.i = index(merchant, key)
			stored[h.i] = true
			hits = append(hits, h)
		}
		if err := rows.Close(); err != nil {
			return internal(err, "idempotency lookup")
		}
		if err := rows.Err(); err != nil {
			return internal(err, "idempotency lookup")
		}
	}
	for _, h := range hits {
		v, err := ops[h.i].app.k.replay(tx, h.op, h.hash, h.rv)
		if lend.ErrorCode(err) == lend.EINTERNAL {
			return err
		}
		if err != nil {
			res[h.i] = result{err: err}
		} else {
			res[h.i] = result{v: v}
		}
	}
	fresh := make([]int, 0, len(ops))
	var lines map[string]*loans.CreditLine // the run's merchants' stored lines, read once
	for i, o := range ops {
		if stored[i] {
			continue
		}
		if want := o.app.line; want != nil {
			m := o.app.k.merchantID
			cur, ok := lines[m]
			if !ok {
				var err error
				if cur, err = storedLine(tx, m); err != nil {
					return err
				}
				if lines == nil {
					lines = make(map[string]*loans.CreditLine)
				}
				lines[m] = cur
			}
			if cur == nil || !loans.SameLine(*cur, *want) {
				res[i] = result{err: loans.ErrLineChanged}
				continue
			}
		}
		fresh = append(fresh, i)
	}
	if len(fresh) == 0 {
		return nil
	}
	var last int64
	if err := tx.QueryRow(`SELECT coalesce(max(id), 0) FROM applications`).Scan(&last); err != nil {
		return internal(err, "next application id")
	}
	now := nowText(s.now())
	at = 0
	for _, n := range chunks(len(fresh)) {
		apps := make([]any, 0, 5*n)
		keys := make([]any, 0, 6*n)
		for _, i := range fresh[at : at+n] {
			r := ops[i].app
			last++
			apps = append(apps, last, r.k.merchantID, string(r.body), r.status, r.created)
			keys = append(keys, r.k.merchantID, r.k.key, r.k.op, r.k.hash[:], appRef(last), now)
			res[i] = result{v: newApp(last)}
		}
		at += n
		if _, err := tx.Exec(bulkSQL[n][1], apps...); err != nil {
			return internal(err, "insert application")
		}
		if _, err := tx.Exec(bulkSQL[n][2], keys...); err != nil {
			return internal(err, "store idempotency key")
		}
	}
	return nil
}
