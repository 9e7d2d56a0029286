package features

// The parser of sqleval: the subset of DuckDB's SQL that the registry's
// generated queries use (preSQL, featureBody and the queries built from
// them), parsed into a small AST. Anything outside the subset is refused
// with an error naming the construct, so that a registry change the
// evaluator cannot run fails loudly at parse time instead of computing
// something else.

import (
	"fmt"
	"strings"
)

// tokKind classifies a token.
type tokKind uint8

const (
	tEOF tokKind = iota
	tIdent
	tNumber
	tString
	tOp
	tParam // @name: a value bound at run time (sqlPlan.runWith)
)

type token struct {
	kind tokKind
	text string // identifiers lower-cased (DuckDB identifiers are case-insensitive)
	pos  int
}

// lex splits sql into tokens.
func lex(sql string) ([]token, error) {
	var out []token
	i := 0
	for i < len(sql) {
		c := sql[i]
		switch {
		case c == ' ' || c == '\n' || c == '\t' || c == '\r':
			i++
		case c == '-' && i+1 < len(sql) && sql[i+1] == '-':
			return nil, fmt.Errorf("sqleval: comments are not supported (offset %d)", i)
		case c == '@' && i+1 < len(sql) && isIdentStart(sql[i+1]):
			j := i + 2
			for j < len(sql) && (isIdentStart(sql[j]) || isDigit(sql[j])) {
				j++
			}
			out = append(out, token{tParam, strings.ToLower(sql[i+1 : j]), i})
			i = j
		case isIdentStart(c):
			j := i + 1
			for j < len(sql) && (isIdentStart(sql[j]) || isDigit(sql[j])) {
				j++
			}
			out = append(out, token{tIdent, strings.ToLower(sql[i:j]), i})
			i = j
		case isDigit(c):
			j := i
			for j < len(sql) && isDigit(sql[j]) {
				j++
			}
			if j+1 < len(sql) && sql[j] == '.' && isDigit(sql[j+1]) {
				j++
				for j < len(sql) && isDigit(sql[j]) {
					j++
				}
			}
			if j < len(sql) && (sql[j] == 'e' || sql[j] == 'E' || isIdentStart(sql[j])) {
				return nil, fmt.Errorf("sqleval: numeric literal %q is not supported (offset %d)", sql[i:j+1], i)
			}
			out = append(out, token{tNumber, sql[i:j], i})
			i = j
		case c == '\'':
			var b strings.Builder
			j := i + 1
			for {
				if j >= len(sql) {
					return nil, fmt.Errorf("sqleval: unterminated string literal (offset %d)", i)
				}
				if sql[j] == '\'' {
					if j+1 < len(sql) && sql[j+1] == '\'' {
						b.WriteByte('\'')
						j += 2
						continue
					}
					break
				}
				b.WriteByte(sql[j])
				j++
			}
			out = append(out, token{tString, b.String(), i})
			i = j + 1
		default:
			op := ""
			for _, o := range []string{"::", "//", "<<", ">>", "<=", ">=", "<>", "!=", "->", "||"} {
				if strings.HasPrefix(sql[i:], o) {
					op = o
					break
				}
			}
			if op == "" {
				if !strings.ContainsRune("(),.*+-/^=<>[]:", rune(c)) {
					return nil, fmt.Errorf("sqleval: unexpected character %q (offset %d)", c, i)
				}
				op = sql[i : i+1]
			}
			out = append(out, token{tOp, op, i})
			i += len(op)
		}
	}
	return append(out, token{tEOF, "", len(sql)}), nil
}

