package features

// sqleval is an in-process evaluator of the registry's own SQL text: the
// second executor of the one definition. The online path parses the very
// queries that preOnlyQuery and featureQueryOverPre* generate (once per
// query text), binds them to Go tables and runs them over Go rows, which
// removes DuckDB's fixed per-query execution cost (≈ 5 ms, 10–20 ms in slow
// calls) from every ingest. Validation and the batch pipeline stay on
// DuckDB; the parity tests hold the two executors to bit-for-bit equality.

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strings"
)

// evalTable is a relation: column names and rows.
type evalTable struct {
	cols []string
	rows [][]value
}

// sqlEval parses and binds queries over a fixed set of input tables and
// caches the plan of each query text. Not safe for concurrent use.
type sqlEval struct {
	inputs []string            // input table names, by slot
	schema map[string][]string // input table columns
	plans  map[string]*sqlPlan
}

// sqlPlan is a bound query: cols are its output columns.
type sqlPlan struct {
	root   *qplan
	cols   []string
	nslots int
	inputs []string // input table of each of the first slots
	// params are the query's @name cells, set by runWith before a run (a
	// plan serves one run at a time, as its sqlEval does).
	params map[string]*value
}

// newSQLEval returns an evaluator over input tables with the given columns.
func newSQLEval(schema map[string][]string) *sqlEval {
	e := &sqlEval{schema: schema, plans: map[string]*sqlPlan{}}
	for name := range schema {
		e.inputs = append(e.inputs, name)
	}
	slices.Sort(e.inputs)
	return e
}

// maxPlans bounds the plan cache: queries carry their as-of day, so old
// days' plans are dropped all at once.
const maxPlans = 32

// plan returns the cached plan of sql, parsing and binding it on first use.
func (e *sqlEval) plan(sql string) (*sqlPlan, error) {
	if p := e.plans[sql]; p != nil {
		return p, nil
	}
	q, err := parseSQL(sql)
	if err != nil {
		return nil, err
	}
	b := &binder{eval: e, nslots: len(e.inputs)}
	env := &tabEnv{}
	for i, name := range e.inputs {
		env = &tabEnv{name: name, slot: i, cols: e.schema[name], up: env}
	}
	root, err := b.query(q, env)
	if err != nil {
		return nil, err
	}
	p := &sqlPlan{root: root, cols: root.cols, nslots: b.nslots, inputs: e.inputs, params: b.params}
	if len(e.plans) >= maxPlans {
		clear(e.plans)
	}
	e.plans[sql] = p
	return p, nil
}

// run executes the plan over the named input tables (each shaped as its
// schema says); a query with @parameters needs runWith.
func (p *sqlPlan) run(inputs map[string][][]value) (*evalTable, error) {
	return p.runWith(inputs, nil)
}

// runWith is run with the values of the query's @parameters: every one
// must be given (a missing one is an error, not a NULL).
func (p *sqlPlan) runWith(inputs map[string][][]value, params map[string]value) (*evalTable, error) {
	for name, cell := range p.params {
		v, ok := params[name]
		if !ok {
			return nil, fmt.Errorf("sqleval: no value for parameter @%s", name)
		}
		*cell = v
	}
	rt := &evalRun{tabs: make([]*evalTable, p.nslots)}
	for i, name := range p.inputs {
		rt.tabs[i] = &evalTable{rows: inputs[name]}
	}
	return rt.query(p.root)
}

// Plans.

type cexpr func(row []value, lam []value) (value, error)

type qplan struct {
	ctes    []ctePlan
	selects []*splan
	cols    []string
}

type ctePlan struct {
	slot int
	q    *qplan
}

type srcPlan struct {
	slot  int    // a table (input or CTE) …
	sub   *qplan // … or a subquery
	width int
}

type joinPlan struct {
	src srcPlan
	on  cexpr // over the concatenated row
}

type aggSpec struct {
	fn      string
	op      aggOp // fn by number
	star    bool
	arg     cexpr
	argSlot int // the row column arg reads as a whole, or -1
	filter  cexpr
	// filterIdx is filter's index in splan.filters (-1 without FILTER):
	// aggregates with the same condition share it, evaluated once a row.
	filterIdx int
}

type orderPlan struct {
	e    cexpr
	desc bool
}

type splan struct {
	from    *srcPlan // nil: one row without columns
	joins   []joinPlan
	where   cexpr
	agg     bool
	groupBy []cexpr
	// groupSlots: for each GROUP BY key, the input column it reads as a
	// whole (read without a call), or -1 for an expression.
	groupSlots []int
	aggs       []aggSpec
	filters    []cexpr // the distinct FILTER conditions of aggs, by text
	having     cexpr
	items      []cexpr
	order      []orderPlan
	// itemSlots: for each item of a non-aggregate select, the input column
	// it copies, or -1 for an expression.
	itemSlots []int
	// slots: for each item of an aggregate select, its slot in the group
	// row (a GROUP BY key or an aggregate) or -1 for an expression.
	slots []int
	// identity: an aggregate select whose items are its group row's slots
	// in order (keys then aggregates), as preSQL's.
	identity bool
	// passThrough: SELECT * alone, without WHERE, aggregates or ORDER BY:
	// the input rows are the output rows (never modified in place).
	passThrough bool
}

// Binding.

// tabEnv resolves table names: CTEs shadow outer names and input tables.
type tabEnv struct {
	name string
	slot int
	cols []string
	up   *tabEnv
}

func (t *tabEnv) lookup(name string) *tabEnv {
	for ; t != nil; t = t.up {
		if name != "" && t.name == name {
			return t
		}
	}
	return nil
}

type scopeCol struct{ qual, name string }

type scope struct {
	cols []scopeCol
}

func (s *scope) resolve(c *colRef) (int, error) {
	idx := -1
	for i, sc := range s.cols {
		if sc.name == c.name && (c.qual == "" || sc.qual == c.qual) {
			if idx >= 0 {
				return 0, fmt.Errorf("sqleval: column reference %s is ambiguous", c)
			}
			idx = i
		}
	}
	if idx < 0 {
		return 0, fmt.Errorf("sqleval: column %s not found", c)
	}
	return idx, nil
}

type binder struct {
	eval      *sqlEval
	nslots    int
	constMemo map[expr]bool
	params    map[string]*value // @name → the cell its closures read
}

func (b *binder) query(q *query, env *tabEnv) (*qplan, error) {
	qp := &qplan{}
	for _, c := range q.ctes {
		sub, err := b.query(c.q, env)
		if err != nil {
			return nil, fmt.Errorf("%w (in CTE %s)", err, c.name)
		}
		slot := b.nslots
		b.nslots++
		qp.ctes = append(qp.ctes, ctePlan{slot, sub})
		env = &tabEnv{name: c.name, slot: slot, cols: sub.cols, up: env}
	}
	for i, s := range q.selects {
		sp, cols, err := b.selectStmt(s, env)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			qp.cols = cols
		} else if len(cols) != len(qp.cols) {
			return nil, fmt.Errorf("sqleval: UNION ALL of %d and %d columns", len(qp.cols), len(cols))
		}
		qp.selects = append(qp.selects, sp)
	}
	return qp, nil
}

func (b *binder) source(f *fromItem, env *tabEnv) (srcPlan, []scopeCol, error) {
	var sp srcPlan
	var cols []string
	qual := f.alias
	if f.sub != nil {
		sub, err := b.query(f.sub, env)
		if err != nil {
			return sp, nil, err
		}
		sp.sub, sp.slot, cols = sub, -1, sub.cols
	} else {
		t := env.lookup(f.table)
		if t == nil {
			return sp, nil, fmt.Errorf("sqleval: table %s not found", f.table)
		}
		sp.slot, cols = t.slot, t.cols
		if qual == "" {
			qual = f.table
		}
	}
	sp.width = len(cols)
	sc := make([]scopeCol, len(cols))
	for i, c := range cols {
		sc[i] = scopeCol{qual, c}
	}
	return sp, sc, nil
}

