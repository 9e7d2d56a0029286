package scoring

import (
	"github.com/lendhq/lend"
)

// Outcomes of a decision.
const (
	Approved     = "approved"
	CounterOffer = "counter_offer"
	Declined     = "declined"
)

// Application limits.
const (
	MaxMerchantIDLen = 128
)

// Engine makes credit decisions with a champion model and, optionally, a
// challenger scored in shadow on every decision. It is immutable after
// NewEngine and safe for concurrent use.
type Engine struct {
	champion   *modelRuntime
	challenger *modelRuntime
}

// modelRuntime is one compiled artifact: scorer, policy and id.
type modelRuntime struct {
	s   *Scorer
	pol *compiledPolicy
	id  string
}

func newRuntime(m *Model) (*modelRuntime, error) {
	s, err := Compile(m)
	if err != nil {
		return nil, err
	}
	pol, err := compilePolicy(m)
	if err != nil {
		return nil, err
	}
	id := m.ID
	if id == "" { // a hand-written artifact: identify it by its content
		if id, err = m.ComputeID(); err != nil {
			return nil, lend.Wrap(lend.EINVALID, err, "model: cannot compute id: %v", err)
		}
	}
	return &modelRuntime{s: s, pol: pol, id: id}, nil
}

// NewEngine validates and compiles the champion and, when not nil, the
// challenger. Both must be complete artifacts (model and policy).
func NewEngine(champion, challenger *Model) (*Engine, error) {
	c, err := newRuntime(champion)
	if err != nil {
		return nil, err
	}
	e := &Engine{champion: c}
	if challenger != nil {
		if e.challenger, err = newRuntime(challenger); err != nil {
			return nil, lend.Wrap(lend.EINVALID, err, "challenger: %s", lend.ErrorMessage(err))
		}
	}
	return e, nil
}

// LoadEngine reads the champion artifact and, when challengerPath is not
// empty, the challenger.
func LoadEngine(championPath, challengerPath string) (*Engine, error) {
	m, err := LoadFile(championPath)
	if err != nil {
		return nil, err
	}
	var ch *Model
	if challengerPath != "" {
		if ch, err = LoadFile(challengerPath); err != nil {
			return nil, lend.Wrap(lend.EINVALID, err, "challenger: %s", lend.ErrorMessage(err))
		}
	}
	return NewEngine(m, ch)
}

// ModelID returns the champion's model id.
func (e *Engine) ModelID() string { return e.champion.id }

// Scorer returns the champion's scorer.
func (e *Engine) Scorer() *Scorer { return e.champion.s }

// Merchant is what the engine knows about a merchant when deciding: its
// features and its standing with us.
type Merchant struct {
	ID            string
	Features      *Features
	ExposureMinor int64 // principal drawn or outstanding on its lines and loans
	Delinquent    bool  // a loan is past due
}

// Application is a merchant's request for credit.
type Application struct {
	Merchant
	AmountMinor int64
	TermMonths  int
	Product     string // term_loan or credit_line
}

// Assessment is a merchant's credit standing under one model: score, PD,
// grade, the reasons, and the line the policy grants for a product (limit 0
// when ineligible). The nightly refresh writes these as credit lines.
type Assessment struct {
	MerchantID   string          `json:"merchant_id"`
	ModelID      string          `json:"model_id"`
	Product      string          `json:"product"`
	Eligible     bool            `json:"eligible"`
	Score        int             `json:"score"`
	PD           string          `json:"pd"` // 12-month PD, 6 decimals
	Grade        string          `json:"grade"`
	Line         *LineAssessment `json:"line,omitempty"`    // nil when ineligible
	Pricing      *Pricing        `json:"pricing,omitempty"` // nil when ineligible
	Reasons      []Reason        `json:"reasons"`           // policy reasons (decline reasons when ineligible)
	ScoreReasons []Reason        `json:"score_reasons"`     // the key factors of the score, up to MaxReasons

	aprNano int64
}

