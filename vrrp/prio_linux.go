package vrrp

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// loopNice is the nice value of the event loop's thread while it runs.
//
// keepalived runs VRRP in a process of its own; lbd's loop shares the
// process, and on a small host its thread lost the CPU to the threads
// its own sends woke (the health checks, the netlink readers, and every
// packet capture on the host): in the one-CPU test VM a takeover's
// gratuitous ARP trailed its advert by 10-170 ms where keepalived's
// trailed by 0-5 ms. A higher priority for this one mostly idle thread
// keeps the takeover's advert, address add and ARPs together.
const loopNice = -10

// raiseLoopPriority locks the calling goroutine to its thread and gives
// the thread loopNice; the returned func restores the nice value and
// unlocks. Without the privilege (CAP_SYS_NICE) the nice value stays.
func raiseLoopPriority() (restore func(), err error) {
	runtime.LockOSThread()
	tid := unix.Gettid()
	// getpriority(2) returns 20-nice.
	old, err := unix.Getpriority(unix.PRIO_PROCESS, tid)
	if err == nil {
		err = unix.Setpriority(unix.PRIO_PROCESS, tid, loopNice)
	}
	if err != nil {
		return runtime.UnlockOSThread, err
	}
	return func() {
		// Lowering a priority needs no privilege.
		_ = unix.Setpriority(unix.PRIO_PROCESS, tid, 20-old)
		runtime.UnlockOSThread()
	}, nil
}