func isIdentStart(c byte) bool { return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool      { return c >= '0' && c <= '9' }

// AST.

// query is WITH ctes, then one or more SELECTs joined by UNION ALL.
type query struct {
	ctes    []cte
	selects []*selectStmt
}

type cte struct {
	name string
	q    *query
}

type selectStmt struct {
	items   []selItem
	from    *fromItem // nil: one row, no columns
	joins   []join
	where   expr
	groupBy []expr
	having  expr
	orderBy []orderItem
}

type selItem struct {
	star  bool
	e     expr
	alias string
}

type fromItem struct {
	table string // a CTE or input table
	sub   *query // or a subquery
	alias string
}

type join struct {
	item *fromItem
	on   expr
}

type orderItem struct {
	e    expr
	desc bool
}

// expr is an expression node.
type expr interface{ String() string }

type colRef struct{ qual, name string }
type litExpr struct{ v value }

// paramExpr is @name, a value given at run time.
type paramExpr struct{ name string }
type unaryExpr struct {
	op string // "-", "not"
	x  expr
}
type binExpr struct {
	op   string // + - * / // ^ << >> = <> < <= > >= and or
	l, r expr
}
type isNullExpr struct {
	x   expr
	not bool
}
type inExpr struct {
	x    expr
	list []expr
	not  bool
}
type betweenExpr struct{ x, lo, hi expr }
type caseExpr struct {
	whens []expr
	thens []expr
	els   expr // nil: NULL
}
type castExpr struct {
	x   expr
	to  string // DOUBLE, BIGINT, UBIGINT, DATE, VARCHAR, TIMESTAMP, TIMESTAMPTZ, DECIMAL(18,6)
	try bool   // TRY_CAST: NULL where CAST fails to convert
}
type callExpr struct {
	name   string
	args   []expr
	star   bool // count(*)
	filter expr // aggregate FILTER (WHERE ...)
}
type sliceExpr struct{ x, lo, hi expr }
type lambdaExpr struct {
	params []string
	body   expr
}

func (e *colRef) String() string {
	if e.qual != "" {
		return e.qual + "." + e.name
	}
	return e.name
}
func (e *litExpr) String() string   { return e.v.sqlText() }
func (e *paramExpr) String() string { return "@" + e.name }
func (e *unaryExpr) String() string { return "(" + e.op + " " + e.x.String() + ")" }
func (e *binExpr) String() string   { return "(" + e.l.String() + " " + e.op + " " + e.r.String() + ")" }
func (e *betweenExpr) String() string {
	return "(" + e.x.String() + " BETWEEN " + e.lo.String() + " AND " + e.hi.String() + ")"
}
func (e *castExpr) String() string {
	if e.try {
		return "TRY_CAST(" + e.x.String() + " AS " + e.to + ")"
	}
	return "CAST(" + e.x.String() + " AS " + e.to + ")"
}
func (e *sliceExpr) String() string {
	return e.x.String() + "[" + e.lo.String() + ":" + e.hi.String() + "]"
}
func (e *isNullExpr) String() string {
	if e.not {
		return "(" + e.x.String() + " IS NOT NULL)"
	}
	return "(" + e.x.String() + " IS NULL)"
}
func (e *inExpr) String() string {
	s := "(" + e.x.String()
	if e.not {
		s += " NOT"
	}
	return s + " IN (" + joinExprs(e.list) + "))"
}
func (e *caseExpr) String() string {
	s := "CASE"
	for i := range e.whens {
		s += " WHEN " + e.whens[i].String() + " THEN " + e.thens[i].String()
	}
	if e.els != nil {
		s += " ELSE " + e.els.String()
	}
	return s + " END"
}
func (e *callExpr) String() string {
	s := e.name + "("
	if e.star {
		s += "*"
	}
	s += joinExprs(e.args) + ")"
	if e.filter != nil {
		s += " FILTER (WHERE " + e.filter.String() + ")"
	}
	return s
}
func (e *lambdaExpr) String() string {
	return "(" + strings.Join(e.params, ", ") + ") -> " + e.body.String()
}

func joinExprs(es []expr) string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.String()
	}
	return strings.Join(parts, ", ")
}

