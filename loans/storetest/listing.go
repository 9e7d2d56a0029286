package storetest

import (
	"strings"
	"testing"

	"github.com/lendhq/lend"
	"github.com/lendhq/lend/loans"
)

func init() { register("ListCreditLinesPagesBytewise", testListCreditLinesPagesBytewise) }

// testListCreditLinesPagesBytewise: credit lines list in bytewise merchant id
// order (upper case before '_' before lower case, as in ASCII), two per page,
// each page's cursor continuing where the last stopped, filters applied, and
// a cursor the store did not issue refused.
func testListCreditLinesPagesBytewise(t *testing.T, open Opener) {
	s := openAt(t, open, "2024-01-10")
	for _, m := range []string{"a1", "B2", "_c", "Z9", "b1"} {
		line(t, s, m, 100_000, "0.12")
	}
	var got []string
	cursor := ""
	for pages := 0; pages < 10; pages++ {
		ls, next, err := s.ListCreditLines(ctx, loans.CreditLineFilter{Limit: 2, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		if len(ls) > 2 {
			t.Fatalf("page of %d lines with limit 2", len(ls))
		}
		for _, l := range ls {
			got = append(got, l.MerchantID)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	// ASCII: 'B' 0x42 < 'Z' 0x5A < '_' 0x5F < 'a' 0x61 < 'b' 0x62.
	if want := "B2,Z9,_c,a1,b1"; strings.Join(got, ",") != want {
		t.Fatalf("order %v, want %s", got, want)
	}
	ls, _, err := s.ListCreditLines(ctx, loans.CreditLineFilter{Status: loans.LineFrozen})
	if err != nil || len(ls) != 0 {
		t.Fatalf("frozen lines %+v %v, want none", ls, err)
	}
	_, _, err = s.ListCreditLines(ctx, loans.CreditLineFilter{Cursor: "not a cursor!"})
	wantCode(t, err, lend.EINVALID)
}
