// Package scoring turns a model artifact and a merchant's features into a
// score, a PD, a grade, reason codes and a credit decision. The artifact
// format (SPEC §2.4) is declared here because scoring is what must read it:
// training writes it, scoring needs nothing else.
package scoring

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"

	"github.com/lendhq/lend"
)

// FormatVersion is the artifact format this build reads and writes.
const FormatVersion = 1

// Bin kinds.
const (
	BinRange    = "range"    // numeric interval [Lower, Upper): lower bound closed, upper open
	BinCategory = "category" // one or more categorical levels
	BinMissing  = "missing"  // NULL / empty / NaN
	BinSpecial  = "special"  // one special numeric code (e.g. -9 "no bureau record")
	BinOther    = "other"    // categorical levels never seen in training
)

// Model is the whole model artifact: everything scoring needs, nothing else.
// Field order is the JSON order; maps are avoided so output is byte-stable.
type Model struct {
	FormatVersion int             `json:"format_version"`
	ID            string          `json:"id"`         // sha256 of the canonical JSON with ID and CreatedAt empty
	CreatedAt     string          `json:"created_at"` // RFC 3339; an option of training, not part of the ID
	Data          DataFingerprint `json:"data"`
	Options       []Option        `json:"options"` // training options as name/value pairs, sorted by name
	Target        string          `json:"target"`
	Scaling       Scaling         `json:"scaling"`
	Intercept     float64         `json:"intercept"` // logistic intercept (log-odds of bad)
	Variables     []Variable      `json:"variables"` // selected variables, in model order
	Calibration   Calibration     `json:"calibration"`
	Grades        []Grade         `json:"grades"` // ascending MaxPD; the last grade's MaxPD is 1
	Policy        Policy          `json:"policy"`
	Capacity      *CapacityModel  `json:"capacity,omitempty"`
	Metrics       ModelMetrics    `json:"metrics"`
	// Candidates lists every column training considered, with its IV and why it
	// was or was not selected, so a risk officer can audit the selection.
	Candidates []Candidate `json:"candidates,omitempty"`
}

// Candidate is one column considered by training.
type Candidate struct {
	Name   string  `json:"name"`
	Type   string  `json:"type"`
	IV     float64 `json:"iv"`
	Status string  `json:"status"` // "selected" or "dropped: <reason>"
}

// DataFingerprint identifies the training data.
type DataFingerprint struct {
	Rows    int     `json:"rows"`
	Columns int     `json:"columns"`
	SHA256  string  `json:"sha256"` // of the loaded content in canonical row order (independent of file row order)
	BadRate float64 `json:"bad_rate"`
	Source  string  `json:"source"` // file base name
	// SkipRows is the number of lines skipped before the header (e.g. 1 for a
	// file with two header lines).
	SkipRows  int `json:"skip_rows,omitempty"`
	TrainRows int `json:"train_rows"`
	TestRows  int `json:"test_rows"`
}

// Option is one training option, recorded for reproducibility.
type Option struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Scaling maps log-odds to points: score = Offset + Factor·ln(odds good:bad),
// Factor = PDO/ln 2, Offset = BaseScore − Factor·ln(BaseOdds).
type Scaling struct {
	PDO       float64 `json:"pdo"`
	BaseScore float64 `json:"base_score"`
	BaseOdds  float64 `json:"base_odds"` // good:bad odds at BaseScore
	Factor    float64 `json:"factor"`
	Offset    float64 `json:"offset"`
}

// Variable is one scorecard characteristic with its attributes (bins).
type Variable struct {
	Name        string  `json:"name"`
	Type        string  `json:"type"` // "numeric" or "categorical"
	Coefficient float64 `json:"coefficient"`
	StdErr      float64 `json:"std_err"`
	PValue      float64 `json:"p_value"`
	IV          float64 `json:"iv"`
	ReasonCode  string  `json:"reason_code"` // stable code, e.g. "R03"
	ReasonText  string  `json:"reason_text"` // sentence a merchant can read
	Bins        []Bin   `json:"bins"`
	// VIF is the variance inflation factor of the WoE among selected variables.
	VIF float64 `json:"vif"`
	// Trend is the WoE trend of the bins: "asc", "desc", "bad rate" (categorical).
	Trend string `json:"trend,omitempty"`
}

// Bin is one attribute of a variable. A numeric value x falls in the range bin
// with Lower <= x < Upper (nil Lower = −∞, nil Upper = +∞); special codes and
// missing values have their own bins and never fall in a range.
type Bin struct {
	Kind       string   `json:"kind"`
	Lower      *float64 `json:"lower,omitempty"`
	Upper      *float64 `json:"upper,omitempty"`
	Special    *float64 `json:"special,omitempty"`
	Categories []string `json:"categories,omitempty"`
	Label      string   `json:"label"` // e.g. "[0.05, 0.12)"
	Count      int      `json:"count"`
	Bads       int      `json:"bads"`
	BadRate    float64  `json:"bad_rate"`
	WoE        float64  `json:"woe"` // ln(share of goods / share of bads)
	Points     int      `json:"points"`
}

