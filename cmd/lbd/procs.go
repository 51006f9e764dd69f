package main

import (
	"os"
	"runtime"
)

// minProcs is the fewest Ps (runtime.GOMAXPROCS) lbd runs with.
//
// On a one-CPU host Go gives the process one P, which the VRRP event
// loop shares with the health checkers, the IPVS reconciler and the
// netlink readers. Each of the loop's blocking syscalls (the advert, the
// netlink address add) hands that P to another goroutine, and the loop
// waits for it to come back before its next step: in the one-CPU test VM
// a takeover's gratuitous ARP went out up to 0.1 s (0.6 s on a loaded
// host) after its advert, while keepalived, whose VRRP runs in a process
// of its own, sent it within a few milliseconds. A second P lets the
// loop continue as soon as the kernel gives its thread the CPU.
const minProcs = 2

// ensureProcs raises GOMAXPROCS to minProcs unless the environment sets
// it; it returns the value in effect.
func ensureProcs() int {
	if os.Getenv("GOMAXPROCS") == "" && runtime.GOMAXPROCS(0) < minProcs {
		runtime.GOMAXPROCS(minProcs)
	}
	return runtime.GOMAXPROCS(0)
}
