package vrrp

import (
	"time"

	"golang.org/x/sys/unix"
)

// timerLead is how early the Go timer of a protocol timer fires before
// preciseSleepUntil takes over.
//
// The Go timer wakes on one of the runtime's threads, at the normal
// priority: on a loaded host (the one-CPU test VM with two CPU hogs) its
// callback ran up to 60 ms late, and a backup took over that much past
// Master_Down_Interval, while keepalived's VRRP process, woken by the
// kernel's timer, was on time. The lead covers that latency: the rest of
// the wait is a kernel sleep on a thread raised to loopNice, which the
// kernel wakes at the deadline.
const timerLead = 100 * time.Millisecond

// spinLead is the last stretch of a protocol timer, spent polling the clock
// rather than asleep: a nanosleep wakes tens of microseconds late on a busy
// host, a poll does not. At most this much CPU per timer expiry.
const spinLead = 50 * time.Microsecond

// preciseSleepUntil sleeps in nanosleep(2) (high resolution timers) until
// shortly before t, then polls the clock until t; it blocks the calling
// thread for at most about timerLead, at the event loop's priority
// (raiseLoopPriority; without CAP_SYS_NICE the priority stays). The
// thread's timer slack is set to 1 ns (the default, 50 us, is added to
// every sleep of a normal thread).
func preciseSleepUntil(t time.Time) {
	restore, _ := raiseLoopPriority() // locks the thread until restore
	defer restore()
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