// Calibration methods.
const (
	// CalibrationLogistic is PD = 1 / (1 + exp(−(A + B·score))) (Platt
	// scaling). Still read so artifacts trained before isotonic keep scoring.
	CalibrationLogistic = "logistic"
	// CalibrationIsotonic is a monotone piecewise-linear PD through Knots: a
	// pool-adjacent-violators fit of the outcome on the score, because log-odds
	// of bad are often not linear in a scorecard's points.
	CalibrationIsotonic = "isotonic"
)

// Calibration limits and the PD range an isotonic knot may hold: a block with
// no bads (or no goods) must not claim certainty.
const (
	MaxCalibrationKnots = 1000
	MinCalibratedPD     = 1e-4
	MaxCalibratedPD     = 1 - 1e-4
)

// Calibration maps a score to a PD. Method "logistic":
// PD = 1 / (1 + exp(−(A + B·score))), B negative for a scorecard where higher
// scores are safer. Method "isotonic": PD is the linear interpolation between
// the two Knots around the score (ascending score, non-increasing PD), and the
// end knot's PD beyond either end; A and B are 0.
type Calibration struct {
	Method string  `json:"method"` // "logistic" or "isotonic"
	A      float64 `json:"a"`
	B      float64 `json:"b"`
	// Knots are the isotonic calibration's (score, PD) points; absent for
	// logistic, so artifacts from before isotonic keep their bytes and id.
	Knots []Knot `json:"knots,omitempty"`
	// FittedOn says which rows the calibration was fitted on ("train", "test"
	// or "all") and N how many.
	FittedOn string `json:"fitted_on,omitempty"`
	N        int    `json:"n,omitempty"`
}

// Knot is one point of an isotonic calibration: the PD at a score. Score is
// a row-weighted mean score of a PAV block (or the block's outermost training
// score at either end), so it need not be an integer.
type Knot struct {
	Score float64 `json:"score"`
	PD    float64 `json:"pd"`
}

// Grade is a PD band: a score whose PD is <= MaxPD (and above the previous grade's) gets Name.
type Grade struct {
	Name  string  `json:"name"`
	MaxPD float64 `json:"max_pd"`
}

// Policy holds the eligibility, limit and pricing parameters (issue 5; every
// field is documented in docs/POLICY.md). Rates and shares are decimal strings
// (at most 9 decimal places) so the artifact states them exactly; money is in
// minor units of Currency.
type Policy struct {
	Currency              string          `json:"currency"`
	MinorPerMajor         int64           `json:"minor_per_major"` // feature amounts are major units; 100 for USD
	MinTenureDays         int             `json:"min_tenure_days"`
	MaxDormantDays        int             `json:"max_dormant_days"`
	MinMonthlySalesMinor  int64           `json:"min_monthly_sales_minor"`
	MaxRefundRate         string          `json:"max_refund_rate"`
	MaxChargebacks180     int             `json:"max_chargebacks_180d"`
	MaxPD                 string          `json:"max_pd"`
	MinLimitMinor         int64           `json:"min_limit_minor"` // a line below this is not offered
	LimitStepMinor        int64           `json:"limit_step_minor"`
	LGD                   string          `json:"lgd"`
	ELBudgetMinor         int64           `json:"expected_loss_budget_minor"` // per line: PD × LGD × limit must not exceed it
	FundingCostAnnual     string          `json:"funding_cost_annual"`
	OperatingMarginAnnual string          `json:"operating_margin_annual"`
	MaxAPR                string          `json:"max_apr"` // the legal maximum; the priced APR is clamped to it
	ByGrade               []GradePolicy   `json:"by_grade"`
	Products              []ProductPolicy `json:"products"`
	// WorseWhen names the behaviour features whose worse direction is known.
	// A model that rewards worse behaviour in one of them (scorecard points
	// or a capacity coefficient moving the wrong way) is refused at load, so
	// worse behaviour can never raise a limit or lower a price.
	WorseWhen []Direction `json:"worse_when"`
}

// GradePolicy holds the grade-dependent limit parameters. Multiples and caps
// must not rise from a grade to a riskier one.
type GradePolicy struct {
	Grade         string `json:"grade"`
	SalesMultiple string `json:"sales_multiple"` // limit = multiple × predicted monthly sales
	CapMinor      int64  `json:"cap_minor"`
}

// ProductPolicy holds one product's bounds: the cap on a line or loan of this
// product, the smallest amount worth offering and the allowed terms.
type ProductPolicy struct {
	Name           string `json:"name"` // "term_loan" or "credit_line"
	CapMinor       int64  `json:"cap_minor"`
	MinAmountMinor int64  `json:"min_amount_minor"`
	MinTermMonths  int    `json:"min_term_months"`
	MaxTermMonths  int    `json:"max_term_months"`
}

// Direction states which way a feature is worse: "higher" or "lower".
type Direction struct {
	Feature string `json:"feature"`
	Worse   string `json:"worse"`
}

