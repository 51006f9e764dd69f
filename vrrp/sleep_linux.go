package vrrp

import (
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// timerLead is how early the Go timer of a protocol timer fires before
// preciseSleepUntil takes over.
const timerLead = 2 * time.Millisecond

// spinLead is the last stretch of a protocol timer, spent polling the clock
// rather than asleep: a nanosleep wakes tens of microseconds late on a busy
// host, a poll does not. At most this much CPU per timer expiry.
const spinLead = 50 * time.Microsecond

// preciseSleepUntil sleeps in nanosleep(2) (high resolution timers) until
// shortly before t, then polls the clock until t; it blocks the calling
// thread for at most about timerLead. The thread's timer slack is set to
// 1 ns (the default, 50 us, is added to every sleep of a normal thread).
func preciseSleepUntil(t time.Time) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	// Per thread; failure only costs precision.
	_ = unix.Prctl(unix.PR_SET_TIMERSLACK, 1, 0, 0, 0)
	for {
		d := time.Until(t) - spinLead
		if d <= 0 {
			break
		}
		ts := unix.NsecToTimespec(int64(d))
		if err := unix.Nanosleep(&ts, nil); err != nil && err != unix.EINTR {
			break
		}
	}
	for time.Now().Before(t) {
	}
}
