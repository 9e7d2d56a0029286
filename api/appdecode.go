package api

import (
	"strconv"

	"github.com/labstack/echo/v4"
	"github.com/lendhq/lend/loans"
)

// decodeApplication decodes the body of POST /v1/applications as DecodeJSON
// does. The common body — an object of the documented members, each at most
// once, with plain ASCII strings and integers — is parsed in place by
// parseApplication (encoding/json's reflection and buffering were a few
// percent of a decision's CPU); anything else goes through DecodeJSON, so
// every error and every unusual form (escapes, keys in other cases,
// duplicates, null, floats) is exactly what it was. FuzzDecodeApplication
// checks that a body parseApplication accepts decodes the same way.
func decodeApplication(c echo.Context, req *applicationRequest) error {
	if body, ok := c.Get(ctxReqBody).([]byte); ok && parseApplication(body, req) {
		return nil
	}
	*req = applicationRequest{}
	return DecodeJSON(c, req)
}

// parseApplication parses b into req when b is in the simple form above,
// and reports whether it was (req is then what encoding/json would give).
func parseApplication(b []byte, req *applicationRequest) bool {
	p := jsonScan{b: b}
	p.ws()
	if !p.byte('{') {
		return false
	}
	var seen [5]bool
	p.ws()
	if p.byte('}') {
		return p.end()
	}
	for {
		key, ok := p.str()
		if !ok {
			return false
		}
		p.ws()
		if !p.byte(':') {
			return false
		}
		p.ws()
		var i int
		switch key {
		case "merchant_id":
			i = 0
			req.MerchantID, ok = p.str()
		case "amount_minor":
			i = 1
			req.AmountMinor, ok = p.int(64)
		case "term_months":
			i = 2
			var n int64
			n, ok = p.int(strconv.IntSize)
			req.TermMonths = int(n)
		case "product":
			i = 3
			var v string
			v, ok = p.str()
			req.Product = loans.ProductKind(v)
		case "method":
			i = 4
			var v string
			v, ok = p.str()
			req.Method = loans.Method(v)
		default:
			return false
		}
		if !ok || seen[i] {
			return false
		}
		seen[i] = true
		p.ws()
		if p.byte('}') {
			return p.end()
		}
		if !p.byte(',') {
			return false
		}
		p.ws()
	}
}

// jsonScan is a cursor over a JSON text for parseApplication.
type jsonScan struct {
	b []byte
	i int
}

func (p *jsonScan) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonScan) byte(c byte) bool {
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// end reports whether only whitespace follows.
func (p *jsonScan) end() bool {
	p.ws()
	return p.i == len(p.b)
}

// str reads a string of printable ASCII without escapes.
func (p *jsonScan) str() (string, bool) {
	if !p.byte('"') {
		return "", false
	}
	start := p.i
	for p.i < len(p.b) {
		switch c := p.b[p.i]; {
		case c == '"':
			s := string(p.b[start:p.i])
			p.i++
			return s, true
		case c < 0x20 || c > 0x7e || c == '\\':
			return "", false
		}
		p.i++
	}
	return "", false
}

// int reads an integer (JSON number syntax without fraction or exponent)
// that fits in bits bits.
func (p *jsonScan) int(bits int) (int64, bool) {
	start := p.i
	p.byte('-')
	digits := p.i
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
	}
	if p.i == digits || (p.b[digits] == '0' && p.i-digits > 1) {
		return 0, false
	}
	if p.i < len(p.b) {
		switch p.b[p.i] {
		case '.', 'e', 'E':
			return 0, false
		}
	}
	n, err := strconv.ParseInt(string(p.b[start:p.i]), 10, bits)
	return n, err == nil
}