// aggregates and scalar functions the evaluator implements.
var (
	aggFuncs    = map[string]bool{"count": true, "sum": true, "min": true, "max": true, "bit_or": true}
	scalarFuncs = map[string]bool{"coalesce": true, "least": true, "sqrt": true, "bit_count": true, "epoch_us": true,
		"list_value": true, "list_sum": true, "list_transform": true,
		// the validation SQL's (sqleval_text.go)
		"regexp_full_match": true, "regexp_matches": true, "trim": true, "ascii": true, "chr": true, "nullif": true, "timezone": true}
	castTypes = map[string]bool{"double": true, "bigint": true, "ubigint": true, "date": true,
		"varchar": true, "timestamp": true, "timestamptz": true, "decimal": true}
	// reserved words that end an expression or a FROM item (never an alias).
	reserved = map[string]bool{"select": true, "from": true, "where": true, "group": true, "having": true, "order": true,
		"union": true, "left": true, "join": true, "on": true, "as": true, "and": true, "or": true, "not": true,
		"case": true, "when": true, "then": true, "else": true, "end": true, "is": true, "in": true, "between": true,
		"with": true, "by": true, "filter": true, "inner": true, "right": true, "full": true, "cross": true,
		"limit": true, "distinct": true, "all": true, "asc": true, "desc": true, "null": true, "true": true, "false": true,
		"qualify": true, "window": true, "over": true, "using": true, "natural": true, "except": true, "intersect": true,
		"grouping": true, "offset": true, "like": true, "ilike": true, "similar": true, "cast": true, "timestamp": true}
)

type parser struct {
	toks []token
	p    int
	// depth bounds nesting so that a hostile text cannot exhaust the stack.
	depth int
}

const maxParseDepth = 200

// parseSQL parses one query of the supported subset.
func parseSQL(sql string) (q *query, err error) {
	toks, err := lex(sql)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	q, err = p.query()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.errf("unexpected %q after the query", t.text)
	}
	return q, nil
}

func (p *parser) peek() token         { return p.toks[p.p] }
func (p *parser) peekAt(k int) token  { return p.toks[min(p.p+k, len(p.toks)-1)] }
func (p *parser) next() token         { t := p.toks[p.p]; p.p = min(p.p+1, len(p.toks)-1); return t }
func (p *parser) isKw(kw string) bool { t := p.peek(); return t.kind == tIdent && t.text == kw }
func (p *parser) isOp(op string) bool { t := p.peek(); return t.kind == tOp && t.text == op }

func (p *parser) errf(format string, args ...any) error {
	return fmt.Errorf("sqleval: "+format+" (offset %d)", append(args, p.peek().pos)...)
}

func (p *parser) acceptKw(kw string) bool {
	if p.isKw(kw) {
		p.next()
		return true
	}
	return false
}

func (p *parser) acceptOp(op string) bool {
	if p.isOp(op) {
		p.next()
		return true
	}
	return false
}

func (p *parser) expectKw(kw string) error {
	if !p.acceptKw(kw) {
		return p.errf("expected %s, found %q", strings.ToUpper(kw), p.peek().text)
	}
	return nil
}

func (p *parser) expectOp(op string) error {
	if !p.acceptOp(op) {
		return p.errf("expected %q, found %q", op, p.peek().text)
	}
	return nil
}

func (p *parser) ident(what string) (string, error) {
	t := p.peek()
	if t.kind != tIdent || reserved[t.text] {
		return "", p.errf("expected %s, found %q", what, t.text)
	}
	p.next()
	return t.text, nil
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > maxParseDepth {
		return p.errf("nesting deeper than %d", maxParseDepth)
	}
	return nil
}

