package scoring

// Reason is one adverse-action reason: a variable that cost points against its
// best attribute.
type Reason struct {
	Code       string `json:"code"`
	Variable   string `json:"variable"`
	Text       string `json:"text"`
	PointsLost int    `json:"points_lost"`
}

// TopReasons appends to dst the up to n variables of r that lost the most
// points against their best attribute (ties broken by model order), skipping
// variables that lost nothing.
func (s *Scorer) TopReasons(r *Result, n int, dst []Reason) []Reason {
	start := len(dst)
	for i := range s.vars {
		best := s.vars[i].points[0]
		for _, p := range s.vars[i].points {
			if p > best {
				best = p
			}
		}
		lost := best - r.Points[i]
		if lost <= 0 {
			continue
		}
		v := &s.m.Variables[i]
		rs := Reason{Code: v.ReasonCode, Variable: v.Name, Text: v.ReasonText, PointsLost: lost}
		// insertion into the sorted tail, keeping at most n
		dst = append(dst, rs)
		for k := len(dst) - 1; k > start && dst[k].PointsLost > dst[k-1].PointsLost; k-- {
			dst[k], dst[k-1] = dst[k-1], dst[k]
		}
		if len(dst)-start > n {
			dst = dst[:start+n]
		}
	}
	return dst
}
