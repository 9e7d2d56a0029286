package training

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/lendhq/lend"
)

// targetLabels returns y (1 = bad, 0 = good) for the target column. A target
// must have exactly two values; without bad the two must be 0/1 (or
// false/true) and 1 is bad. A missing target is an error naming the row.
func targetLabels(c *Column, bad string) ([]int8, error) {
	n := len(c.Num) + len(c.Str)
	text := func(i int) string {
		if c.Kind == KindNumeric {
			v := c.Num[i]
			if math.IsNaN(v) {
				return ""
			}
			return strconv.FormatFloat(v, 'g', -1, 64)
		}
		return c.Str[i]
	}
	seen := map[string]int{}
	var order []string
	for i := 0; i < n; i++ {
		s := text(i)
		if s == "" {
			return nil, lend.FieldErrorf("target", "column %q is empty at data row %d: every row needs an outcome", c.Name, i+1)
		}
		if _, ok := seen[s]; !ok {
			order = append(order, s)
			if len(order) > 2 {
				sort.Strings(order)
				return nil, lend.FieldErrorf("target", "column %q has more than two values (%s): a scorecard needs a binary good/bad target", c.Name, quoteList(order))
			}
		}
		seen[s]++
	}
	sort.Strings(order)
	if bad != "" {
		bad = strings.TrimSpace(bad)
		// A numeric column prints 1 as "1"; accept "1.0" style --bad too.
		if c.Kind == KindNumeric {
			if f, err := strconv.ParseFloat(bad, 64); err == nil {
				bad = strconv.FormatFloat(f, 'g', -1, 64)
			}
		}
		if _, ok := seen[bad]; !ok {
			return nil, lend.FieldErrorf("bad", "value %q does not occur in target column %q (values: %s)", bad, c.Name, quoteList(order))
		}
	}
	if len(order) < 2 {
		return nil, lend.FieldErrorf("target", "column %q is constant (every row is %q): a scorecard needs both goods and bads", c.Name, order[0])
	}
	if bad == "" {
		switch {
		case order[0] == "0" && order[1] == "1":
			bad = "1"
		case strings.EqualFold(order[0], "false") && strings.EqualFold(order[1], "true"):
			bad = order[1]
		default:
			return nil, lend.FieldErrorf("bad", "target column %q has values %s: say which one is bad with --bad", c.Name, quoteList(order))
		}
	}
	y := make([]int8, n)
	for i := range y {
		if text(i) == bad {
			y[i] = 1
		}
	}
	return y, nil
}

func quoteList(v []string) string {
	q := make([]string, len(v))
	for i, s := range v {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}
