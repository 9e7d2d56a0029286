package synth

import "time"

const secondsPerDay = 86400

// calendar holds the day tables shared by every merchant of one run: the
// history [histStart, asOf) and the future [asOf, asOf+FutureGMVDays), in
// days since the Unix epoch, split into periods (calendar months in the
// history, 30-day blocks in the future) over which sales are drawn.
type calendar struct {
	histStart int // first day of the history
	asOf      int // as-of day (exclusive end of the history)
	end       int // exclusive end of the simulated future
	// periods are the boundaries [periods[i], periods[i+1]) of drawing periods;
	// the history periods come first, then the future ones, and
	// periods[histPeriods] == asOf.
	periods     []int
	histPeriods int
	// season[c][d-histStart] is category c's weekly × yearly intensity on day d.
	season [][]float64
	// dateText[d-histStart] is the day as YYYY-MM-DD, for CSV output.
	dateText [][]byte
}

// epochDay returns the number of whole days since 1970-01-01 of a midnight-UTC time.
func epochDay(t time.Time) int { return int(t.Unix() / secondsPerDay) }

func newCalendar(asOf time.Time, months int) *calendar {
	c := &calendar{
		histStart: epochDay(asOf.AddDate(0, -months, 0)),
		asOf:      epochDay(asOf),
	}
	c.end = c.asOf + FutureGMVDays
	for m := months; m >= 1; m-- {
		c.periods = append(c.periods, epochDay(asOf.AddDate(0, -m, 0)))
	}
	c.histPeriods = len(c.periods)
	for d := c.asOf; d < c.end; d += 30 {
		c.periods = append(c.periods, d)
	}
	c.periods = append(c.periods, c.end)

	n := c.end - c.histStart
	c.season = make([][]float64, len(categories))
	for ci := range categories {
		c.season[ci] = make([]float64, n)
	}
	c.dateText = make([][]byte, n)
	for i := range n {
		t := time.Unix(int64(c.histStart+i)*secondsPerDay, 0).UTC()
		c.dateText[i] = []byte(t.Format(time.DateOnly))
		for ci, cat := range categories {
			c.season[ci][i] = cat.weekday[t.Weekday()] * cat.month[t.Month()-1]
		}
	}
	return c
}
