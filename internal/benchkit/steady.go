package benchkit

import (
	"fmt"
	"time"
)

// Steadiness says whether a checker reached its steady state before its
// window, and how long that took.
type Steadiness struct {
	Steady bool
	After  time.Duration // from the start of the wait
	// Best is the highest one-second rate seen while waiting.
	Best float64
	// Activation is how long keepalived took to activate its checkers
	// (zero for ours: it has no such phase).
	Activation time.Duration
	Inactive   bool // keepalived had not activated them all by then
}

func (s Steadiness) String() string {
	act := ""
	if s.Inactive {
		return fmt.Sprintf("NEVER reached steady state: its checkers were not all activated after %v", s.Activation.Round(100*time.Millisecond))
	}
	if s.Activation > 0 {
		act = fmt.Sprintf("checkers activated in %v, then ", s.Activation.Round(100*time.Millisecond))
	}
	if s.Steady {
		return fmt.Sprintf("%ssteady after %v", act, s.After.Round(100*time.Millisecond))
	}
	return fmt.Sprintf("%sNEVER reached steady state in %v (best second: %.0f checks/s)", act, s.After.Round(100*time.Millisecond), s.Best)
}

// SteadyRule is when a checker counts as steady: it completed at least
// frac of the scheduled checks in each of need consecutive seconds.
type SteadyRule struct {
	Want    float64 // checks per second scheduled
	Frac    float64
	Need    int
	MaxWait time.Duration
}

// SteadyTracker feeds one-second counts into the rule; pure, so that the
// rule is tested without a clock.
type SteadyTracker struct {
	Rule   SteadyRule
	streak int
	best   float64
}

// Add takes the checks completed over elapsed and reports whether the
// checker is now steady.
func (t *SteadyTracker) Add(delta int64, elapsed time.Duration) bool {
	rate := float64(delta) / elapsed.Seconds()
	t.best = max(t.best, rate)
	if rate >= t.Rule.Frac*t.Rule.Want {
		t.streak++
	} else {
		t.streak = 0
	}
	return t.streak >= t.Rule.Need
}

// WaitSteady samples count every second until the rule holds or maxWait
// has passed. A checker that never gets there is a result, not an error:
// only a failing count is.
func WaitSteady(count func() (int64, error), rule SteadyRule) (Steadiness, error) {
	tr := SteadyTracker{Rule: rule}
	start := time.Now()
	prev, err := count()
	if err != nil {
		return Steadiness{}, err
	}
	last := start
	for time.Since(start) < rule.MaxWait {
		time.Sleep(time.Second)
		cur, err := count()
		if err != nil {
			return Steadiness{}, err
		}
		now := time.Now()
		ok := tr.Add(cur-prev, now.Sub(last))
		prev, last = cur, now
		if ok {
			return Steadiness{Steady: true, After: time.Since(start), Best: tr.best}, nil
		}
	}
	return Steadiness{After: time.Since(start), Best: tr.best}, nil
}