// Decision is the answer to an application.
type Decision struct {
	Outcome        string `json:"outcome"` // approved, counter_offer or declined
	RequestedMinor int64  `json:"requested_minor"`
	OfferedMinor   int64  `json:"offered_minor"` // 0 when declined
	TermMonths     int    `json:"term_months"`
	Assessment
	Challenger *Shadow `json:"challenger,omitempty"`
}

// Shadow is what the challenger model would have decided. It is recorded for
// comparison and never influences the decision.
type Shadow struct {
	ModelID      string   `json:"model_id"`
	Outcome      string   `json:"outcome,omitempty"`
	Score        int      `json:"score"`
	PD           string   `json:"pd,omitempty"`
	Grade        string   `json:"grade,omitempty"`
	LimitMinor   int64    `json:"limit_minor"`
	OfferedMinor int64    `json:"offered_minor"`
	APR          string   `json:"apr,omitempty"`
	Reasons      []string `json:"reasons,omitempty"` // codes only
	Error        string   `json:"error,omitempty"`   // the challenger could not decide (e.g. unknown product)
}

func validateMerchant(m *Merchant) error {
	if m.ID == "" || len(m.ID) > MaxMerchantIDLen {
		return lend.FieldErrorf("merchant_id", "must be 1..%d characters", MaxMerchantIDLen)
	}
	if m.Features == nil {
		return lend.FieldErrorf("features", "missing for merchant %s", m.ID)
	}
	if m.ExposureMinor < 0 || m.ExposureMinor > MaxMoneyMinor {
		return lend.FieldErrorf("exposure_minor", "%d out of range 0..%d", m.ExposureMinor, int64(MaxMoneyMinor))
	}
	return nil
}

// Assess scores a merchant and works out its line for product. Deterministic:
// the same merchant and model give the same assessment.
func (e *Engine) Assess(m *Merchant, product string) (*Assessment, error) {
	if err := validateMerchant(m); err != nil {
		return nil, err
	}
	pr := e.champion.pol.products[product]
	if pr == nil {
		return nil, lend.FieldErrorf("product", "unknown product %q", product)
	}
	return e.champion.assess(m, pr), nil
}

func (rt *modelRuntime) assess(m *Merchant, pr *ProductPolicy) *Assessment {
	s, cp := rt.s, rt.pol
	r := s.NewResult()
	s.ScoreFeatures(m.Features, r)
	pd6 := policyPD(r.PD)
	a := &Assessment{MerchantID: m.ID, ModelID: rt.id, Product: pr.Name, Score: r.Score,
		PD: formatFixed(pd6, 6, 6), Grade: r.Grade}
	a.ScoreReasons = s.TopReasons(r, MaxReasons, make([]Reason, 0, MaxReasons))
	monthly, source, haveSales := predictMonthlySales(cp.capacity, m.Features, cp.p.MinorPerMajor)
	a.Reasons = cp.eligibility(m.Features, monthly, haveSales, pd6, m.Delinquent, nil)
	if len(a.Reasons) > 0 {
		return a
	}
	la := cp.assessLine(r.Grade, pd6, monthly, m.ExposureMinor, pr)
	la.CapacitySource = source
	if la.LimitMinor < cp.p.MinLimitMinor || la.LimitMinor == 0 {
		a.Reasons = append(a.Reasons, Reason{Code: ReasonLimitBelowMinimum,
			Text: "The credit line your sales and risk support is below our minimum of " + formatMoney(cp.p.MinLimitMinor, cp.p.MinorPerMajor) + " " + cp.p.Currency + "."})
		return a
	}
	pricing, apr := cp.price(pd6)
	a.Eligible, a.Line, a.Pricing, a.aprNano = true, &la, &pricing, apr
	return a
}