func (p *parser) query() (*query, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	q := &query{}
	if p.acceptKw("with") {
		if p.isKw("recursive") {
			return nil, p.errf("WITH RECURSIVE is not supported")
		}
		for {
			name, err := p.ident("a CTE name")
			if err != nil {
				return nil, err
			}
			if err := p.expectKw("as"); err != nil {
				return nil, err
			}
			if p.isKw("materialized") || p.isKw("not") {
				return nil, p.errf("CTE materialization hints are not supported")
			}
			if err := p.expectOp("("); err != nil {
				return nil, err
			}
			sub, err := p.query()
			if err != nil {
				return nil, err
			}
			if err := p.expectOp(")"); err != nil {
				return nil, err
			}
			q.ctes = append(q.ctes, cte{name, sub})
			if !p.acceptOp(",") {
				break
			}
		}
	}
	for {
		s, err := p.selectStmt()
		if err != nil {
			return nil, err
		}
		q.selects = append(q.selects, s)
		if p.acceptKw("union") {
			if !p.acceptKw("all") {
				return nil, p.errf("UNION without ALL is not supported")
			}
			if len(s.orderBy) > 0 {
				return nil, p.errf("ORDER BY before UNION ALL is not supported")
			}
			continue
		}
		if p.isKw("except") || p.isKw("intersect") {
			return nil, p.errf("%s is not supported", strings.ToUpper(p.peek().text))
		}
		break
	}
	if len(q.selects) > 1 && len(q.selects[len(q.selects)-1].orderBy) > 0 {
		return nil, p.errf("ORDER BY over a UNION ALL is not supported")
	}
	return q, nil
}

func (p *parser) selectStmt() (*selectStmt, error) {
	if err := p.expectKw("select"); err != nil {
		return nil, err
	}
	if p.isKw("distinct") || p.isKw("all") {
		return nil, p.errf("SELECT %s is not supported", strings.ToUpper(p.peek().text))
	}
	s := &selectStmt{}
	for {
		if p.acceptOp("*") {
			s.items = append(s.items, selItem{star: true})
		} else {
			e, err := p.expr()
			if err != nil {
				return nil, err
			}
			it := selItem{e: e}
			if p.acceptKw("as") {
				if it.alias, err = p.ident("an alias"); err != nil {
					return nil, err
				}
			} else if t := p.peek(); t.kind == tIdent && !reserved[t.text] {
				it.alias = t.text
				p.next()
			}
			s.items = append(s.items, it)
		}
		if !p.acceptOp(",") {
			break
		}
	}
	if p.acceptKw("from") {
		f, err := p.fromItem()
		if err != nil {
			return nil, err
		}
		s.from = f
		for {
			if p.isKw("left") {
				p.next()
				p.acceptKw("outer")
				if err := p.expectKw("join"); err != nil {
					return nil, err
				}
				item, err := p.fromItem()
				if err != nil {
					return nil, err
				}
				if err := p.expectKw("on"); err != nil {
					return nil, err
				}
				on, err := p.expr()
				if err != nil {
					return nil, err
				}
				s.joins = append(s.joins, join{item, on})
				continue
			}
			for _, kw := range []string{"join", "inner", "right", "full", "cross", "natural", "positional", "asof", "semi", "anti"} {
				if p.isKw(kw) {
					if kw == "join" {
						kw = "inner"
					}
					return nil, p.errf("%s JOIN is not supported (only LEFT JOIN)", strings.ToUpper(kw))
				}
			}
			if p.isOp(",") {
				return nil, p.errf("comma joins are not supported")
			}
			break
		}
	}
	var err error
	if p.acceptKw("where") {
		if s.where, err = p.expr(); err != nil {
			return nil, err
		}
	}
	if p.acceptKw("group") {
		if err := p.expectKw("by"); err != nil {
			return nil, err
		}
		if p.isKw("grouping") || p.isKw("rollup") || p.isKw("cube") || p.isKw("all") {
			return nil, p.errf("GROUP BY %s is not supported", strings.ToUpper(p.peek().text))
		}
		for {
			e, err := p.expr()
			if err != nil {
				return nil, err
			}
			s.groupBy = append(s.groupBy, e)
			if !p.acceptOp(",") {
				break
			}
		}
	}
	if p.acceptKw("having") {
		if s.having, err = p.expr(); err != nil {
			return nil, err
		}
	}
	for _, kw := range []string{"qualify", "window", "limit", "offset"} {
		if p.isKw(kw) {
			return nil, p.errf("%s is not supported", strings.ToUpper(kw))
		}
	}
	if p.acceptKw("order") {
		if err := p.expectKw("by"); err != nil {
			return nil, err
		}
		for {
			e, err := p.expr()
			if err != nil {
				return nil, err
			}
			it := orderItem{e: e}
			if p.acceptKw("desc") {
				it.desc = true
			} else {
				p.acceptKw("asc")
			}
			if p.isKw("nulls") {
				return nil, p.errf("NULLS FIRST/LAST is not supported")
			}
			s.orderBy = append(s.orderBy, it)
			if !p.acceptOp(",") {
				break
			}
		}
		for _, kw := range []string{"limit", "offset"} {
			if p.isKw(kw) {
				return nil, p.errf("%s is not supported", strings.ToUpper(kw))
			}
		}
	}
	return s, nil
}