// bctx is the binding context of an expression: its scope, the lambda
// parameters in force and, after aggregation, the group keys and
// aggregates it may reference.
type bctx struct {
	sc     *scope
	lams   []string
	post   *postAgg // nil: a row of sc
	noAggs string   // where aggregates are refused ("WHERE", …), "" allowed only with post
}

type postAgg struct {
	sp          *splan
	keys        []expr
	keyIdx      []int // scope index of a key that is a plain column, else -1
	aggNames    []string
	filterNames []string // splan.filters' texts
	b           *binder
	sc          *scope
}

func (b *binder) selectStmt(s *selectStmt, env *tabEnv) (*splan, []string, error) {
	sp := &splan{}
	sc := &scope{}
	if s.from != nil {
		src, cols, err := b.source(s.from, env)
		if err != nil {
			return nil, nil, err
		}
		sp.from = &src
		sc.cols = cols
		for _, j := range s.joins {
			src, cols, err := b.source(j.item, env)
			if err != nil {
				return nil, nil, err
			}
			sc.cols = append(sc.cols, cols...)
			on, err := b.expr(j.on, &bctx{sc: sc, noAggs: "JOIN … ON"})
			if err != nil {
				return nil, nil, err
			}
			sp.joins = append(sp.joins, joinPlan{src, on})
		}
	}
	var err error
	if s.where != nil {
		if sp.where, err = b.expr(s.where, &bctx{sc: sc, noAggs: "WHERE"}); err != nil {
			return nil, nil, err
		}
	}
	sp.agg = len(s.groupBy) > 0 || s.having != nil
	for _, it := range s.items {
		if !it.star && hasAgg(it.e) {
			sp.agg = true
		}
	}
	var cols []string
	ctx := &bctx{sc: sc}
	if sp.agg {
		pa := &postAgg{sp: sp, b: b, sc: sc}
		for _, g := range s.groupBy {
			ce, err := b.expr(g, &bctx{sc: sc, noAggs: "GROUP BY"})
			if err != nil {
				return nil, nil, err
			}
			sp.groupBy = append(sp.groupBy, ce)
			sp.groupSlots = append(sp.groupSlots, rowSlot(g, &bctx{sc: sc}))
			pa.keys = append(pa.keys, g)
			k := -1
			if c, ok := g.(*colRef); ok {
				k, _ = sc.resolve(c)
			}
			pa.keyIdx = append(pa.keyIdx, k)
		}
		ctx = &bctx{sc: sc, post: pa}
		if s.having != nil {
			if sp.having, err = b.expr(s.having, ctx); err != nil {
				return nil, nil, err
			}
		}
	}
	for _, it := range s.items {
		if it.star {
			if sp.agg {
				return nil, nil, fmt.Errorf("sqleval: SELECT * with aggregates is not supported")
			}
			for i, c := range sc.cols {
				i := i
				sp.items = append(sp.items, func(row, _ []value) (value, error) { return row[i], nil })
				sp.itemSlots = append(sp.itemSlots, i)
				cols = append(cols, c.name)
			}
			continue
		}
		ce, err := b.expr(it.e, ctx)
		if err != nil {
			return nil, nil, err
		}
		sp.items = append(sp.items, ce)
		if ctx.post != nil {
			sp.slots = append(sp.slots, ctx.post.slotOf(it.e))
		} else {
			sp.itemSlots = append(sp.itemSlots, rowSlot(it.e, ctx))
		}
		name := it.alias
		if name == "" {
			if c, ok := it.e.(*colRef); ok {
				name = c.name
			} else {
				name = it.e.String()
			}
		}
		cols = append(cols, name)
	}
	sp.passThrough = len(s.items) == 1 && s.items[0].star && s.where == nil && !sp.agg && len(s.orderBy) == 0
	if sp.agg && len(sp.slots) == len(sp.groupBy)+len(sp.aggs) {
		sp.identity = true
		for i, sl := range sp.slots {
			if sl != i {
				sp.identity = false
			}
		}
	}
	for _, o := range s.orderBy {
		// An output alias first (as DuckDB does), else an expression of the
		// select's own context.
		var ce cexpr
		if c, ok := o.e.(*colRef); ok && c.qual == "" {
			for i, n := range cols {
				if n == c.name {
					i := i
					ce = func(row, _ []value) (value, error) { return row[i], nil }
					break
				}
			}
			if ce != nil {
				sp.order = append(sp.order, orderPlan{orderOnOutput(ce), o.desc})
				continue
			}
		}
		if ce, err = b.expr(o.e, ctx); err != nil {
			return nil, nil, err
		}
		sp.order = append(sp.order, orderPlan{ce, o.desc})
	}
	return sp, cols, nil
}

// orderOnOutput makes an ORDER BY key that reads the output row (the
// runtime passes it as the only lambda value of order keys).
func orderOnOutput(f cexpr) cexpr {
	return func(row, lam []value) (value, error) {
		if len(lam) == 1 && lam[0].k == vList {
			return f(lam[0].list(), nil)
		}
		return nullV, fmt.Errorf("sqleval: internal: output key without the output row")
	}
}

func hasAgg(e expr) bool {
	found := false
	walk(e, func(x expr) {
		if c, ok := x.(*callExpr); ok && aggFuncs[c.name] {
			found = true
		}
	})
	return found
}

func walk(e expr, f func(expr)) {
	if e == nil {
		return
	}
	f(e)
	switch x := e.(type) {
	case *unaryExpr:
		walk(x.x, f)
	case *binExpr:
		walk(x.l, f)
		walk(x.r, f)
	case *isNullExpr:
		walk(x.x, f)
	case *inExpr:
		walk(x.x, f)
		for _, y := range x.list {
			walk(y, f)
		}
	case *betweenExpr:
		walk(x.x, f)
		walk(x.lo, f)
		walk(x.hi, f)
	case *caseExpr:
		for i := range x.whens {
			walk(x.whens[i], f)
			walk(x.thens[i], f)
		}
		walk(x.els, f)
	case *castExpr:
		walk(x.x, f)
	case *callExpr:
		for _, a := range x.args {
			walk(a, f)
		}
		walk(x.filter, f)
	case *sliceExpr:
		walk(x.x, f)
		walk(x.lo, f)
		walk(x.hi, f)
	case *lambdaExpr:
		walk(x.body, f)
	}
}

func (b *binder) exprs(es []expr, ctx *bctx) ([]cexpr, error) {
	out := make([]cexpr, len(es))
	for i, e := range es {
		c, err := b.expr(e, ctx)
		if err != nil {
			return nil, err
		}
		out[i] = c
	}
	return out, nil
}

// expr compiles e in ctx; a subexpression without columns, aggregates or
// lambda parameters is evaluated once, here (unless that fails: then at
// run time, where DuckDB would fail too).
func (b *binder) expr(e expr, ctx *bctx) (cexpr, error) {
	f, err := b.expr0(e, ctx)
	if err != nil {
		return nil, err
	}
	if _, lit := e.(*litExpr); !lit && b.isConst(e) {
		if v, err := f(nil, nil); err == nil {
			return func(_, _ []value) (value, error) { return v, nil }, nil
		}
	}
	return f, nil
}

