package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"
	"github.com/lendhq/lend"
)

// Page sizes of list endpoints.
const (
	DefaultPageSize = 50
	MaxPageSize     = 500
	// MaxCursorLen bounds an opaque cursor.
	MaxCursorLen = 512
)

// DecodeJSON decodes the request body into v, refusing unknown fields (no mass
// assignment), trailing data and an empty body. Errors are *lend.Error naming
// the offending field: 400 for bad input, 413 past the body limit.
func DecodeJSON(c echo.Context, v any) error {
	return decodeJSON(c.Request().Body, v)
}

func decodeJSON(r io.Reader, v any) error {
	if r == nil {
		return &lend.Error{Code: lend.EINVALID, Field: "body", Message: "body: a JSON object is required"}
	}
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return &lend.Error{Code: lend.EINVALID, Field: "body", Message: "body: unexpected data after the JSON object"}
	}
	return nil
}

// jsonError turns encoding/json's errors into field-naming lend errors.
func jsonError(err error) error {
	var (
		mbe *http.MaxBytesError
		se  *json.SyntaxError
		te  *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &mbe):
		return err // the error handler maps it to 413
	case errors.Is(err, io.EOF):
		return &lend.Error{Code: lend.EINVALID, Field: "body", Message: "body: a JSON object is required"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &lend.Error{Code: lend.EINVALID, Field: "body", Message: "body: truncated JSON"}
	case errors.As(err, &se):
		return &lend.Error{Code: lend.EINVALID, Field: "body", Message: fmt.Sprintf("body: malformed JSON at byte %d", se.Offset)}
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			return &lend.Error{Code: lend.EINVALID, Field: "body", Message: fmt.Sprintf("body: must be a JSON %s", jsonKind(te.Type.Kind().String()))}
		}
		return lend.FieldErrorf(field, "must be a %s, not a JSON %s", jsonKind(te.Type.Kind().String()), te.Value)
	}
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		name, _ = strconv.Unquote(name)
		if name == "" {
			return &lend.Error{Code: lend.EINVALID, Field: "body", Message: `body: unknown field "" (the request may only set documented fields)`}
		}
		return lend.FieldErrorf(name, "unknown field (the request may only set documented fields)")
	}
	return &lend.Error{Code: lend.EINVALID, Field: "body", Message: "body: invalid JSON", Err: err}
}

// jsonKind names a Go kind the way an API client thinks of it.
func jsonKind(kind string) string {
	switch kind {
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "integer"
	case "float32", "float64":
		return "number"
	case "struct", "map":
		return "object"
	case "slice", "array":
		return "array"
	case "bool":
		return "boolean"
	}
	return kind
}

// EncodeCursor makes an opaque page cursor from a position (e.g. the last id).
func EncodeCursor(position string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(position))
}

// DecodeCursor reads the cursor query parameter back into a position ("" when absent).
func DecodeCursor(c echo.Context) (string, error) {
	raw := c.QueryParam("cursor")
	if raw == "" {
		return "", nil
	}
	if len(raw) > MaxCursorLen {
		return "", lend.FieldErrorf("cursor", "longer than %d characters", MaxCursorLen)
	}
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil || len(b) == 0 {
		return "", lend.FieldErrorf("cursor", "is not a cursor this server returned")
	}
	return string(b), nil
}

// PageLimit reads the limit query parameter: DefaultPageSize when absent,
// 1..MaxPageSize otherwise.
func PageLimit(c echo.Context) (int, error) {
	raw := c.QueryParam("limit")
	if raw == "" {
		return DefaultPageSize, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > MaxPageSize {
		return 0, lend.FieldErrorf("limit", "must be an integer from 1 to %d", MaxPageSize)
	}
	return n, nil
}

// WriteJSON writes v as JSON with status. encoding/json output is
// deterministic for structs, so a replayed response is byte-identical.
func WriteJSON(c echo.Context, status int, v any) error {
	buf := bufPool.Get().(*bytes.Buffer)
	defer putBuf(buf)
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return lend.Wrap(lend.EINTERNAL, err, "encoding response")
	}
	return writeBlob(c, status, echo.MIMEApplicationJSON, buf.Bytes()) // written (copied) before the buffer is reused
}

// writeBlob writes b with its Content-Length: without one, net/http sends a
// body past 2 KiB chunked, in more pieces and write calls.
func writeBlob(c echo.Context, status int, contentType string, b []byte) error {
	c.Response().Header()[echo.HeaderContentLength] = []string{strconv.Itoa(len(b))}
	return c.Blob(status, contentType, b)
}

// maxPooledBufBytes keeps one huge response from pinning its buffer in the pool.
const maxPooledBufBytes = 64 << 10

// bufPool recycles response buffers (one allocation less per response).
var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func putBuf(b *bytes.Buffer) {
	if b.Cap() > maxPooledBufBytes {
		return
	}
	b.Reset()
	bufPool.Put(b)
}
