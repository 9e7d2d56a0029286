package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/lendhq/lend"
)

// Codes the HTTP layer adds to lend's codes for conditions only HTTP has.
const (
	CodeMethodNotAllowed = "method_not_allowed" // 405: the path exists, the method does not
	CodeUnavailable      = "unavailable"        // 503: not ready (database down, shutting down)
)

// ProblemContentType is the media type of every error response (RFC 9457).
const ProblemContentType = "application/problem+json"

// problemTypePrefix makes the RFC 9457 "type" URI of a code. A URN, because
// the type identifies the problem; it is not a page to fetch.
const problemTypePrefix = "urn:lend:problem:"

// Problem is an RFC 9457 problem details object with Lend's extensions:
// code (stable, from lend's codes), field (the offending input) and request_id.
type Problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail,omitempty"`
	Instance  string `json:"instance,omitempty"`
	Code      string `json:"code"`
	Field     string `json:"field,omitempty"`
	RequestID string `json:"request_id,omitempty"`
}

// codeStatus is the one mapping from error code to HTTP status.
var codeStatus = map[string]int{
	lend.EINVALID:        http.StatusBadRequest,
	lend.EUNAUTHORIZED:   http.StatusUnauthorized,
	lend.EFORBIDDEN:      http.StatusForbidden,
	lend.ENOTFOUND:       http.StatusNotFound,
	CodeMethodNotAllowed: http.StatusMethodNotAllowed,
	lend.ECONFLICT:       http.StatusConflict,
	lend.ETOOLARGE:       http.StatusRequestEntityTooLarge,
	lend.EUNPROCESSABLE:  http.StatusUnprocessableEntity,
	lend.EINSUFFICIENT:   http.StatusUnprocessableEntity,
	lend.ERATELIMIT:      http.StatusTooManyRequests,
	lend.EINTERNAL:       http.StatusInternalServerError,
	lend.ENOTIMPL:        http.StatusNotImplemented,
	CodeUnavailable:      http.StatusServiceUnavailable,
}

// codeTitle is the short, stable, human title of each code.
var codeTitle = map[string]string{
	lend.EINVALID:        "Invalid request",
	lend.EUNAUTHORIZED:   "Unauthorized",
	lend.EFORBIDDEN:      "Forbidden",
	lend.ENOTFOUND:       "Not found",
	CodeMethodNotAllowed: "Method not allowed",
	lend.ECONFLICT:       "Conflict",
	lend.ETOOLARGE:       "Request too large",
	lend.EUNPROCESSABLE:  "Unprocessable request",
	lend.EINSUFFICIENT:   "Insufficient credit or balance",
	lend.ERATELIMIT:      "Too many requests",
	lend.EINTERNAL:       "Internal error",
	lend.ENOTIMPL:        "Not implemented",
	CodeUnavailable:      "Service unavailable",
}

// StatusOf returns the HTTP status for an error code (500 for unknown codes).
func StatusOf(code string) int {
	if st, ok := codeStatus[code]; ok {
		return st
	}
	return http.StatusInternalServerError
}

// toLendError turns any error the handler chain returns into a *lend.Error:
// lend errors pass through; echo's router and middleware errors and the body
// limit's error get the matching code; anything else is internal.
func toLendError(err error) *lend.Error {
	var le *lend.Error
	if errors.As(err, &le) {
		if _, known := codeStatus[le.Code]; known {
			return le
		}
		return lend.Wrap(lend.EINTERNAL, err, "unknown error code %q", le.Code)
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return lend.Errorf(lend.ETOOLARGE, "request body exceeds %d bytes", mbe.Limit)
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		switch he.Code {
		case http.StatusNotFound:
			return lend.Errorf(lend.ENOTFOUND, "no such endpoint")
		case http.StatusMethodNotAllowed:
			return &lend.Error{Code: CodeMethodNotAllowed, Message: "method not allowed on this endpoint"}
		case http.StatusRequestEntityTooLarge:
			return lend.Errorf(lend.ETOOLARGE, "request body too large")
		case http.StatusUnauthorized:
			return lend.Errorf(lend.EUNAUTHORIZED, "unauthorized")
		case http.StatusForbidden:
			return lend.Errorf(lend.EFORBIDDEN, "forbidden")
		case http.StatusTooManyRequests:
			return lend.Errorf(lend.ERATELIMIT, "too many requests")
		}
		if he.Code >= 400 && he.Code < 500 {
			return lend.Wrap(lend.EINVALID, err, "%s", http.StatusText(he.Code))
		}
	}
	return lend.Wrap(lend.EINTERNAL, err, "internal error")
}

// problemOf builds the problem for err. Internal errors carry no internal
// message: only the request id the operator finds the logged cause by.
func problemOf(err error, path, requestID string) Problem {
	le := toLendError(err)
	p := Problem{
		Type:      problemTypePrefix + le.Code,
		Title:     codeTitle[le.Code],
		Status:    StatusOf(le.Code),
		Code:      le.Code,
		Field:     le.Field,
		Instance:  path,
		RequestID: requestID,
	}
	switch le.Code {
	case lend.EINTERNAL:
		p.Detail = fmt.Sprintf("internal error; quote request id %s to support", requestID)
		p.Field = ""
	default:
		p.Detail = le.Error()
	}
	return p
}

// handleError is echo's HTTPErrorHandler: every error response of the server
// is rendered here, as application/problem+json.
func (s *Server) handleError(err error, c echo.Context) {
	reqID := requestIDOf(c)
	if c.Response().Committed {
		s.log.Error("error after response was committed", "request_id", reqID, "err", err)
		return
	}
	p := problemOf(err, c.Request().URL.Path, reqID)
	if p.Status >= 500 {
		s.log.Error("request failed", "request_id", reqID, "code", p.Code, "err", err)
	}
	s.metrics.errors.WithLabelValues(p.Code).Inc()
	h := c.Response().Header()
	if p.Status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Bearer realm="lend"`)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // keep "<key>" readable in details
	merr := enc.Encode(p)
	body := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if merr != nil { // cannot happen for this struct; keep a valid response anyway
		body = []byte(`{"type":"urn:lend:problem:internal","title":"Internal error","status":500,"code":"internal"}`)
		p.Status = http.StatusInternalServerError
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(p.Status)
		return
	}
	if werr := writeBlob(c, p.Status, ProblemContentType, body); werr != nil {
		s.log.Warn("writing error response", "request_id", reqID, "err", werr)
	}
}