// isConst reports whether e reads no column, lambda parameter or
// aggregate (memoized: binding stays linear in the query's size).
func (b *binder) isConst(e expr) bool {
	if c, ok := b.constMemo[e]; ok {
		return c
	}
	c := true
	switch x := e.(type) {
	case *litExpr:
	case *colRef, *lambdaExpr, *paramExpr:
		c = false
	case *callExpr:
		c = !aggFuncs[x.name] && !x.star && x.filter == nil
		for _, a := range x.args {
			c = b.isConst(a) && c
		}
	case *unaryExpr:
		c = b.isConst(x.x)
	case *binExpr:
		c = b.isConst(x.l) && b.isConst(x.r)
	case *castExpr:
		c = b.isConst(x.x)
	case *isNullExpr:
		c = b.isConst(x.x)
	default:
		c = false // CASE, IN, BETWEEN, slices: not folded
	}
	if b.constMemo == nil {
		b.constMemo = map[expr]bool{}
	}
	b.constMemo[e] = c
	return c
}

func (b *binder) expr0(e expr, ctx *bctx) (cexpr, error) {
	if pa := ctx.post; pa != nil {
		// After aggregation: an aggregate is a slot of the group row, an
		// expression equal to a GROUP BY key is that key.
		if c, ok := e.(*callExpr); ok && aggFuncs[c.name] {
			return pa.aggregate(c)
		}
		for i, k := range pa.keys {
			i := i
			same := k.String() == e.String()
			if c, ok := e.(*colRef); ok && pa.keyIdx[i] >= 0 && !isLambdaParam(ctx, c) {
				if j, err := pa.sc.resolve(c); err == nil && j == pa.keyIdx[i] {
					same = true
				}
			}
			if same {
				return func(row, _ []value) (value, error) { return row[i], nil }, nil
			}
		}
		if c, ok := e.(*colRef); ok && !isLambdaParam(ctx, c) {
			return nil, fmt.Errorf("sqleval: column %s must appear in the GROUP BY clause or be used in an aggregate function", c)
		}
	}
	switch x := e.(type) {
	case *litExpr:
		v := x.v
		return func(_, _ []value) (value, error) { return v, nil }, nil
	case *paramExpr:
		if b.params == nil {
			b.params = map[string]*value{}
		}
		cell := b.params[x.name]
		if cell == nil {
			cell = new(value)
			b.params[x.name] = cell
		}
		return func(_, _ []value) (value, error) { return *cell, nil }, nil
	case *colRef:
		if x.qual == "" {
			for i := len(ctx.lams) - 1; i >= 0; i-- {
				if ctx.lams[i] == x.name {
					i := i
					return func(_, lam []value) (value, error) { return lam[i], nil }, nil
				}
			}
		}
		i, err := ctx.sc.resolve(x)
		if err != nil {
			return nil, err
		}
		return func(row, _ []value) (value, error) { return row[i], nil }, nil
	case *unaryExpr:
		a, err := b.expr(x.x, ctx)
		if err != nil {
			return nil, err
		}
		if x.op == "not" {
			return func(row, lam []value) (value, error) {
				v, err := a(row, lam)
				if err != nil || v.k == vNull {
					return v, err
				}
				if v.k != vBool {
					return nullV, fmt.Errorf("sqleval: NOT of %s", kindNames[v.k])
				}
				return boolV(v.i == 0), nil
			}, nil
		}
		return func(row, lam []value) (value, error) {
			v, err := a(row, lam)
			if err != nil || v.k == vNull {
				return v, err
			}
			return arith("-", value{k: vInt}, v)
		}, nil
	case *binExpr:
		return b.binary(x, ctx)
	case *isNullExpr:
		a, err := b.expr(x.x, ctx)
		if err != nil {
			return nil, err
		}
		not := x.not
		return func(row, lam []value) (value, error) {
			v, err := a(row, lam)
			if err != nil {
				return v, err
			}
			return boolV((v.k == vNull) != not), nil
		}, nil
	case *inExpr:
		a, err := b.expr(x.x, ctx)
		if err != nil {
			return nil, err
		}
		list, err := b.exprs(x.list, ctx)
		if err != nil {
			return nil, err
		}
		not := x.not
		// A list of non-NULL constants (st IN ('refund', 'chargeback')):
		// evaluated once here; a value of a constant's own kind among
		// integers, timestamps, dates and strings is equal exactly when its
		// payload is (compare's answer), without a call per element.
		var consts []value
		for i, le := range x.list {
			if !b.isConst(le) {
				consts = nil
				break
			}
			c, err := list[i](nil, nil)
			if err != nil || c.k == vNull {
				consts = nil
				break
			}
			consts = append(consts, c)
		}
		if consts != nil {
			return func(row, lam []value) (value, error) {
				v, err := a(row, lam)
				if err != nil || v.k == vNull {
					return v, err
				}
				for _, c := range consts {
					eq := false
					switch {
					case v.k == c.k && v.k == vStr:
						eq = v.s == c.s
					case v.k == c.k && (v.k == vInt || v.k == vTS || v.k == vDate):
						eq = v.i == c.i
					default:
						cmp, err := compare(v, c)
						if err != nil {
							return nullV, err
						}
						eq = cmp == 0
					}
					if eq {
						return boolV(!not), nil
					}
				}
				return boolV(not), nil
			}, nil
		}
		return func(row, lam []value) (value, error) {
			v, err := a(row, lam)
			if err != nil || v.k == vNull {
				return v, err
			}
			sawNull := false
			for _, le := range list {
				w, err := le(row, lam)
				if err != nil {
					return w, err
				}
				if w.k == vNull {
					sawNull = true
					continue
				}
				c, err := compare(v, w)
				if err != nil {
					return nullV, err
				}
				if c == 0 {
					return boolV(!not), nil
				}
			}
			if sawNull {
				return nullV, nil
			}
			return boolV(not), nil
		}, nil
	case *betweenExpr:
		ge, err := b.binary(&binExpr{">=", x.x, x.lo}, ctx)
		if err != nil {
			return nil, err
		}
		le, err := b.binary(&binExpr{"<=", x.x, x.hi}, ctx)
		if err != nil {
			return nil, err
		}
		return func(row, lam []value) (value, error) {
			l, err := ge(row, lam)
			if err != nil {
				return l, err
			}
			r, err := le(row, lam)
			if err != nil {
				return r, err
			}
			return and3(l, r), nil
		}, nil
	case *caseExpr:
		// CASE WHEN col THEN col END (preSQL's CASE WHEN ok THEN …).
		if len(x.whens) == 1 && x.els == nil {
			ci, ti := rowSlot(x.whens[0], ctx), rowSlot(x.thens[0], ctx)
			if ci >= 0 && ti >= 0 {
				return func(row, _ []value) (value, error) {
					c := row[ci]
					if c.k == vBool {
						if c.i != 0 {
							return row[ti], nil
						}
						return nullV, nil
					}
					if c.k != vNull {
						return nullV, fmt.Errorf("sqleval: CASE WHEN condition is %s, not BOOLEAN", kindNames[c.k])
					}
					return nullV, nil
				}, nil
			}
		}
		whens, err := b.exprs(x.whens, ctx)
		if err != nil {
			return nil, err
		}
		thens, err := b.exprs(x.thens, ctx)
		if err != nil {
			return nil, err
		}
		var els cexpr
		if x.els != nil {
			if els, err = b.expr(x.els, ctx); err != nil {
				return nil, err
			}
		}
		return func(row, lam []value) (value, error) {
			for i, w := range whens {
				c, err := w(row, lam)
				if err != nil {
					return c, err
				}
				if c.k == vBool && c.i != 0 {
					return thens[i](row, lam)
				}
				if c.k != vBool && c.k != vNull {
					return nullV, fmt.Errorf("sqleval: CASE WHEN condition is %s, not BOOLEAN", kindNames[c.k])
				}
			}
			if els != nil {
				return els(row, lam)
			}
			return nullV, nil
		}, nil
	case *castExpr:
		a, err := b.expr(x.x, ctx)
		if err != nil {
			return nil, err
		}
		to, try := x.to, x.try
		return func(row, lam []value) (value, error) {
			v, err := a(row, lam)
			if err != nil || v.k == vNull {
				return v, err
			}
			v, err = castTo(v, to)
			if err == errCastInvalid && try {
				return nullV, nil
			}
			return v, err
		}, nil
	case *sliceExpr:
		l, err := b.expr(x.x, ctx)
		if err != nil {
			return nil, err
		}
		lo, err := b.expr(x.lo, ctx)
		if err != nil {
			return nil, err
		}
		hi, err := b.expr(x.hi, ctx)
		if err != nil {
			return nil, err
		}
		return func(row, lam []value) (value, error) {
			lv, err := l(row, lam)
			if err != nil || lv.k == vNull {
				return lv, err
			}
			a, err := lo(row, lam)
			if err != nil {
				return a, err
			}
			z, err := hi(row, lam)
			if err != nil {
				return z, err
			}
			return listSlice(lv, a, z)
		}, nil
	case *lambdaExpr:
		return nil, fmt.Errorf("sqleval: a lambda outside list_transform")
	case *callExpr:
		if aggFuncs[x.name] {
			if ctx.noAggs != "" {
				return nil, fmt.Errorf("sqleval: aggregate %s() in %s", x.name, ctx.noAggs)
			}
			return nil, fmt.Errorf("sqleval: aggregate %s() inside an aggregate or a lambda", x.name)
		}
		return b.scalarCall(x, ctx)
	}
	return nil, fmt.Errorf("sqleval: unsupported expression %s", e)
}

