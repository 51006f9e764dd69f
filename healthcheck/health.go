package healthcheck

import "time"

// Health is the up/down state of one check, advanced by Step. It is pure:
// no clock, no sockets.
type Health struct {
	// Up is the state reported to subscribers.
	Up bool
	// Fails and Passes count consecutive failed and passed checks.
	Fails, Passes int
}

// InitialHealth is the state before the first check: up, unless alpha.
func InitialHealth(t Timing) Health {
	return Health{Up: !t.Alpha}
}

// Step applies one check result with keepalived's semantics and returns the
// next state, whether Up changed, and how long to wait before the next check.
//
//   - A pass resets the failure count; a down check comes up after rise
//     passes in a row (1 unless Rise is set). Next check after DelayLoop.
//   - A failure resets the pass count; an up check goes down after fall
//     failures in a row (Retry+1 unless Fall is set). While an up check
//     is failing but not yet down, the next check comes after
//     DelayBeforeRetry; otherwise after DelayLoop.
func (h Health) Step(t Timing, ok bool) (next Health, changed bool, delay time.Duration) {
	next = h
	if ok {
		next.Fails = 0
		next.Passes++
		if !next.Up && next.Passes >= t.rise() {
			next.Up = true
		}
		return next, next.Up != h.Up, t.DelayLoop
	}
	next.Passes = 0
	next.Fails++
	if next.Up && next.Fails >= t.fall() {
		next.Up = false
	}
	if next.Up {
		return next, false, t.DelayBeforeRetry
	}
	return next, next.Up != h.Up, t.DelayLoop
}
