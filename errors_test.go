package lend

import (
	"errors"
	"fmt"
	"testing"
)

func TestErrorCodeThroughWrapping(t *testing.T) {
	base := Errorf(ENOTFOUND, "loan %q not found", "L1")
	wrapped := fmt.Errorf("repay: %w", base)
	cases := []struct {
		name     string
		err      error
		wantCode string
		wantMsg  string
	}{
		{"nil", nil, "", ""},
		{"direct", base, ENOTFOUND, `loan "L1" not found`},
		{"wrapped", wrapped, ENOTFOUND, `loan "L1" not found`},
		{"plain error is internal and hidden", errors.New("disk on fire"), EINTERNAL, "internal error"},
		{"internal *Error is hidden", Wrap(EINTERNAL, errors.New("sql: x"), "db"), EINTERNAL, "internal error"},
		{"field", FieldErrorf("amount", "must be > 0"), EINVALID, "amount: must be > 0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := ErrorCode(c.err); got != c.wantCode {
				t.Errorf("code = %q, want %q", got, c.wantCode)
			}
			if got := ErrorMessage(c.err); got != c.wantMsg {
				t.Errorf("message = %q, want %q", got, c.wantMsg)
			}
		})
	}
	if ErrorField(FieldErrorf("amount", "x")) != "amount" {
		t.Error("field not carried")
	}
}