// noAggIn refuses an aggregate nested in e (an aggregate's argument).
func noAggIn(e expr) error {
	var err error
	walk(e, func(x expr) {
		if c, ok := x.(*callExpr); ok && aggFuncs[c.name] && err == nil {
			err = fmt.Errorf("sqleval: aggregate %s() in an aggregate's argument", c.name)
		}
	})
	return err
}

// slotOf is the group row slot that e reads as a whole (a key or an
// aggregate, after binding), or -1.
func (pa *postAgg) slotOf(e expr) int {
	if c, ok := e.(*callExpr); ok && aggFuncs[c.name] {
		if i := slices.Index(pa.aggNames, c.String()); i >= 0 {
			return len(pa.keys) + i
		}
		return -1
	}
	for i, k := range pa.keys {
		if k.String() == e.String() {
			return i
		}
		if c, ok := e.(*colRef); ok && pa.keyIdx[i] >= 0 {
			if j, err := pa.sc.resolve(c); err == nil && j == pa.keyIdx[i] {
				return i
			}
		}
	}
	return -1
}

// rowSlot is the index of the row column that e reads as a whole when e is
// a plain column reference read from the row (not a lambda parameter, not
// after aggregation), else -1.
func rowSlot(e expr, ctx *bctx) int {
	c, ok := e.(*colRef)
	if !ok || ctx.post != nil || isLambdaParam(ctx, c) {
		return -1
	}
	i, err := ctx.sc.resolve(c)
	if err != nil {
		return -1
	}
	return i
}

func isLambdaParam(ctx *bctx, c *colRef) bool {
	return c.qual == "" && slices.Contains(ctx.lams, c.name)
}

// aggregate registers an aggregate of the select (deduplicated by text)
// and returns its slot in the group row.
func (pa *postAgg) aggregate(c *callExpr) (cexpr, error) {
	key := c.String()
	for i, n := range pa.aggNames {
		if n == key {
			at := len(pa.keys) + i
			return func(row, _ []value) (value, error) { return row[at], nil }, nil
		}
	}
	inner := &bctx{sc: pa.sc, noAggs: "an aggregate's argument"}
	spec := aggSpec{fn: c.name, op: aggOps[c.name], star: c.star, argSlot: -1, filterIdx: -1}
	filter := c.filter
	if !c.star {
		if len(c.args) != 1 {
			return nil, fmt.Errorf("sqleval: %s() takes one argument", c.name)
		}
		arg := c.args[0]
		// agg(CASE WHEN c THEN x END) is agg(x) FILTER (WHERE c): the CASE
		// is NULL where c is not TRUE and every aggregate here ignores
		// NULLs (sumIf's shape, 26 times per feature query).
		if ce, ok := arg.(*caseExpr); ok && len(ce.whens) == 1 && ce.els == nil && filter == nil {
			if err := noAggIn(ce); err != nil {
				return nil, err
			}
			arg, filter = ce.thens[0], ce.whens[0]
		}
		spec.argSlot = rowSlot(arg, inner)
		f, err := pa.b.expr(arg, inner)
		if err != nil {
			return nil, err
		}
		spec.arg = f
	}
	if filter != nil {
		f, err := pa.b.expr(filter, &bctx{sc: pa.sc, noAggs: "FILTER"})
		if err != nil {
			return nil, err
		}
		spec.filter = f
		// The same condition (same text, same scope) is evaluated once
		// per row for all the aggregates it filters.
		text := filter.String()
		spec.filterIdx = slices.Index(pa.filterNames, text)
		if spec.filterIdx < 0 {
			spec.filterIdx = len(pa.filterNames)
			pa.filterNames = append(pa.filterNames, text)
			pa.sp.filters = append(pa.sp.filters, f)
		}
	}
	pa.sp.aggs = append(pa.sp.aggs, spec)
	pa.aggNames = append(pa.aggNames, key)
	at := len(pa.keys) + len(pa.aggNames) - 1
	return func(row, _ []value) (value, error) { return row[at], nil }, nil
}

func and3(l, r value) value {
	if l.k == vBool && l.i == 0 || r.k == vBool && r.i == 0 {
		return falseV
	}
	if l.k == vNull || r.k == vNull {
		return nullV
	}
	return trueV
}

func (b *binder) binary(x *binExpr, ctx *bctx) (cexpr, error) {
	switch x.op {
	case "and", "or":
		// A chain a AND b AND c … runs as one n-ary node, operands in
		// order, stopping at the first that decides it.
		var ops []expr
		var flat func(e expr)
		flat = func(e expr) {
			if y, ok := e.(*binExpr); ok && y.op == x.op {
				flat(y.l)
				flat(y.r)
				return
			}
			ops = append(ops, e)
		}
		flat(x)
		args, err := b.exprs(ops, ctx)
		if err != nil {
			return nil, err
		}
		// An operand that is a row column is read without a call.
		slots := make([]int, len(ops))
		for i, o := range ops {
			slots[i] = rowSlot(o, ctx)
		}
		isAnd := x.op == "and"
		name := strings.ToUpper(x.op)
		return func(row, lam []value) (value, error) {
			sawNull := false
			for i, a := range args {
				var v value
				if j := slots[i]; j >= 0 {
					v = row[j]
				} else {
					var err error
					if v, err = a(row, lam); err != nil {
						return v, err
					}
				}
				switch v.k {
				case vNull:
					sawNull = true
				case vBool:
					// FALSE decides an AND, TRUE an OR, whatever the rest.
					if (v.i != 0) != isAnd {
						return v, nil
					}
				default:
					return nullV, fmt.Errorf("sqleval: %s of %s", name, kindNames[v.k])
				}
			}
			if sawNull {
				return nullV, nil
			}
			return boolV(isAnd), nil
		}, nil
	}
	op := x.op
	f := binOps[op]
	if f == nil {
		return nil, fmt.Errorf("sqleval: operator %s is not supported", op)
	}
	l, err := b.expr(x.l, ctx)
	if err != nil {
		return nil, err
	}
	r, err := b.expr(x.r, ctx)
	if err != nil {
		return nil, err
	}
	// column op constant, the common shape (bk <= 2, st = 'sale'): one
	// closure call instead of three; expression op constant: two.
	if b.isConst(x.r) {
		if c, err := r(nil, nil); err == nil {
			if c.k == vNull {
				return func(_, _ []value) (value, error) { return nullV, nil }, nil
			}
			k := newConstOp(op, c, f)
			if i := rowSlot(x.l, ctx); i >= 0 {
				return func(row, _ []value) (value, error) {
					a := row[i]
					if a.k == vNull {
						return nullV, nil
					}
					return k.apply(a)
				}, nil
			}
			return func(row, lam []value) (value, error) {
				a, err := l(row, lam)
				if err != nil || a.k == vNull {
					return nullV, err
				}
				return k.apply(a)
			}, nil
		}
	}
	return func(row, lam []value) (value, error) {
		a, err := l(row, lam)
		if err != nil || a.k == vNull {
			return nullV, err
		}
		c, err := r(row, lam)
		if err != nil || c.k == vNull {
			return nullV, err
		}
		return f(a, c)
	}, nil
}