// CapacityModel predicts next-90-day sales (major units) from features with a
// linear regression (github.com/sajari/regression), optionally on log1p of
// the target and of heavy-tailed non-negative inputs.
type CapacityModel struct {
	Target          string    `json:"target"`
	Transform       string    `json:"transform"`      // "none" or "log1p" (model fitted on log1p(y))
	HorizonMonths   int       `json:"horizon_months"` // the target covers this many months (3 for 90 days)
	Variables       []string  `json:"variables"`
	InputTransforms []string  `json:"input_transforms"` // per variable: "none" or "log1p"
	Intercept       float64   `json:"intercept"`
	Coefficients    []float64 `json:"coefficients"`
	MaxTarget       float64   `json:"max_target"` // largest training target: predictions are capped at it
	TrainRows       int       `json:"train_rows"`
	TestRows        int       `json:"test_rows"`
	R2Train         float64   `json:"r2_train"` // on the fitted scale
	R2Test          float64   `json:"r2_test"`  // on the original scale
	MAETest         float64   `json:"mae_test"` // major units, original scale
}

// ModelMetrics are the validation figures on the train and test parts.
type ModelMetrics struct {
	Train Metrics `json:"train"`
	Test  Metrics `json:"test"`
	// TrainScoreBins is the training score distribution (for PSI at evaluation):
	// score cut points and the training share in each of the len(cuts)+1 bins.
	ScoreCuts   []float64 `json:"score_cuts"`
	ScoreShares []float64 `json:"score_shares"`
	// TestBands compares calibrated PD with the observed bad rate in each score
	// decile of the test part.
	TestBands []Band `json:"test_bands,omitempty"`
}

// Band is one score band: its score range [MinScore, MaxScore], rows, mean
// calibrated PD and observed bad rate.
type Band struct {
	MinScore   int     `json:"min_score"`
	MaxScore   int     `json:"max_score"`
	N          int     `json:"n"`
	MeanPD     float64 `json:"mean_pd"`
	ObservedBR float64 `json:"observed_bad_rate"`
}

// Metrics are the validation figures on one data set.
type Metrics struct {
	N       int     `json:"n"`
	BadRate float64 `json:"bad_rate"`
	AUC     float64 `json:"auc"`
	AUCLow  float64 `json:"auc_ci_low"`
	AUCHigh float64 `json:"auc_ci_high"`
	Gini    float64 `json:"gini"`
	KS      float64 `json:"ks"`
	Brier   float64 `json:"brier"`
	LogLoss float64 `json:"log_loss"`
	HLStat  float64 `json:"hosmer_lemeshow"`
	HLP     float64 `json:"hosmer_lemeshow_p"`
	PSI     float64 `json:"psi"` // population stability of the score against the training part
}

// ComputeID returns the content hash of m: sha256 of its JSON with ID and
// CreatedAt blanked, so the same data, options and seed give the same id.
func (m *Model) ComputeID() (string, error) {
	c := *m
	c.ID, c.CreatedAt = "", ""
	b, err := json.Marshal(&c)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8]), nil
}

// Marshal returns the artifact's canonical bytes (indented JSON, trailing newline).
func (m *Model) Marshal() ([]byte, error) {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// LoadFile reads and validates an artifact file.
func LoadFile(path string) (*Model, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, lend.Wrap(lend.EINVALID, err, "model %s: %v", path, err)
	}
	m, err := Parse(b)
	if err != nil {
		return nil, lend.Wrap(lend.EINVALID, err, "model %s: %s", path, lend.ErrorMessage(err))
	}
	return m, nil
}

// Parse decodes and validates an artifact. Unknown fields are refused so a
// newer format is never half-read.
func Parse(b []byte) (*Model, error) {
	var probe struct {
		FormatVersion int `json:"format_version"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return nil, lend.Errorf(lend.EINVALID, "not a model artifact (invalid JSON: %v)", err)
	}
	if probe.FormatVersion != FormatVersion {
		return nil, lend.Errorf(lend.EINVALID, "unsupported artifact format_version %d (this build reads %d)", probe.FormatVersion, FormatVersion)
	}
	var m Model
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, lend.Errorf(lend.EINVALID, "corrupt model artifact: %v", err)
	}
	if err := validateModel(&m); err != nil {
		return nil, err
	}
	return &m, nil
}

// Validate checks the artifact's internal consistency and content hash.
func (m *Model) Validate() error {
	if len(m.Variables) == 0 {
		return lend.Errorf(lend.EINVALID, "model has no variables")
	}
	for i, v := range m.Variables {
		if v.Name == "" {
			return lend.Errorf(lend.EINVALID, "variable %d has no name", i)
		}
		if len(v.Bins) == 0 {
			return lend.Errorf(lend.EINVALID, "variable %s has no bins", v.Name)
		}
	}
	if len(m.Grades) == 0 || m.Grades[len(m.Grades)-1].MaxPD < 1 {
		return lend.Errorf(lend.EINVALID, "model grades must end with a grade whose max_pd is 1")
	}
	if m.ID != "" {
		id, err := m.ComputeID()
		if err != nil {
			return err
		}
		if id != m.ID {
			return lend.Errorf(lend.EINVALID, "model id %s does not match its content (%s): the artifact was modified", m.ID, id)
		}
	}
	return nil
}
