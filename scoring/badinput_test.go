package scoring

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lendhq/lend"
)

func goldenBytes(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "golden_model.json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mutate decodes the golden model, applies fn and re-encodes it.
func mutate(t testing.TB, fn func(m *Model)) *Model {
	t.Helper()
	m := loadGolden(t)
	fn(m)
	return m
}

func wantInvalid(t *testing.T, err error, contains string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", contains)
	}
	var le *lend.Error
	if !errors.As(err, &le) || (le.Code != lend.EINVALID && le.Code != lend.ETOOLARGE) {
		t.Fatalf("error %v (%T) is not an EINVALID *lend.Error", err, err)
	}
	if !strings.Contains(err.Error(), contains) {
		t.Fatalf("error %q does not contain %q", err.Error(), contains)
	}
}

// TestLoadRefusesCorruptArtifacts: a corrupt, truncated, wrong-version or
// tampered artifact is refused at load with a message saying why.
func TestLoadRefusesCorruptArtifacts(t *testing.T) {
	good := goldenBytes(t)
	withID := func() []byte {
		m := loadGolden(t)
		id, err := m.ComputeID()
		if err != nil {
			t.Fatal(err)
		}
		m.ID = id
		m.Variables[0].Bins[1].Points = 61 // tampered after the id was set
		b, _ := json.Marshal(m)
		return b
	}
	cases := []struct {
		name, contains string
		body           []byte
	}{
		{"empty file", "not a model artifact", nil},
		{"not json", "not a model artifact", []byte("PK\x03\x04 zip bytes")},
		{"truncated", "not a model artifact", good[:len(good)/2]},
		{"wrong version", "unsupported artifact format_version 2", []byte(strings.Replace(string(good), `"format_version": 1`, `"format_version": 2`, 1))},
		{"no version", "unsupported artifact format_version 0", []byte(`{"id":"x"}`)},
		{"unknown field", "corrupt model artifact", []byte(strings.Replace(string(good), `"target": "bad",`, `"target": "bad", "surprise": 1,`, 1))},
		{"tampered", "does not match its content", withID()},
		{"bad bin kind", "unknown kind \"rnage\"", []byte(strings.Replace(string(good), `"kind": "range", "upper": 0.02`, `"kind": "rnage", "upper": 0.02`, 1))},
		{"overlapping ranges", "overlap or leave a gap", []byte(strings.Replace(string(good), `"lower": 0.02, "upper": 0.05`, `"lower": 0.01, "upper": 0.05`, 1))},
		{"calibration sign", "b < 0", []byte(strings.Replace(string(good), `"b": -0.05`, `"b": 0.05`, 1))},
		{"grades unordered", "must rise above", []byte(strings.Replace(string(good), `"max_pd": 0.025`, `"max_pd": 0.005`, 1))},
		{"bad rate", "policy.lgd", []byte(strings.Replace(string(good), `"lgd": "0.80"`, `"lgd": "80%"`, 1))},
		{"rate too precise", "more than 9 decimal places", []byte(strings.Replace(string(good), `"max_pd": "0.12"`, `"max_pd": "0.1200000001"`, 1))},
		{"grade multiple rises", "must not rise", []byte(strings.Replace(string(good), `"sales_multiple": "0.50"`, `"sales_multiple": "1.10"`, 1))},
		{"grade missing from policy", "by_grade", []byte(strings.Replace(string(good), `{"grade": "E", "sales_multiple": "0.00", "cap_minor": 0}`, `{"grade": "F", "sales_multiple": "0.00", "cap_minor": 0}`, 1))},
		{"cap off step", "multiple of limit_step_minor", []byte(strings.Replace(string(good), `"cap_minor": 2500000`, `"cap_minor": 2500001`, 1))},
		{"capacity shape", "capacity model", []byte(strings.Replace(string(good), `"coefficients": [1.0, 0.5]`, `"coefficients": [1.0]`, 1))},
		{"rewards refunds", "rewards worse behaviour: refund_rate_90d", []byte(strings.Replace(string(good), `"label": "[0.05, +inf)", "count": 0, "bads": 0, "bad_rate": 0, "woe": 0, "points": 20`, `"label": "[0.05, +inf)", "count": 0, "bads": 0, "bad_rate": 0, "woe": 0, "points": 50`, 1))},
		{"capacity rewards decline", "capacity model rewards worse behaviour: sales_trend_12m", []byte(strings.Replace(string(good), `"coefficients": [1.0, 0.5]`, `"coefficients": [1.0, -0.5]`, 1))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "model.json")
			if err := os.WriteFile(path, c.body, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := LoadEngine(path, "")
			wantInvalid(t, err, c.contains)
		})
	}
	// the scorer loader refuses the same way
	path := filepath.Join(t.TempDir(), "model.json")
	if err := os.WriteFile(path, []byte(`{"format_version": 7}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadScorer(path)
	wantInvalid(t, err, "format_version 7")
	wantInvalid(t, err, path)
	_, err = LoadScorer(filepath.Join(t.TempDir(), "nope.json"))
	wantInvalid(t, err, "nope.json")
}

// TestChallengerRefusedSeparately: a bad challenger is refused and named.
func TestChallengerRefusedSeparately(t *testing.T) {
	bad := mutate(t, func(m *Model) { m.Calibration.Method = "spline" })
	_, err := NewEngine(loadGolden(t), bad)
	wantInvalid(t, err, "challenger: calibration must be logistic or isotonic")
}

// TestApplicationBadInput: every field a caller can get wrong is named.
func TestApplicationBadInput(t *testing.T) {
	e := goldenEngine(t)
	base := func() *Application { return goldenApplications()["m1"] }
	cases := []struct {
		name, field string
		edit        func(a *Application)
	}{
		{"no merchant", "merchant_id", func(a *Application) { a.ID = "" }},
		{"long merchant", "merchant_id", func(a *Application) { a.ID = strings.Repeat("x", MaxMerchantIDLen+1) }},
		{"no features", "features", func(a *Application) { a.Features = nil }},
		{"negative exposure", "exposure_minor", func(a *Application) { a.ExposureMinor = -1 }},
		{"zero amount", "amount", func(a *Application) { a.AmountMinor = 0 }},
		{"huge amount", "amount", func(a *Application) { a.AmountMinor = MaxMoneyMinor + 1 }},
		{"unknown product", "product", func(a *Application) { a.Product = "mortgage" }},
		{"term too long", "term_months", func(a *Application) { a.TermMonths = 25 }},
		{"term zero", "term_months", func(a *Application) { a.TermMonths = 0 }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := base()
			c.edit(a)
			d, err := e.Decide(a)
			if err == nil || lend.ErrorCode(err) != lend.EINVALID || lend.ErrorField(err) != c.field {
				t.Fatalf("Decide = %v, %v; want EINVALID on field %s", d, err, c.field)
			}
		})
	}
}

// TestPolicyDataMissingDeclines: a row without a policy feature is declined
// with a reason naming it, not approved on a guess.
func TestPolicyDataMissingDeclines(t *testing.T) {
	e := goldenEngine(t)
	for _, name := range []string{FeatureTenureDays, FeatureDaysSinceLastSale, FeatureSales90d, FeatureRefundRate90d, FeatureChargebacks180d} {
		a := goldenApplications()["m1"]
		delete(a.Features.Num, name)
		d, err := e.Decide(a)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, r := range d.Reasons {
			found = found || (r.Code == ReasonPolicyDataMissing && strings.Contains(r.Text, humanName(name)))
		}
		if d.Outcome != Declined || !found {
			t.Errorf("without %s: outcome %s reasons %+v", name, d.Outcome, d.Reasons)
		}
	}
}

func TestParseRate(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0.15", 150_000_000, true}, {"1.50", 1_500_000_000, true}, {"2", 2_000_000_000, true},
		{"0.000000001", 1, true}, {"0.1000000000", 100_000_000, true}, {"999999.999999999", 999_999_999_999_999, true},
		{"", 0, false}, {"-0.1", 0, false}, {"+0.1", 0, false}, {".5", 0, false}, {"5.", 0, false}, {"1e-3", 0, false},
		{"0.0000000001", 0, false}, {"1000000", 0, false}, {"0.1 ", 0, false}, {"1.2.3", 0, false}, {"NaN", 0, false},
	} {
		got, err := parseRate("r", c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("parseRate(%q) = %d, %v; want %d ok=%v", c.in, got, err, c.want, c.ok)
		}
	}
}

func TestFormatFixed(t *testing.T) {
	for _, c := range []struct {
		v         int64
		dec, minD int
		want      string
	}{
		{276096, 7, 4, "0.0276096"}, {600, 4, 4, "0.0600"}, {150_000_000, 9, 4, "0.1500"}, {1_500_000_000, 9, 2, "1.50"},
		{3173, 6, 6, "0.003173"}, {0, 6, 6, "0.000000"}, {123456, 2, 2, "1234.56"}, {5, 0, 0, "5"},
	} {
		if got := formatFixed(c.v, c.dec, c.minD); got != c.want {
			t.Errorf("formatFixed(%d,%d,%d) = %q, want %q", c.v, c.dec, c.minD, got, c.want)
		}
	}
}

func TestMulDiv(t *testing.T) {
	// 10^13 × 10^15 / 3 overflows 64 bits in the product but not in the result
	if q, ok := mulDivFloor(10_000_000_000_000, 1_000_000_000_000_000, 3_000_000_000_000_000); !ok || q != 3_333_333_333_333 {
		t.Errorf("mulDivFloor = %d %v", q, ok)
	}
	if q, ok := mulDivCeil(7, 3, 2); !ok || q != 11 { // 21/2 = 10.5 -> 11
		t.Errorf("mulDivCeil = %d %v", q, ok)
	}
	if _, ok := mulDivFloor(1<<62, 1<<62, 1); ok {
		t.Error("overflow not reported")
	}
}

// FuzzParseRate: any string either parses to a value that formats back to the
// same number, or is refused; never a panic.
func FuzzParseRate(f *testing.F) {
	for _, s := range []string{"0.15", "1.50", "", "-1", "0.0000000001", "999999.999999999", "1e5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := parseRate("r", s)
		if err != nil {
			return
		}
		back, err := parseRate("r", formatFixed(v, rateDecimals, 0))
		if err != nil || back != v {
			t.Fatalf("%q -> %d -> %q -> %d, %v", s, v, formatFixed(v, rateDecimals, 0), back, err)
		}
	})
}

// FuzzLoadArtifact: any bytes are either refused with a *lend.Error or give an
// engine that decides without panicking.
func FuzzLoadArtifact(f *testing.F) {
	f.Add(goldenBytes(f))
	f.Add([]byte(`{"format_version":1}`))
	f.Add([]byte(`{"format_version":1,"variables":[{"name":"x","type":"numeric","bins":[{"kind":"range","points":1}]}],"grades":[{"name":"A","max_pd":1}]}`))
	app := goldenApplications()["m1"]
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if err != nil {
			if lend.ErrorCode(err) == lend.EINTERNAL {
				t.Fatalf("internal error for user input: %v", err)
			}
			return
		}
		e, err := NewEngine(m, nil)
		if err != nil {
			if lend.ErrorCode(err) == lend.EINTERNAL {
				t.Fatalf("internal error for user input: %v", err)
			}
			return
		}
		_, _ = e.Decide(app)
	})
}

// TestDefaultPolicyValid: what training writes into every artifact loads.
func TestDefaultPolicyValid(t *testing.T) {
	m := loadGolden(t)
	m.Policy = DefaultPolicy()
	m.Grades = DefaultGrades()
	if _, err := NewEngine(m, nil); err != nil {
		t.Fatal(err)
	}
}