// constOp is a binary operator with a non-NULL constant right operand c:
// inline (apply's switch, no call) for a left value of c's own kind where
// DuckDB needs no cast (integer, timestamp and date comparisons, string
// equality, BIGINT + - and //), else f, the operator's general form (the
// same answers: TestSQLEvalSemantics).
type constOp struct {
	code constCode
	c    value
	f    func(a, b value) (value, error)
}

type constCode uint8

const (
	cGeneral constCode = iota
	cEq                // integer-like =, <>, <, <=, >, >=
	cNe
	cLt
	cLe
	cGt
	cGe
	cStrEq // string =, <>
	cStrNe
	cAdd // BIGINT +, -, // (by neither 0 nor -1)
	cSub
	cDiv
)

func newConstOp(op string, c value, f func(a, b value) (value, error)) *constOp {
	k := &constOp{c: c, f: f}
	switch c.k {
	case vInt, vTS, vDate:
		k.code = map[string]constCode{"=": cEq, "<>": cNe, "<": cLt, "<=": cLe, ">": cGt, ">=": cGe}[op]
	case vStr:
		k.code = map[string]constCode{"=": cStrEq, "<>": cStrNe}[op]
	}
	if c.k == vInt && k.code == cGeneral {
		switch {
		case op == "+":
			k.code = cAdd
		case op == "-":
			k.code = cSub
		case op == "//" && c.i != 0 && c.i != -1:
			k.code = cDiv
		}
	}
	return k
}

// apply is op(a, c) for a non-NULL a.
func (k *constOp) apply(a value) (value, error) {
	if a.k == k.c.k {
		ci := k.c.i
		switch k.code {
		case cEq:
			return boolV(a.i == ci), nil
		case cNe:
			return boolV(a.i != ci), nil
		case cLt:
			return boolV(a.i < ci), nil
		case cLe:
			return boolV(a.i <= ci), nil
		case cGt:
			return boolV(a.i > ci), nil
		case cGe:
			return boolV(a.i >= ci), nil
		case cStrEq:
			return boolV(a.s == k.c.s), nil
		case cStrNe:
			return boolV(a.s != k.c.s), nil
		case cAdd:
			r, err := addInt(a.i, ci)
			return intV(r), err
		case cSub:
			r, err := subInt(a.i, ci)
			return intV(r), err
		case cDiv:
			return intV(a.i / ci), nil
		}
	}
	return k.f(a, k.c)
}

// binOps are the NULL-propagating binary operators over non-NULL values.
var binOps = map[string]func(a, b value) (value, error){
	"+": func(a, b value) (value, error) { return arith("+", a, b) },
	"-": func(a, b value) (value, error) { return arith("-", a, b) },
	"*": func(a, b value) (value, error) { return arith("*", a, b) },
	"/": func(a, b value) (value, error) {
		// DuckDB's / is always DOUBLE division, IEEE: x / 0 is ±Inf or NaN.
		x, err := toFloat(a)
		if err != nil {
			return nullV, err
		}
		y, err := toFloat(b)
		if err != nil {
			return nullV, err
		}
		return floatV(x / y), nil
	},
	"//": func(a, b value) (value, error) {
		if a.k != vInt || b.k != vInt {
			return nullV, fmt.Errorf("sqleval: %s // %s is not supported (integers only)", kindNames[a.k], kindNames[b.k])
		}
		if b.i == 0 {
			return nullV, nil
		}
		if a.i == math.MinInt64 && b.i == -1 {
			return nullV, errOverflow
		}
		return intV(a.i / b.i), nil
	},
	"^": func(a, b value) (value, error) {
		x, err := toFloat(a)
		if err != nil {
			return nullV, err
		}
		y, err := toFloat(b)
		if err != nil {
			return nullV, err
		}
		if y == 2 {
			return floatV(x * x), nil
		}
		return floatV(math.Pow(x, y)), nil
	},
	"||": concat,
	"<<": func(a, b value) (value, error) { return shift(a, b, true) },
	">>": func(a, b value) (value, error) { return shift(a, b, false) },
	"=":  cmpOp(func(c int) bool { return c == 0 }),
	"<>": cmpOp(func(c int) bool { return c != 0 }),
	"<":  cmpOp(func(c int) bool { return c < 0 }),
	"<=": cmpOp(func(c int) bool { return c <= 0 }),
	">":  cmpOp(func(c int) bool { return c > 0 }),
	">=": cmpOp(func(c int) bool { return c >= 0 }),
}

func cmpOp(ok func(int) bool) func(a, b value) (value, error) {
	return func(a, b value) (value, error) {
		c, err := compare(a, b)
		if err != nil {
			return nullV, err
		}
		return boolV(ok(c)), nil
	}
}

// shift is << and >> of an integer by a BIGINT count, in the left
// operand's type.
func shift(a, b value, left bool) (value, error) {
	if b.k != vInt || a.k != vUint && a.k != vInt {
		return nullV, fmt.Errorf("sqleval: %s shift by %s is not supported", kindNames[a.k], kindNames[b.k])
	}
	if b.i < 0 || b.i >= 64 {
		return nullV, fmt.Errorf("sqleval: shift by %d is out of range", b.i)
	}
	if a.k == vUint {
		u := uint64(a.i)
		if left {
			u <<= uint(b.i)
		} else {
			u >>= uint(b.i)
		}
		return value{k: vUint, i: int64(u)}, nil
	}
	if left {
		if a.i < 0 || b.i > 0 && a.i >= 1<<(63-b.i) {
			return nullV, errOverflow
		}
		return intV(a.i << uint(b.i)), nil
	}
	return intV(a.i >> uint(b.i)), nil
}

