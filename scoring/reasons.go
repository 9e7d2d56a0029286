package scoring

import (
	"strings"
)

// MaxReasons is how many reasons a score carries: adverse-action notices
// state the principal reasons, customarily no more than four.
const MaxReasons = 4

// Reason is one adverse-action reason: a variable that cost points against its
// best attribute, or a variable the row did not carry at all.
type Reason struct {
	Code       string `json:"code"`
	Variable   string `json:"variable,omitempty"`
	Text       string `json:"text"`
	PointsLost int    `json:"points_lost,omitempty"`
	Missing    bool   `json:"missing,omitempty"` // the row lacked this variable; scored through the missing bin
}

// MissingSuffix is appended to a variable's reason code when the reason is
// that the variable was absent from the row ("R03" -> "R03-MISSING").
const MissingSuffix = "-MISSING"

// reasonText is a variable's stable code and sentences, built once at compile.
type reasonText struct {
	code, text             string
	missingCode, missingTx string
}

// prepareReasons builds each variable's code and sentences. A variable whose
// artifact carries no code gets one derived from its name (stable as long as
// the name is), and a generic sentence naming it.
func prepareReasons(m *Model) []reasonText {
	out := make([]reasonText, len(m.Variables))
	for i, v := range m.Variables {
		code := v.ReasonCode
		if code == "" {
			code = strings.ToUpper(v.Name)
		}
		text := v.ReasonText
		if text == "" {
			text = "Your " + humanName(v.Name) + " scored below the best range."
		}
		out[i] = reasonText{
			code:        code,
			text:        text,
			missingCode: code + MissingSuffix,
			missingTx:   "We had no " + humanName(v.Name) + " data for your business, so it was scored as unknown.",
		}
	}
	return out
}

// humanName turns a feature name into words: "refund_rate_90d" -> "refund rate 90d".
func humanName(name string) string { return strings.ReplaceAll(name, "_", " ") }

// TopReasons appends to dst the up to n reasons for r: first the variables the
// row did not carry at all (model order) — unknown data is always disclosed —
// then the variables that lost the most points against their best attribute
// (ties broken by model order), skipping variables that lost nothing. With
// cap(dst) >= len(dst)+n it allocates nothing.
func (s *Scorer) TopReasons(r *Result, n int, dst []Reason) []Reason {
	start := len(dst)
	if n <= 0 {
		return dst
	}
	for i := range s.vars {
		if len(dst)-start == n {
			return dst
		}
		if r.Absent != nil && r.Absent[i] {
			rt := &s.reasons[i]
			dst = append(dst, Reason{Code: rt.missingCode, Variable: s.vars[i].name, Text: rt.missingTx,
				PointsLost: s.vars[i].best - r.Points[i], Missing: true})
		}
	}
	absent := len(dst)
	if absent-start == n {
		return dst
	}
	for i := range s.vars {
		if r.Absent != nil && r.Absent[i] {
			continue
		}
		lost := s.vars[i].best - r.Points[i]
		if lost <= 0 {
			continue
		}
		if len(dst)-start == n && dst[len(dst)-1].PointsLost >= lost {
			continue // would sort after the kept tail
		}
		rt := &s.reasons[i]
		rs := Reason{Code: rt.code, Variable: s.vars[i].name, Text: rt.text, PointsLost: lost}
		if len(dst)-start == n {
			dst[len(dst)-1] = rs
		} else {
			dst = append(dst, rs)
		}
		// insertion into the sorted tail (after the absent ones), stable for ties
		for k := len(dst) - 1; k > absent && dst[k].PointsLost > dst[k-1].PointsLost; k-- {
			dst[k], dst[k-1] = dst[k-1], dst[k]
		}
	}
	return dst
}