func (p *parser) fromItem() (*fromItem, error) {
	f := &fromItem{}
	if p.acceptOp("(") {
		if !p.isKw("select") && !p.isKw("with") {
			return nil, p.errf("a parenthesised FROM item must be a subquery")
		}
		sub, err := p.query()
		if err != nil {
			return nil, err
		}
		if err := p.expectOp(")"); err != nil {
			return nil, err
		}
		f.sub = sub
	} else {
		name, err := p.ident("a table name")
		if err != nil {
			return nil, err
		}
		if p.isOp(".") {
			return nil, p.errf("qualified table names (%s.…) are not supported", name)
		}
		if p.isOp("(") {
			return nil, p.errf("table function %s() is not supported", name)
		}
		f.table = name
	}
	if p.acceptKw("as") {
		a, err := p.ident("a table alias")
		if err != nil {
			return nil, err
		}
		f.alias = a
	} else if t := p.peek(); t.kind == tIdent && !reserved[t.text] && t.text != "outer" {
		f.alias = t.text
		p.next()
	}
	if p.isOp("(") {
		return nil, p.errf("column aliases on a FROM item are not supported")
	}
	return f, nil
}

// Expressions, lowest precedence first (DuckDB's, as in PostgreSQL):
// OR, AND, NOT, IS / comparison / IN / BETWEEN, << >>, + -, * / //, ^,
// unary minus, :: and [ ] postfix.
func (p *parser) expr() (expr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	return p.orExpr()
}

func (p *parser) orExpr() (expr, error) {
	l, err := p.andExpr()
	if err != nil {
		return nil, err
	}
	for p.acceptKw("or") {
		r, err := p.andExpr()
		if err != nil {
			return nil, err
		}
		l = &binExpr{"or", l, r}
	}
	return l, nil
}

func (p *parser) andExpr() (expr, error) {
	l, err := p.notExpr()
	if err != nil {
		return nil, err
	}
	for p.acceptKw("and") {
		r, err := p.notExpr()
		if err != nil {
			return nil, err
		}
		l = &binExpr{"and", l, r}
	}
	return l, nil
}

func (p *parser) notExpr() (expr, error) {
	if p.acceptKw("not") {
		if err := p.enter(); err != nil {
			return nil, err
		}
		defer func() { p.depth-- }()
		x, err := p.notExpr()
		if err != nil {
			return nil, err
		}
		return &unaryExpr{"not", x}, nil
	}
	return p.cmpExpr()
}