func (b *binder) scalarCall(x *callExpr, ctx *bctx) (cexpr, error) {
	want := map[string]int{"sqrt": 1, "bit_count": 1, "epoch_us": 1, "list_sum": 1, "list_transform": 2}
	if n, ok := want[x.name]; ok && len(x.args) != n {
		return nil, fmt.Errorf("sqleval: %s() takes %d argument(s), got %d", x.name, n, len(x.args))
	}
	if len(x.args) == 0 {
		return nil, fmt.Errorf("sqleval: %s() needs arguments", x.name)
	}
	if x.name == "list_transform" {
		list, err := b.expr(x.args[0], ctx)
		if err != nil {
			return nil, err
		}
		lm, ok := x.args[1].(*lambdaExpr)
		if !ok {
			return nil, fmt.Errorf("sqleval: list_transform needs a lambda")
		}
		inner := *ctx
		inner.lams = append(slices.Clip(ctx.lams), lm.params...)
		body, err := b.expr(lm.body, &inner)
		if err != nil {
			return nil, err
		}
		base := len(ctx.lams)
		np := len(lm.params)
		return func(row, lam []value) (value, error) {
			lv, err := list(row, lam)
			if err != nil || lv.k == vNull {
				return lv, err
			}
			if lv.k != vList {
				return nullV, fmt.Errorf("sqleval: list_transform of %s", kindNames[lv.k])
			}
			out := make([]value, len(lv.list()))
			args := make([]value, base+np)
			copy(args, lam[:base])
			for i, el := range lv.list() {
				args[base] = el
				if np == 2 {
					args[base+1] = intV(int64(i + 1))
				}
				if out[i], err = body(row, args); err != nil {
					return nullV, err
				}
			}
			return listOf(out), nil
		}, nil
	}
	args, err := b.exprs(x.args, ctx)
	if err != nil {
		return nil, err
	}
	switch x.name {
	case "coalesce":
		return func(row, lam []value) (value, error) {
			for _, a := range args {
				v, err := a(row, lam)
				if err != nil || v.k != vNull {
					return v, err
				}
			}
			return nullV, nil
		}, nil
	case "least":
		return func(row, lam []value) (value, error) {
			best := nullV
			for _, a := range args {
				v, err := a(row, lam)
				if err != nil {
					return v, err
				}
				if v.k == vNull {
					continue
				}
				if best.k == vNull {
					best = v
					continue
				}
				c, err := compare(v, best)
				if err != nil {
					return nullV, err
				}
				if c < 0 {
					best = v
				}
			}
			return best, nil
		}, nil
	case "list_value":
		return func(row, lam []value) (value, error) {
			out := make([]value, len(args))
			for i, a := range args {
				v, err := a(row, lam)
				if err != nil {
					return v, err
				}
				out[i] = v
			}
			return listOf(out), nil
		}, nil
	}
	if f, ok, err := b.textCall(x, args); ok {
		return f, err
	}
	var f func(v value) (value, error)
	switch x.name {
	case "sqrt":
		f = func(v value) (value, error) {
			x, err := toFloat(v)
			if err != nil {
				return nullV, err
			}
			if x < 0 {
				return nullV, fmt.Errorf("sqleval: cannot take the square root of a negative number")
			}
			return floatV(math.Sqrt(x)), nil
		}
	case "bit_count":
		f = func(v value) (value, error) {
			if v.k != vUint && v.k != vInt {
				return nullV, fmt.Errorf("sqleval: bit_count of %s", kindNames[v.k])
			}
			return intV(int64(bits.OnesCount64(uint64(v.i)))), nil
		}
	case "epoch_us":
		f = func(v value) (value, error) {
			if v.k != vTS {
				return nullV, fmt.Errorf("sqleval: epoch_us of %s", kindNames[v.k])
			}
			return intV(v.i), nil
		}
	case "list_sum":
		f = listSum
	default:
		return nil, fmt.Errorf("sqleval: function %s() is not supported", x.name)
	}
	if j := rowSlot(x.args[0], ctx); j >= 0 {
		return func(row, _ []value) (value, error) {
			if v := row[j]; v.k != vNull {
				return f(v)
			}
			return nullV, nil
		}, nil
	}
	return func(row, lam []value) (value, error) {
		v, err := args[0](row, lam)
		if err != nil || v.k == vNull {
			return v, err
		}
		return f(v)
	}, nil
}

// listSum is list_sum: the sum aggregate over the list's elements in order
// (NULL elements skipped, NULL when none is left).
func listSum(v value) (value, error) {
	if v.k != vList {
		return nullV, fmt.Errorf("sqleval: list_sum of %s", kindNames[v.k])
	}
	var st aggState
	for _, el := range v.list() {
		if err := st.sum(el); err != nil {
			return nullV, err
		}
	}
	return st.result("sum"), nil
}

// listSlice is DuckDB's list[a:b] for 1-based inclusive bounds a, b ≥ 0.
func listSlice(l, a, b value) (value, error) {
	if l.k != vList {
		return nullV, fmt.Errorf("sqleval: slicing %s", kindNames[l.k])
	}
	if a.k == vNull || b.k == vNull {
		return nullV, nil
	}
	if a.k != vInt || b.k != vInt || a.i < 0 || b.i < 0 {
		return nullV, fmt.Errorf("sqleval: list slice bounds must be non-negative integers")
	}
	lo, hi := max(a.i, 1), min(b.i, int64(len(l.list())))
	if lo > hi {
		return listOf([]value{}), nil
	}
	return listOf(l.list()[lo-1 : hi]), nil
}

// Aggregation.

type aggState struct {
	v   value
	n   int64
	has bool
}

func (st *aggState) sum(v value) error {
	if v.k == vNull {
		return nil
	}
	if !st.has {
		switch v.k {
		case vInt, vDecW, vFloat:
		case vDec:
			// DuckDB's sum of a DECIMAL(18, s) is a DECIMAL(38, s).
			v = decW(v.wide(), v.scale)
		default:
			return fmt.Errorf("sqleval: sum of %s", kindNames[v.k])
		}
		st.v, st.has = v, true
		return nil
	}
	switch {
	case v.k == vFloat && st.v.k == vFloat:
		st.v.i = int64(math.Float64bits(st.v.fl() + v.fl()))
		return nil
	case v.k == vInt && st.v.k == vInt:
		s, err := addInt(st.v.i, v.i)
		st.v.i = s
		return err
	case (v.k == vDec || v.k == vDecW) && st.v.k == vDecW:
		if v.scale == st.v.scale {
			// The common case: 128-bit add with carry, no allocation.
			lo, c := bits.Add64(uint64(st.v.i), uint64(v.i), 0)
			vhi := v.hi
			if v.k == vDec {
				vhi = v.i >> 63
			}
			hi := st.v.hi + vhi + int64(c)
			if (st.v.hi < 0) == (vhi < 0) && (hi < 0) != (vhi < 0) {
				return errOverflow
			}
			st.v.i, st.v.hi = int64(lo), hi
			return nil
		}
	}
	if !isNumeric(v.k) || v.k == vUint || st.v.k == vUint {
		return fmt.Errorf("sqleval: sum over %s and %s", kindNames[st.v.k], kindNames[v.k])
	}
	// Mixed numeric types: DuckDB sums in their common type.
	var r value
	var err error
	if v.k == vFloat || st.v.k == vFloat {
		r, err = arith("+", st.v, v)
	} else {
		r, err = arithWide("+", st.v, v)
	}
	st.v = r
	return err
}

// aggOp is an aggregate function by number (aggSpec.op: no string
// switch per row and aggregate).
type aggOp uint8

const (
	aggNone aggOp = iota
	aggCount
	aggSum
	aggMin
	aggMax
	aggBitOr
)

var aggOps = map[string]aggOp{"count": aggCount, "sum": aggSum, "min": aggMin, "max": aggMax, "bit_or": aggBitOr}

func (st *aggState) add(fn string, v value) error { return st.addOp(aggOps[fn], v) }

func (st *aggState) addOp(op aggOp, v value) error {
	switch op {
	case aggCount:
		if v.k != vNull {
			st.n++
		}
	case aggSum:
		return st.sum(v)
	case aggMin, aggMax:
		if v.k == vNull {
			return nil
		}
		if !st.has {
			st.v, st.has = v, true
			return nil
		}
		c, err := compare(v, st.v)
		if err != nil {
			return err
		}
		if op == aggMin && c < 0 || op == aggMax && c > 0 {
			st.v = v
		}
	case aggBitOr:
		if v.k == vNull {
			return nil
		}
		if v.k != vUint && v.k != vInt {
			return fmt.Errorf("sqleval: bit_or of %s", kindNames[v.k])
		}
		if !st.has {
			st.v, st.has = v, true
			return nil
		}
		st.v.i |= v.i
	}
	return nil
}

func (st *aggState) result(fn string) value {
	if fn == "count" {
		return intV(st.n)
	}
	if !st.has {
		return nullV
	}
	return st.v
}