// Decide answers an application: approved for the amount asked when it fits
// the available line, a counter-offer of the available line (rounded down to
// the step) when it does not but that is at least the product's minimum, and
// declined otherwise. Always with reasons and the model id; deterministic.
// The challenger, if any, is scored in shadow and only recorded.
func (e *Engine) Decide(app *Application) (*Decision, error) {
	if err := validateMerchant(&app.Merchant); err != nil {
		return nil, err
	}
	pr := e.champion.pol.products[app.Product]
	if pr == nil {
		return nil, lend.FieldErrorf("product", "unknown product %q", app.Product)
	}
	if app.AmountMinor <= 0 || app.AmountMinor > MaxMoneyMinor {
		return nil, lend.FieldErrorf("amount", "%d must be in 1..%d minor units", app.AmountMinor, int64(MaxMoneyMinor))
	}
	if app.TermMonths < pr.MinTermMonths || app.TermMonths > pr.MaxTermMonths {
		return nil, lend.FieldErrorf("term_months", "%d must be in %d..%d for %s", app.TermMonths, pr.MinTermMonths, pr.MaxTermMonths, pr.Name)
	}
	d := e.champion.decide(app, pr)
	if e.challenger != nil {
		d.Challenger = e.challenger.shadow(app)
	}
	return d, nil
}

func (rt *modelRuntime) decide(app *Application, pr *ProductPolicy) *Decision {
	a := rt.assess(&app.Merchant, pr)
	d := &Decision{Outcome: Declined, RequestedMinor: app.AmountMinor, TermMonths: app.TermMonths, Assessment: *a}
	if !a.Eligible {
		return d
	}
	step := rt.pol.p.LimitStepMinor
	avail := a.Line.AvailableMinor
	switch {
	case app.AmountMinor < pr.MinAmountMinor:
		d.Reasons = append(d.Reasons, Reason{Code: ReasonAmountBelowMinimum,
			Text: "The amount asked is below this product's minimum of " + formatMoney(pr.MinAmountMinor, rt.pol.p.MinorPerMajor) + " " + rt.pol.p.Currency + "."})
	case app.AmountMinor <= avail:
		d.Outcome, d.OfferedMinor = Approved, app.AmountMinor
		d.Reasons = append(d.Reasons, Reason{Code: ReasonApproved, Text: "The amount asked fits your available credit."})
	case floorToStep(avail, step) >= max(pr.MinAmountMinor, 1):
		d.Outcome, d.OfferedMinor = CounterOffer, floorToStep(avail, step)
		d.Reasons = append(d.Reasons, Reason{Code: ReasonCounterOffer,
			Text: "The amount asked is more than your available credit of " + formatMoney(avail, rt.pol.p.MinorPerMajor) + " " + rt.pol.p.Currency + "; we can offer " + formatMoney(d.OfferedMinor, rt.pol.p.MinorPerMajor) + " " + rt.pol.p.Currency + "."})
	default:
		d.Reasons = append(d.Reasons, Reason{Code: ReasonNoAvailableCredit,
			Text: "Your available credit is below this product's minimum amount."})
	}
	return d
}

// shadow runs the challenger's full decision; it never returns an error so a
// broken challenger cannot disturb the champion's answer.
func (rt *modelRuntime) shadow(app *Application) *Shadow {
	sh := &Shadow{ModelID: rt.id}
	pr := rt.pol.products[app.Product]
	if pr == nil {
		sh.Error = "challenger policy has no product " + app.Product
		return sh
	}
	d := rt.decide(app, pr)
	sh.Outcome, sh.Score, sh.PD, sh.Grade, sh.OfferedMinor = d.Outcome, d.Score, d.PD, d.Grade, d.OfferedMinor
	if d.Line != nil {
		sh.LimitMinor = d.Line.LimitMinor
	}
	if d.Pricing != nil {
		sh.APR = d.Pricing.APR
	}
	for _, r := range d.Reasons {
		sh.Reasons = append(sh.Reasons, r.Code)
	}
	return sh
}