func (p *parser) cmpExpr() (expr, error) {
	l, err := p.shiftExpr()
	if err != nil {
		return nil, err
	}
	for {
		switch {
		case p.isKw("is"):
			p.next()
			not := p.acceptKw("not")
			if !p.acceptKw("null") {
				return nil, p.errf("IS %s is not supported (only IS [NOT] NULL)", strings.ToUpper(p.peek().text))
			}
			l = &isNullExpr{l, not}
		case p.isKw("not") && (p.peekAt(1).text == "in" || p.peekAt(1).text == "between"):
			if p.peekAt(1).text == "between" {
				return nil, p.errf("NOT BETWEEN is not supported")
			}
			p.next()
			p.next()
			list, err := p.inList()
			if err != nil {
				return nil, err
			}
			l = &inExpr{l, list, true}
		case p.isKw("in"):
			p.next()
			list, err := p.inList()
			if err != nil {
				return nil, err
			}
			l = &inExpr{l, list, false}
		case p.isKw("between"):
			p.next()
			lo, err := p.shiftExpr()
			if err != nil {
				return nil, err
			}
			if err := p.expectKw("and"); err != nil {
				return nil, err
			}
			hi, err := p.shiftExpr()
			if err != nil {
				return nil, err
			}
			l = &betweenExpr{l, lo, hi}
		case p.isKw("like") || p.isKw("ilike") || p.isKw("similar") || p.isKw("glob"):
			return nil, p.errf("%s is not supported", strings.ToUpper(p.peek().text))
		default:
			t := p.peek()
			if t.kind == tOp && (t.text == "=" || t.text == "<>" || t.text == "!=" || t.text == "<" || t.text == "<=" || t.text == ">" || t.text == ">=") {
				p.next()
				r, err := p.shiftExpr()
				if err != nil {
					return nil, err
				}
				op := t.text
				if op == "!=" {
					op = "<>"
				}
				l = &binExpr{op, l, r}
				continue
			}
			return l, nil
		}
	}
}

func (p *parser) inList() ([]expr, error) {
	if err := p.expectOp("("); err != nil {
		return nil, err
	}
	if p.isKw("select") || p.isKw("with") {
		return nil, p.errf("IN (subquery) is not supported")
	}
	var list []expr
	for {
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		list = append(list, e)
		if !p.acceptOp(",") {
			break
		}
	}
	return list, p.expectOp(")")
}

func (p *parser) binLevel(ops []string, sub func() (expr, error)) (expr, error) {
	l, err := sub()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		matched := false
		for _, op := range ops {
			if t.kind == tOp && t.text == op {
				matched = true
			}
		}
		if !matched {
			return l, nil
		}
		p.next()
		r, err := sub()
		if err != nil {
			return nil, err
		}
		l = &binExpr{t.text, l, r}
	}
}

// shiftExpr is PostgreSQL's "any other operator" level: << >> ||.
func (p *parser) shiftExpr() (expr, error) { return p.binLevel([]string{"<<", ">>", "||"}, p.addExpr) }
func (p *parser) addExpr() (expr, error)   { return p.binLevel([]string{"+", "-"}, p.mulExpr) }
func (p *parser) mulExpr() (expr, error)   { return p.binLevel([]string{"*", "/", "//"}, p.powExpr) }
func (p *parser) powExpr() (expr, error)   { return p.binLevel([]string{"^"}, p.unaryExpr) }

func (p *parser) unaryExpr() (expr, error) {
	if p.acceptOp("-") {
		if err := p.enter(); err != nil {
			return nil, err
		}
		defer func() { p.depth-- }()
		x, err := p.unaryExpr()
		if err != nil {
			return nil, err
		}
		return &unaryExpr{"-", x}, nil
	}
	if p.isOp("+") {
		return nil, p.errf("unary + is not supported")
	}
	return p.postfixExpr()
}