// Execution. Rows stream from a table through non-aggregate SELECTs
// (subqueries, SELECT *, projections, WHERE) one at a time in a reused
// buffer; only CTEs, aggregates, ORDER BY, join sides and the result are
// materialized.

type evalRun struct {
	tabs []*evalTable
}

// rowBlock hands out rows of width w from few allocations: the first for
// the expected number of rows n (or one row), then twice the last, up to
// 256 rows.
type rowBlock struct {
	w, n, last int
	buf        []value
}

func (b *rowBlock) next() []value {
	if len(b.buf) < b.w {
		n := b.n
		if n <= 0 {
			n = min(max(2*b.last, 1), 256)
		}
		b.buf = make([]value, b.w*n)
		b.n, b.last = 0, n
	}
	r := b.buf[:b.w:b.w]
	b.buf = b.buf[b.w:]
	return r
}

// rowSink receives streamed rows; a row is valid only during the call.
type rowSink func(row []value) error

// query materializes q.
func (rt *evalRun) query(q *qplan) (*evalTable, error) {
	out := &evalTable{cols: q.cols}
	if len(q.selects) == 1 && (q.selects[0].agg || len(q.selects[0].order) > 0) {
		// Already materialized by selectRows: no copy.
		if err := rt.materializeCTEs(q); err != nil {
			return nil, err
		}
		rows, err := rt.selectRows(q.selects[0], len(q.cols))
		if err != nil {
			return nil, err
		}
		out.rows = rows
		return out, nil
	}
	blk := rowBlock{w: len(q.cols)}
	err := rt.streamQuery(q, func(r []value) error {
		row := blk.next()
		copy(row, r)
		out.rows = append(out.rows, row)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// streamQuery materializes q's CTEs, then streams its SELECTs' rows in
// order (UNION ALL).
func (rt *evalRun) streamQuery(q *qplan, sink rowSink) error {
	if err := rt.materializeCTEs(q); err != nil {
		return err
	}
	for _, s := range q.selects {
		if err := rt.streamSelect(s, len(q.cols), sink); err != nil {
			return err
		}
	}
	return nil
}

// materializeCTEs computes q's CTEs into their table slots.
func (rt *evalRun) materializeCTEs(q *qplan) error {
	for _, c := range q.ctes {
		t, err := rt.query(c.q)
		if err != nil {
			return err
		}
		rt.tabs[c.slot] = t
	}
	return nil
}

// streamSource streams a FROM item's rows.
func (rt *evalRun) streamSource(s *srcPlan, sink rowSink) error {
	if s.sub != nil {
		return rt.streamQuery(s.sub, sink)
	}
	for _, r := range rt.tabs[s.slot].rows {
		if len(r) != s.width {
			return fmt.Errorf("sqleval: input row of %d columns, want %d", len(r), s.width)
		}
		if err := sink(r); err != nil {
			return err
		}
	}
	return nil
}

// sourceRows materializes a FROM item's rows.
func (rt *evalRun) sourceRows(s *srcPlan) ([][]value, error) {
	if s.sub == nil {
		err := rt.streamSource(s, func([]value) error { return nil }) // checks widths
		return rt.tabs[s.slot].rows, err
	}
	t, err := rt.query(s.sub)
	if err != nil {
		return nil, err
	}
	return t.rows, nil
}

// maxJoinRows bounds a join's result: the registry joins one row per
// merchant to at most one; a larger product is a query sqleval is not for.
const maxJoinRows = 1 << 20

// streamInput streams the rows of s's FROM clause (joins applied) that
// pass WHERE.
func (rt *evalRun) streamInput(s *splan, sink rowSink) error {
	if s.where != nil {
		next := sink
		sink = func(r []value) error {
			ok, err := s.where(r, nil)
			if err != nil {
				return err
			}
			if ok.k == vBool && ok.i != 0 {
				return next(r)
			}
			return nil
		}
	}
	if s.from == nil {
		return sink(nil)
	}
	if len(s.joins) == 0 {
		return rt.streamSource(s.from, sink)
	}
	in, err := rt.sourceRows(s.from)
	if err != nil {
		return err
	}
	width := s.from.width
	for _, j := range s.joins {
		right, err := rt.sourceRows(&j.src)
		if err != nil {
			return err
		}
		w := width + j.src.width
		blk := rowBlock{w: w, n: len(in) + 1}
		var joined [][]value
		for _, l := range in {
			matched := false
			for _, r := range right {
				row := blk.next()
				copy(row, l)
				copy(row[width:], r)
				ok, err := j.on(row, nil)
				if err != nil {
					return err
				}
				if ok.k == vBool && ok.i != 0 {
					joined = append(joined, row)
					matched = true
				}
			}
			if len(joined) >= maxJoinRows {
				return fmt.Errorf("sqleval: a join of more than %d rows", maxJoinRows)
			}
			if !matched {
				row := blk.next()
				copy(row, l)
				clear(row[width:])
				joined = append(joined, row)
			}
		}
		in, width = joined, w
	}
	for _, r := range in {
		if err := sink(r); err != nil {
			return err
		}
	}
	return nil
}

// streamSelect streams s's output rows.
func (rt *evalRun) streamSelect(s *splan, ncols int, sink rowSink) error {
	if s.agg || len(s.order) > 0 {
		rows, err := rt.selectRows(s, ncols)
		if err != nil {
			return err
		}
		for _, r := range rows {
			if err := sink(r); err != nil {
				return err
			}
		}
		return nil
	}
	if s.passThrough {
		return rt.streamInput(s, sink)
	}
	buf := make([]value, ncols)
	return rt.streamInput(s, func(r []value) error {
		for i, it := range s.items {
			if j := s.itemSlots[i]; j >= 0 {
				buf[i] = r[j]
				continue
			}
			v, err := it(r, nil)
			if err != nil {
				return err
			}
			buf[i] = v
		}
		return sink(buf)
	})
}

// selectRows materializes s's output rows (aggregation, ORDER BY).
func (rt *evalRun) selectRows(s *splan, ncols int) ([][]value, error) {
	var in [][]value
	if s.agg {
		var err error
		if in, err = rt.aggregate(s); err != nil {
			return nil, err
		}
		if s.identity && len(s.order) == 0 {
			return in, nil // the group rows are the output rows
		}
	} else {
		err := rt.streamInput(s, func(r []value) error {
			in = append(in, slices.Clone(r))
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	blk := rowBlock{w: ncols, n: len(in)}
	out := make([][]value, 0, len(in))
	var keys [][]value
	for _, r := range in {
		row := blk.next()
		for i, it := range s.items {
			v, err := it(r, nil)
			if err != nil {
				return nil, err
			}
			row[i] = v
		}
		out = append(out, row)
		if len(s.order) > 0 {
			k := make([]value, len(s.order))
			outRow := []value{listOf(row)}
			for i, o := range s.order {
				v, err := o.e(r, outRow)
				if err != nil {
					return nil, err
				}
				k[i] = v
			}
			keys = append(keys, k)
		}
	}
	if len(s.order) > 0 {
		idx := make([]int, len(out))
		for i := range idx {
			idx[i] = i
		}
		var sortErr error
		slices.SortStableFunc(idx, func(a, b int) int {
			for i, o := range s.order {
				x, y := keys[a][i], keys[b][i]
				c := 0
				switch {
				case x.k == vNull && y.k == vNull:
				case x.k == vNull: // NULLS LAST whatever the direction
					return 1
				case y.k == vNull:
					return -1
				default:
					var err error
					if c, err = compare(x, y); err != nil && sortErr == nil {
						sortErr = err
					}
				}
				if o.desc {
					c = -c
				}
				if c != 0 {
					return c
				}
			}
			return 0
		})
		if sortErr != nil {
			return nil, sortErr
		}
		sorted := make([][]value, len(out))
		for i, j := range idx {
			sorted[i] = out[j]
		}
		out = sorted
	}
	return out, nil
}

// aggregate groups s's input rows by s.groupBy (one group over all rows
// without GROUP BY, even over no rows) and returns the group rows (keys,
// then aggregates) that pass HAVING.
func (rt *evalRun) aggregate(s *splan) ([][]value, error) {
	nk, na := len(s.groupBy), len(s.aggs)
	type group struct {
		keys []value
		st   []aggState
	}
	var groups []*group
	index := map[string]int{}
	var kb []byte
	keys := make([]value, nk)
	if nk == 0 {
		groups = append(groups, &group{st: make([]aggState, na)})
	}
	// fres: each distinct FILTER condition's result for the current row
	// (filterUnknown until an aggregate asks for it).
	const filterUnknown, filterFalse, filterTrue = 0, 1, 2
	fres := make([]uint8, len(s.filters))
	// Group states come from one slab (grown by doubling), not one
	// allocation per group.
	var slab []aggState
	lastGroup, lastKey := -1, []byte(nil)
	err := rt.streamInput(s, func(r []value) error {
		g := (*group)(nil)
		if nk == 0 {
			g = groups[0]
		} else {
			kb = kb[:0]
			for i, ke := range s.groupBy {
				var v value
				if j := s.groupSlots[i]; j >= 0 {
					v = r[j]
				} else {
					var err error
					if v, err = ke(r, nil); err != nil {
						return err
					}
				}
				keys[i] = v
				kb = appendKey(kb, v)
			}
			// Rows come in time order: a row often has the previous row's
			// group, found without hashing.
			gi, ok := lastGroup, lastGroup >= 0 && string(kb) == string(lastKey)
			if !ok {
				gi, ok = index[string(kb)]
			}
			if !ok {
				gi = len(groups)
				index[string(kb)] = gi
				if len(slab) < na {
					slab = make([]aggState, na*min(max(len(groups), 4), 256))
				}
				st := slab[:na:na]
				slab = slab[na:]
				groups = append(groups, &group{keys: slices.Clone(keys), st: st})
			}
			g = groups[gi]
			if gi != lastGroup {
				lastGroup, lastKey = gi, append(lastKey[:0], kb...)
			}
		}
		clear(fres)
		for i := range s.aggs {
			a := &s.aggs[i]
			if fi := a.filterIdx; fi >= 0 {
				if fres[fi] == filterUnknown {
					ok, err := s.filters[fi](r, nil)
					if err != nil {
						return err
					}
					if ok.k != vBool && ok.k != vNull {
						return fmt.Errorf("sqleval: FILTER condition is %s, not BOOLEAN", kindNames[ok.k])
					}
					fres[fi] = filterFalse
					if ok.k == vBool && ok.i != 0 {
						fres[fi] = filterTrue
					}
				}
				if fres[fi] != filterTrue {
					continue
				}
			}
			v := trueV
			if a.argSlot >= 0 {
				v = r[a.argSlot]
			} else if !a.star {
				var err error
				if v, err = a.arg(r, nil); err != nil {
					return err
				}
			}
			if err := g.st[i].addOp(a.op, v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	blk := rowBlock{w: nk + na, n: len(groups)}
	out := make([][]value, 0, len(groups))
	for _, g := range groups {
		row := blk.next()
		copy(row, g.keys)
		for i := range s.aggs {
			row[nk+i] = g.st[i].result(s.aggs[i].fn)
		}
		if s.having != nil {
			ok, err := s.having(row, nil)
			if err != nil {
				return nil, err
			}
			if ok.k != vBool || ok.i == 0 {
				continue
			}
		}
		out = append(out, row)
	}
	return out, nil
}

// appendKey encodes a group key value; equal values (as GROUP BY sees
// them, NULLs together) encode equally.
func appendKey(b []byte, v value) []byte {
	b = append(b, byte(v.k))
	switch v.k {
	case vNull:
	case vStr:
		b = binary.AppendUvarint(b, uint64(len(v.s)))
		b = append(b, v.s...)
	case vFloat:
		f := v.fl()
		if f == 0 {
			f = 0 // -0 groups with 0
		}
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
	case vDec:
		b = append(b, v.scale)
		b = binary.LittleEndian.AppendUint64(b, uint64(v.i))
	case vDecW:
		b = append(b, v.scale)
		b = binary.LittleEndian.AppendUint64(b, uint64(v.i))
		b = binary.LittleEndian.AppendUint64(b, uint64(v.hi))
	case vList:
		b = binary.AppendUvarint(b, uint64(len(v.list())))
		for _, x := range v.list() {
			b = appendKey(b, x)
		}
	default:
		b = binary.LittleEndian.AppendUint64(b, uint64(v.i))
	}
	return b
}

// combiner merges result rows of an aggregate query that share their group
// key: the partial aggregates of two row sets (the query run over each)
// become those of the query run over both, as DuckDB's parallel
// aggregation combines partial states. Each aggregate combines by its own
// function (count by adding counts, sum by adding sums, min, max, bit_or),
// so the merge is derived from the query, not written for it.
type combiner struct {
	keys []int    // output columns that are GROUP BY keys
	aggs []string // per output column: its aggregate function, "" for a key
}

// combiner returns the combiner of p, or an error naming why p's rows
// cannot be combined (p must be one aggregate SELECT whose every output
// column is a GROUP BY key or a bare aggregate, without HAVING or ORDER BY).
func (p *sqlPlan) combiner() (*combiner, error) {
	q := p.root
	if len(q.ctes) > 0 || len(q.selects) != 1 {
		return nil, fmt.Errorf("sqleval: only a single SELECT combines")
	}
	s := q.selects[0]
	if !s.agg || len(s.groupBy) == 0 || s.having != nil || len(s.order) > 0 {
		return nil, fmt.Errorf("sqleval: only a grouped aggregate without HAVING or ORDER BY combines")
	}
	c := &combiner{aggs: make([]string, len(s.slots))}
	nk := len(s.groupBy)
	seen := map[int]bool{}
	for i, sl := range s.slots {
		switch {
		case sl < 0:
			return nil, fmt.Errorf("sqleval: output column %s is an expression over aggregates", q.cols[i])
		case sl < nk:
			c.keys = append(c.keys, i)
			seen[sl] = true
		default:
			a := s.aggs[sl-nk]
			if a.fn == "count" {
				c.aggs[i] = "sum" // counts add up
			} else {
				c.aggs[i] = a.fn
			}
		}
	}
	if len(seen) != nk {
		return nil, fmt.Errorf("sqleval: a GROUP BY key is not an output column")
	}
	return c, nil
}

// combine returns a's rows then b's, with rows of equal keys merged into
// one (new rows: a and b are not modified).
func (c *combiner) combine(a, b [][]value) ([][]value, error) {
	out := make([][]value, 0, len(a)+len(b))
	index := make(map[string]int, len(a)+len(b))
	var kb []byte
	for _, part := range [2][][]value{a, b} {
		for _, r := range part {
			kb = kb[:0]
			for _, k := range c.keys {
				kb = appendKey(kb, r[k])
			}
			i, ok := index[string(kb)]
			if !ok {
				index[string(kb)] = len(out)
				out = append(out, r)
				continue
			}
			m := slices.Clone(out[i])
			for j, fn := range c.aggs {
				if fn == "" || r[j].k == vNull {
					continue
				}
				if m[j].k == vNull {
					m[j] = r[j]
					continue
				}
				st := aggState{v: m[j], has: true}
				var err error
				if fn == "sum" {
					err = st.sum(r[j])
				} else {
					err = st.add(fn, r[j])
				}
				if err != nil {
					return nil, err
				}
				m[j] = st.v
			}
			out[i] = m
		}
	}
	return out, nil
}
