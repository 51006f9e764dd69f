package vrrp

import (
	"testing"
	"time"
)

func TestPreciseSleepUntilNeverEarly(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   time.Duration
	}{
		{"past", -time.Millisecond},
		{"now", 0},
		{"within the spin", spinLead / 2},
		{"just past the spin", spinLead + time.Microsecond},
		{"a timer lead", timerLead},
		{"beyond the lead", 3 * timerLead},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for range 10 {
				at := time.Now().Add(tc.in)
				preciseSleepUntil(at)
				if now := time.Now(); now.Before(at) {
					t.Fatalf("returned %v before the deadline", at.Sub(now))
				}
				// Not a timing assertion: a hang (a lost wake-up, a sleep
				// on the wrong clock) never returns; the bound, far above
				// any scheduling delay of a busy machine, only turns one
				// into a failure.
				if late := time.Since(at); late > 10*time.Second {
					t.Fatalf("returned %v after the deadline", late)
				}
			}
		})
	}
}
