package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"net/http"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/lendhq/lend"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

// TestProblemsGolden pins the problem+json rendering of each kind of error
// (testdata/problems.golden.json; regenerate with -update and review the diff).
func TestProblemsGolden(t *testing.T) {
	cases := []struct {
		name string
		err  error
	}{
		{"field error", lend.FieldErrorf("amount_minor", "must be > 0")},
		{"not found", lend.Errorf(lend.ENOTFOUND, "loan ln_1 not found")},
		{"insufficient", lend.Errorf(lend.EINSUFFICIENT, "available credit is 1000")},
		{"internal with cause", lend.Wrap(lend.EINTERNAL, errors.New("disk full"), "writing")},
		{"plain error", errors.New("driver: bad connection")},
		{"unknown code", &lend.Error{Code: "weird", Message: "x"}},
		{"echo 404", echo.ErrNotFound},
		{"echo 405", echo.ErrMethodNotAllowed},
		{"body limit", &http.MaxBytesError{Limit: 1024}},
	}
	var buf bytes.Buffer
	for _, tc := range cases {
		p := problemOf(tc.err, "/v1/loans/ln_1", "req-1")
		b, _ := json.Marshal(struct {
			Case    string  `json:"case"`
			Problem Problem `json:"problem"`
		}{tc.name, p})
		buf.Write(b)
		buf.WriteByte('\n')
	}
	const golden = "testdata/problems.golden.json"
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("problems differ from %s (run with -update and review):\n%s", golden, buf.String())
	}
	if strings.Contains(buf.String(), "disk full") || strings.Contains(buf.String(), "bad connection") {
		t.Fatal("an internal cause leaked into a problem")
	}
}

func TestStatusOf(t *testing.T) {
	for code, want := range map[string]int{
		lend.EINVALID: 400, lend.EUNAUTHORIZED: 401, lend.EFORBIDDEN: 403, lend.ENOTFOUND: 404,
		CodeMethodNotAllowed: 405, lend.ECONFLICT: 409, lend.ETOOLARGE: 413, lend.EUNPROCESSABLE: 422,
		lend.EINSUFFICIENT: 422, lend.ERATELIMIT: 429, lend.EINTERNAL: 500, lend.ENOTIMPL: 501,
		CodeUnavailable: 503, "no_such_code": 500,
	} {
		if got := StatusOf(code); got != want {
			t.Errorf("StatusOf(%q) = %d, want %d", code, got, want)
		}
	}
}

type fuzzBody struct {
	MerchantID  string `json:"merchant_id"`
	AmountMinor int64  `json:"amount_minor"`
	TermMonths  int    `json:"term_months"`
	Nested      struct {
		Date string `json:"date"`
	} `json:"nested"`
}

// FuzzDecodeJSON: any body decodes or yields an EINVALID error naming a
// field; never a panic, never another code.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{"merchant_id":"m","amount_minor":1,"term_months":12}`, `{"x":1}`, `{"amount_minor":"1"}`,
		`{"nested":{"date":1}}`, `{"nested":{"zz":1}}`, `[`, ``, `{} {}`, `null`, `{"amount_minor":1e400}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var v fuzzBody
		err := decodeJSON(bytes.NewReader(b), &v)
		if err == nil {
			return
		}
		if lend.ErrorCode(err) != lend.EINVALID || lend.ErrorField(err) == "" {
			t.Fatalf("decodeJSON(%q) = %v (code %s, field %q)", b, err, lend.ErrorCode(err), lend.ErrorField(err))
		}
	})
}

// TestApplyProcsIsIdempotent: every call sets ProcsPerCPU × the processors Go
// chose at start, however often it runs (the benchmarks call it per run).
func TestApplyProcsIsIdempotent(t *testing.T) {
	if os.Getenv("GOMAXPROCS") != "" {
		t.Skip("GOMAXPROCS is set in the environment")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	want := ProcsPerCPU * defaultProcs()
	for i := 0; i < 3; i++ {
		if got := ApplyProcs(); got != want || runtime.GOMAXPROCS(0) != want {
			t.Fatalf("call %d: ApplyProcs %d, GOMAXPROCS %d, want %d", i+1, got, runtime.GOMAXPROCS(0), want)
		}
	}
}
