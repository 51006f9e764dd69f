package vrrp

import (
	"time"

	"golang.org/x/sys/unix"
)

// timerLead is how early the Go timer of a protocol timer fires before
// preciseSleepUntil takes over.
const timerLead = 2 * time.Millisecond

// preciseSleepUntil sleeps in nanosleep(2) (high resolution timers) until
// t; it blocks the calling thread for at most about timerLead.
func preciseSleepUntil(t time.Time) {
	for {
		d := time.Until(t)
		if d <= 0 {
			return
		}
		ts := unix.NsecToTimespec(int64(d))
		if err := unix.Nanosleep(&ts, nil); err != nil && err != unix.EINTR {
			return
		}
	}
}