func (p *parser) postfixExpr() (expr, error) {
	x, err := p.primary()
	if err != nil {
		return nil, err
	}
	for {
		switch {
		case p.acceptOp("::"):
			to, err := p.typeName()
			if err != nil {
				return nil, err
			}
			x = &castExpr{x: x, to: to}
		case p.acceptOp("["):
			lo, err := p.expr()
			if err != nil {
				return nil, err
			}
			if !p.acceptOp(":") {
				return nil, p.errf("list indexing x[i] is not supported (only slicing x[a:b])")
			}
			hi, err := p.expr()
			if err != nil {
				return nil, err
			}
			if p.isOp(":") {
				return nil, p.errf("list slicing with a step is not supported")
			}
			if err := p.expectOp("]"); err != nil {
				return nil, err
			}
			x = &sliceExpr{x, lo, hi}
		default:
			return x, nil
		}
	}
}

func (p *parser) typeName() (string, error) {
	t := p.peek()
	if t.kind != tIdent || !castTypes[t.text] {
		return "", p.errf("cast to type %q is not supported (DOUBLE, BIGINT, UBIGINT, DATE, VARCHAR, TIMESTAMP, TIMESTAMPTZ, DECIMAL(18,6))", t.text)
	}
	p.next()
	if t.text == "decimal" {
		// Only the validation's amount type (DECIMAL(18,6)): its values
		// are int64 micro-units like the registry's amounts.
		for _, want := range []string{"(", "18", ",", "6", ")"} {
			if p.peek().text != want {
				return "", p.errf("only DECIMAL(18,6) is supported")
			}
			p.next()
		}
		return "DECIMAL(18,6)", nil
	}
	if p.isOp("(") || p.isOp("[") {
		return "", p.errf("type modifiers on %s are not supported", strings.ToUpper(t.text))
	}
	return strings.ToUpper(t.text), nil
}

func (p *parser) primary() (expr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	t := p.peek()
	switch t.kind {
	case tNumber:
		p.next()
		v, err := parseNumber(t.text)
		if err != nil {
			return nil, p.errf("%v", err)
		}
		return &litExpr{v}, nil
	case tString:
		p.next()
		return &litExpr{value{k: vStr, s: t.text}}, nil
	case tParam:
		p.next()
		return &paramExpr{t.text}, nil
	case tOp:
		if t.text == "(" {
			p.next()
			if p.isKw("select") || p.isKw("with") {
				return nil, p.errf("scalar subqueries are not supported")
			}
			// A lambda with several parameters: (a, b) -> body.
			if p.peek().kind == tIdent && p.peekAt(1).text == "," {
				return nil, p.errf("row values and multi-parameter lambdas outside a list function are not supported")
			}
			e, err := p.expr()
			if err != nil {
				return nil, err
			}
			return e, p.expectOp(")")
		}
		return nil, p.errf("unexpected %q", t.text)
	case tIdent:
	default:
		return nil, p.errf("unexpected end of query")
	}
	switch t.text {
	case "null":
		p.next()
		return &litExpr{value{}}, nil
	case "true", "false":
		p.next()
		v := value{k: vBool}
		if t.text == "true" {
			v.i = 1
		}
		return &litExpr{v}, nil
	case "timestamp":
		p.next()
		s := p.peek()
		if s.kind != tString {
			return nil, p.errf("TIMESTAMP must be followed by a string literal")
		}
		p.next()
		v, err := parseTimestampLit(s.text)
		if err != nil {
			return nil, p.errf("%v", err)
		}
		return &litExpr{v}, nil
	case "case":
		return p.caseExpr()
	case "cast", "try_cast":
		p.next()
		if err := p.expectOp("("); err != nil {
			return nil, err
		}
		x, err := p.expr()
		if err != nil {
			return nil, err
		}
		if err := p.expectKw("as"); err != nil {
			return nil, err
		}
		to, err := p.typeName()
		if err != nil {
			return nil, err
		}
		return &castExpr{x: x, to: to, try: t.text == "try_cast"}, p.expectOp(")")
	case "exists", "interval", "date", "array", "struct", "map", "row", "extract":
		if p.peekAt(1).kind == tOp && (p.peekAt(1).text == "(" || p.peekAt(1).text == "[") || p.peekAt(1).kind == tString {
			return nil, p.errf("%s is not supported", strings.ToUpper(t.text))
		}
	}
	if reserved[t.text] {
		return nil, p.errf("unexpected %s", strings.ToUpper(t.text))
	}
	p.next()
	if p.isOp("(") {
		return p.call(t.text)
	}
	if p.acceptOp(".") {
		name, err := p.ident("a column name")
		if err != nil {
			return nil, err
		}
		if p.isOp(".") || p.isOp("(") {
			return nil, p.errf("%s.%s: only table.column references are supported", t.text, name)
		}
		return &colRef{t.text, name}, nil
	}
	return &colRef{"", t.text}, nil
}

