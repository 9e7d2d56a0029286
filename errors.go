// Package lend holds the domain-wide types every part of Lend shares: the one
// error type with stable codes. HTTP status mapping lives in api/, exit codes in
// cmd/lend; both switch on Code, never on message text.
package lend

import (
	"errors"
	"fmt"
)

// Error codes. They are stable: clients and tests match on them.
const (
	EINVALID       = "invalid"         // bad input: a field, row or flag is wrong
	ENOTFOUND      = "not_found"       // the object does not exist or is not visible to the caller
	ECONFLICT      = "conflict"        // the object's state forbids the command (e.g. in flight, paid off)
	EUNAUTHORIZED  = "unauthorized"    // no or bad credentials
	EFORBIDDEN     = "forbidden"       // credentials valid, role not allowed
	ETOOLARGE      = "too_large"       // a request or batch exceeds a limit
	ERATELIMIT     = "rate_limited"    // too many requests
	EUNPROCESSABLE = "unprocessable"   // well-formed but refused (e.g. idempotency key reused with another body)
	EINSUFFICIENT  = "insufficient"    // not enough credit / balance for the command
	EINTERNAL      = "internal"        // a bug or an infrastructure failure; details are logged, not shown
	ENOTIMPL       = "not_implemented" // the feature is not built yet
)

// Error is the one error type of Lend. Code is machine readable; Message is
// safe to show to the caller; Field names the offending input when there is one.
type Error struct {
	Code    string
	Message string
	Field   string
	Err     error // wrapped cause; never shown to API clients
}

// Error implements the error interface.
func (e *Error) Error() string {
	msg := e.Message
	if e.Field != "" && msg == "" {
		msg = e.Field + " is invalid"
	}
	if e.Err != nil && msg == "" {
		return e.Err.Error()
	}
	return msg
}

// Unwrap returns the wrapped cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldErrorf returns an EINVALID *Error naming the offending field.
func FieldErrorf(field, format string, args ...any) *Error {
	return &Error{Code: EINVALID, Field: field, Message: field + ": " + fmt.Sprintf(format, args...)}
}

// Wrap returns an *Error with code and message that wraps cause.
func Wrap(code string, cause error, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Err: cause}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for
// any other non-nil error and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the caller-safe message of err: the *Error's message, or
// a generic sentence for internal errors so nothing internal leaks.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) && e.Code != EINTERNAL {
		return e.Error()
	}
	return "internal error"
}

// ErrorField returns the field named by the first *Error in err's chain.
func ErrorField(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Field
	}
	return ""
}
