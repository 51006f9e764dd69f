// Package bgp announces the virtual servers' addresses to upstream routers
// with BGP, so that several active directors share a VIP by ECMP (issue
// 16). The announcer (Decide) is pure: from each VIP's readiness and the
// daemon's state it derives the prefixes to announce and why each other
// one is withdrawn. The Controller applies a decision through the narrow
// Speaker seam (Start, AddPeer, DeletePeer, Announce, Withdraw, Peers);
// GoBGP (github.com/osrg/gobgp/v4, embedded as a library) is the real
// speaker, bgptest.Speaker the fake for unit tests.
package bgp

import (
	"net/netip"
	"slices"
)

// Reason says why a VIP is not announced.
type Reason string

// The reasons, in the order Decide checks them.
const (
	Stopping      Reason = "stopping"       // lbd is stopping gracefully
	Draining      Reason = "draining"       // the operator drains the director
	NotProgrammed Reason = "not programmed" // a service of the VIP is not (yet) in the kernel
	QuorumLost    Reason = "quorum lost"    // a service of the VIP has lost quorum
	Settling      Reason = "settling"       // ready only since a moment: the checks of the same round may still change the table
)

// VIP is one announced address's readiness on this director.
type VIP struct {
	Addr netip.Addr
	// Programmed: every service at this address is in the kernel's table.
	Programmed bool
	// QuorumUp: every service at this address has its quorum.
	QuorumUp bool
	// Settling: programmed with quorum up only since a moment (the daemon
	// waits for the rest of the checks' round before it announces).
	Settling bool
}

// Input is what the announcer decides from.
type Input struct {
	VIPs     []VIP
	Draining bool
	Stopping bool
}

// Decision is the set of prefixes to announce and the reason each other
// configured VIP is withdrawn.
type Decision struct {
	Announce  []netip.Prefix          // sorted
	Withdrawn map[netip.Prefix]Reason // nil when none
}

// Prefix is a VIP's host route: /32 or /128.
func Prefix(a netip.Addr) netip.Prefix {
	return netip.PrefixFrom(a, a.BitLen())
}

// Decide is the announcer: a VIP is announced only while lbd runs, is not
// drained, and every service at the address is programmed with its quorum
// up, and not settling; otherwise it is withdrawn with the first reason
// that holds (stopping, draining, not programmed, quorum lost, settling).
func Decide(in Input) Decision {
	var d Decision
	for _, v := range in.VIPs {
		if !v.Addr.IsValid() {
			continue
		}
		p := Prefix(v.Addr)
		var why Reason
		switch {
		case in.Stopping:
			why = Stopping
		case in.Draining:
			why = Draining
		case !v.Programmed:
			why = NotProgrammed
		case !v.QuorumUp:
			why = QuorumLost
		case v.Settling:
			why = Settling
		}
		if why == "" {
			if !slices.Contains(d.Announce, p) {
				d.Announce = append(d.Announce, p)
			}
			continue
		}
		if d.Withdrawn == nil {
			d.Withdrawn = map[netip.Prefix]Reason{}
		}
		d.Withdrawn[p] = why
	}
	// A VIP listed twice is announced only if every entry says so.
	d.Announce = slices.DeleteFunc(d.Announce, func(p netip.Prefix) bool { _, w := d.Withdrawn[p]; return w })
	if len(d.Announce) == 0 {
		d.Announce = nil
	}
	slices.SortFunc(d.Announce, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
	return d
}