func (p *parser) caseExpr() (expr, error) {
	p.next() // CASE
	if !p.isKw("when") {
		return nil, p.errf("CASE x WHEN … (simple CASE) is not supported")
	}
	c := &caseExpr{}
	for p.acceptKw("when") {
		w, err := p.expr()
		if err != nil {
			return nil, err
		}
		if err := p.expectKw("then"); err != nil {
			return nil, err
		}
		th, err := p.expr()
		if err != nil {
			return nil, err
		}
		c.whens, c.thens = append(c.whens, w), append(c.thens, th)
	}
	if p.acceptKw("else") {
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		c.els = e
	}
	return c, p.expectKw("end")
}

func (p *parser) call(name string) (expr, error) {
	if !aggFuncs[name] && !scalarFuncs[name] {
		return nil, p.errf("function %s() is not supported", name)
	}
	p.next() // (
	c := &callExpr{name: name}
	if p.isKw("distinct") {
		return nil, p.errf("%s(DISTINCT …) is not supported", name)
	}
	if p.acceptOp("*") {
		if name != "count" {
			return nil, p.errf("%s(*) is not supported", name)
		}
		c.star = true
	} else if !p.isOp(")") {
		for {
			var a expr
			var err error
			if name == "list_transform" && len(c.args) == 1 {
				a, err = p.lambda()
			} else {
				a, err = p.expr()
			}
			if err != nil {
				return nil, err
			}
			c.args = append(c.args, a)
			if !p.acceptOp(",") {
				break
			}
		}
	}
	if p.isKw("order") {
		return nil, p.errf("ORDER BY inside %s() is not supported", name)
	}
	if err := p.expectOp(")"); err != nil {
		return nil, err
	}
	if p.isKw("over") {
		return nil, p.errf("window functions (OVER) are not supported")
	}
	if p.acceptKw("filter") {
		if !aggFuncs[name] {
			return nil, p.errf("FILTER on the scalar function %s()", name)
		}
		if err := p.expectOp("("); err != nil {
			return nil, err
		}
		if err := p.expectKw("where"); err != nil {
			return nil, err
		}
		f, err := p.expr()
		if err != nil {
			return nil, err
		}
		c.filter = f
		if err := p.expectOp(")"); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// lambda parses y -> body or (y, k) -> body.
func (p *parser) lambda() (expr, error) {
	var params []string
	if p.peek().kind == tIdent && p.peekAt(1).text == "->" {
		params = []string{p.next().text}
	} else if p.isOp("(") && p.peekAt(1).kind == tIdent && (p.peekAt(2).text == "," || p.peekAt(2).text == ")") {
		p.next()
		for {
			n, err := p.ident("a lambda parameter")
			if err != nil {
				return nil, err
			}
			params = append(params, n)
			if !p.acceptOp(",") {
				break
			}
		}
		if err := p.expectOp(")"); err != nil {
			return nil, err
		}
	} else {
		return nil, p.errf("list_transform needs a lambda (x -> … or (x, i) -> …)")
	}
	if len(params) > 2 {
		return nil, p.errf("lambdas take one or two parameters")
	}
	if err := p.expectOp("->"); err != nil {
		return nil, err
	}
	body, err := p.expr()
	if err != nil {
		return nil, err
	}
	return &lambdaExpr{params, body}, nil
}
