// Package apitest holds test helpers for the API: an HTTP client that
// validates every response against the OpenAPI document (so the document
// cannot drift from the server) and a small loopback load generator.
package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/lendhq/lend/api"
)

// MaxValidatedBodyBytes bounds what the validator reads of one response.
const MaxValidatedBodyBytes = 16 << 20

// ParseDoc parses and validates the API document, adding the paths of each
// extra document (complete OpenAPI documents whose paths are test-only
// endpoints). Servers are dropped so any test host matches.
func ParseDoc(extra ...[]byte) (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(api.OpenAPI)
	if err != nil {
		return nil, fmt.Errorf("openapi.yaml: %w", err)
	}
	for i, x := range extra {
		xd, err := openapi3.NewLoader().LoadFromData(x)
		if err != nil {
			return nil, fmt.Errorf("extra document %d: %w", i, err)
		}
		for path, item := range xd.Paths.Map() {
			if doc.Paths.Value(path) != nil {
				return nil, fmt.Errorf("extra document %d: path %s already in openapi.yaml", i, path)
			}
			doc.Paths.Set(path, item)
		}
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("openapi.yaml is not a valid OpenAPI document: %w", err)
	}
	doc.Servers = nil
	return doc, nil
}

// Validator checks responses against a document.
type Validator struct {
	doc    *openapi3.T
	router routers.Router
	// Checked counts validated responses (tests assert it grew).
	Checked atomic.Int64
}

// NewValidator builds a validator for doc.
func NewValidator(doc *openapi3.T) (*Validator, error) {
	r, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, err
	}
	return &Validator{doc: doc, router: r}, nil
}

// Validate checks one response to req. A request matching no documented path
// (or method) must be answered 404 (405) with a Problem; every other response
// must be documented for its operation and status and match its schema.
func (v *Validator) Validate(req *http.Request, status int, header http.Header, body []byte) error {
	v.Checked.Add(1)
	route, params, err := v.router.FindRoute(req)
	if err != nil {
		// /v1 authenticates before routing (an unknown route does not reveal
		// itself to a caller without a key) and rate-limits, so 401 and 429
		// are correct answers too; echo answers a wrong method under /v1 with
		// 404 (its group catch-all wins over 405), which is also acceptable.
		want := http.StatusNotFound
		if errors.Is(err, routers.ErrMethodNotAllowed) {
			want = http.StatusMethodNotAllowed
		}
		if status != want && status != http.StatusNotFound && status != http.StatusUnauthorized && status != http.StatusTooManyRequests {
			return fmt.Errorf("%s %s is not in the document (%v) and was answered %d, want %d", req.Method, req.URL.Path, err, status, want)
		}
		return v.validateProblem(header, body)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 status,
		Header:                 header,
		Options: &openapi3filter.Options{
			IncludeResponseStatus: true,
			MultiError:            true,
			AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc,
		},
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		return err
	}
	if status >= 400 {
		return v.validateProblem(header, body)
	}
	return nil
}

// validateProblem checks an error response is a Problem served as problem+json.
func (v *Validator) validateProblem(header http.Header, body []byte) error {
	mt, _, _ := mime.ParseMediaType(header.Get("Content-Type"))
	if mt != api.ProblemContentType {
		return fmt.Errorf("error response has Content-Type %q, want %s", header.Get("Content-Type"), api.ProblemContentType)
	}
	var val any
	if err := json.Unmarshal(body, &val); err != nil {
		return fmt.Errorf("error response is not JSON: %w", err)
	}
	return v.doc.Components.Schemas["Problem"].Value.VisitJSON(val)
}

// transport validates every response passing through it.
type transport struct {
	t    testing.TB
	v    *Validator
	base http.RoundTripper
}

func (tr *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := tr.base.RoundTrip(req)
	if err != nil {
		return res, err
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, MaxValidatedBodyBytes))
	res.Body.Close()
	if err != nil {
		return nil, err
	}
	res.Body = io.NopCloser(bytes.NewReader(body))
	if verr := tr.v.Validate(req, res.StatusCode, res.Header, body); verr != nil {
		tr.t.Errorf("response to %s %s (status %d) does not match openapi.yaml: %v\nbody: %s", req.Method, req.URL.RequestURI(), res.StatusCode, verr, body)
	}
	return res, nil
}

// Client returns an HTTP client whose every response is validated against v;
// a mismatch fails t (t.Errorf, so it is safe from any goroutine).
func (v *Validator) Client(t testing.TB) *http.Client {
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.MaxIdleConnsPerHost = 64
	t.Cleanup(base.CloseIdleConnections)
	return &http.Client{Transport: &transport{t: t, v: v, base: base}}
}
