package vrrp

import (
	"time"

	"golang.org/x/sys/unix"
)

// threadUsage is the calling thread's CPU time and context switches: over
// a slow action of the event loop (which runs locked to its thread), it
// tells the time the thread ran, was preempted (involuntary switches: the
// CPU went to others) and slept (voluntary: a lock, the kernel's RTNL, a
// wait for one of Go's Ps).
type threadUsage struct {
	cpu          time.Duration
	slept, taken int64
}

func readThreadUsage() threadUsage {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
		return threadUsage{}
	}
	return threadUsage{
		cpu:   time.Duration(ru.Utime.Nano() + ru.Stime.Nano()),
		slept: ru.Nvcsw, taken: ru.Nivcsw,
	}
}

// logAttrs are the differences from u0 to u as log attributes.
func (u threadUsage) logAttrs(u0 threadUsage) []any {
	return []any{"thread_cpu", u.cpu - u0.cpu, "thread_sleeps", u.slept - u0.slept, "thread_preempted", u.taken - u0.taken}
}
