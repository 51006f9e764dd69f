package main

import (
	"fmt"
	"io"
	"net/netip"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/lvsd/lb/director/control"
)

// writeHealth prints what ipvsadm cannot show: VRRP instances, quorum,
// each real server's configured, desired and kernel weight and why they
// differ, and each health check's state and last result (ages counted
// from now). The sections share one tabwriter; their title lines, which
// have no cells, end each section's columns.
func writeHealth(w io.Writer, st control.Status, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	writeVRRP(tw, st.VRRP)
	if st.Director != nil && st.Director.Drained {
		fmt.Fprintf(tw, "  director drained since %s: it stays BACKUP (lbctl undrain-director)\n", st.Director.Since.Format(time.RFC3339))
	}
	if !st.IPVS.VRRPOnly { // no services, so no real servers
		writeRealServers(tw, st.RealServers)
	}
	writeChecks(tw, st.Checks, now)
	writeDiscovery(tw, st.Discovery)
	writeBGP(tw, st.BGP, now)
	writeQuorum(tw, st.Services)
	writePending(tw, st.IPVS)
	return tw.Flush()
}

// writeVRRP prints the VRRP instances, then their counters.
func writeVRRP(tw io.Writer, instances []control.VRRPInstance) {
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "VRRP instances")
	if len(instances) == 0 {
		fmt.Fprintln(tw, "  (none)")
		return
	}
	fmt.Fprintln(tw, "  Name\tInterface\tVRID\tState\tPriority\tSince\tVIPs\tReason")
	for _, v := range instances {
		since := "-"
		if !v.Since.IsZero() {
			since = v.Since.Format(time.RFC3339)
		}
		prio := fmt.Sprint(v.EffectivePriority)
		if v.EffectivePriority != v.Priority {
			prio = fmt.Sprintf("%d (configured %d)", v.EffectivePriority, v.Priority)
		}
		// Only a master holds its VIPs; say so rather than list
		// addresses this director does not have.
		vips := strings.Join(v.VIPs, ",")
		if v.State != "MASTER" && vips != "" {
			vips = "not held: " + vips
		}
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", v.Name, v.Interface, v.VRID, v.State, prio, since,
			vips, v.Reason)
	}
	// Counters go under the table: a line without cells inside it
	// would break the tabwriter's column alignment.
	for _, v := range instances {
		fmt.Fprintf(tw, "  %s: adverts sent=%d received=%d; drops: %s%s\n", v.Name, v.AdvertsSent, v.AdvertsReceived,
			dropsStr(v.Drops), splitBrainStr(v))
		if b := bfdStr(v); b != "" {
			fmt.Fprintf(tw, "  %s: %s\n", v.Name, b)
		}
	}
}

// bfdStr is an instance's BFD sessions: "bfd: 10.0.0.1 Up since T (1
// failure); 1 takeover(s) by BFD", or nothing without bfd.
func bfdStr(v control.VRRPInstance) string {
	if len(v.BFD) == 0 {
		return ""
	}
	parts := make([]string, len(v.BFD))
	for i, b := range v.BFD {
		parts[i] = fmt.Sprintf("%s %s", b.Peer, b.State)
		if !b.Since.IsZero() {
			parts[i] += " since " + b.Since.Format(time.RFC3339)
		}
		if b.Failures > 0 {
			parts[i] += fmt.Sprintf(" (%d failure(s))", b.Failures)
		}
	}
	return fmt.Sprintf("bfd: %s; %d takeover(s) by BFD", strings.Join(parts, ", "), v.BFDTakeovers)
}

// writeRealServers prints each real server's health and weights.
func writeRealServers(tw io.Writer, servers []control.RealServer) {
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "Real servers (weights: configured / desired / kernel)")
	if len(servers) == 0 {
		fmt.Fprintln(tw, "  (none)")
		return
	}
	fmt.Fprintln(tw, "  Service\tRemoteAddress:Port\tHealth\tConfigured\tDesired\tKernel\tReason\tSource")
	for _, rs := range servers {
		health := "up"
		if !rs.Up {
			health = "down"
		}
		if rs.State != "" {
			health = rs.State // up, down, draining, maintenance, slow-starting
		}
		if rs.Sorry {
			health = "sorry"
		}
		reason := rs.Reason
		if !weightEq(rs.DesiredWeight, rs.KernelWeight) {
			if reason != "" {
				reason += "; "
			}
			reason += "kernel differs from desired (resync pending)"
		}
		source := rs.Source
		if source == "" {
			source = "-"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", rs.Service, addrPort(rs), health, rs.ConfiguredWeight,
			weightStr(rs.DesiredWeight), weightStr(rs.KernelWeight), reason, source)
	}
}

// writeChecks prints each health check's state and last result, if any.
func writeChecks(tw io.Writer, checks []control.CheckStatus, now time.Time) {
	if len(checks) == 0 {
		return
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "Checks")
	fmt.Fprintln(tw, "  Service\tRemoteAddress:Port\tCheck\tState\tLast result\tTook\tLast at\tReason")
	for _, c := range checks {
		state := "up"
		if !c.Up {
			state = "down"
		}
		result, took, at := "-", "-", "never"
		if !c.LastCheck.IsZero() {
			result, took, at = c.Result, tookStr(c.Duration), agoStr(now.Sub(c.LastCheck))
		}
		if c.InFlight {
			at += " (checking)"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.Service, hostPort(c.Address, c.Port), c.Check, state,
			result, took, at, oneLine(c.Reason))
	}
}

// writeQuorum prints each virtual service's live weight against its
// quorum, if any.
func writeQuorum(tw io.Writer, services []control.ServiceQuorum) {
	if len(services) == 0 {
		return
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "Quorum")
	fmt.Fprintln(tw, "  Service\tLive weight\tQuorum\tState")
	for _, q := range services {
		state := "up"
		if !q.QuorumUp {
			state = "lost"
			if q.SorryActive {
				state += " (sorry server serving)"
			}
		}
		fmt.Fprintf(tw, "  %s\t%d\t%d\t%s\n", q.Service, q.LiveWeight, q.Quorum, state)
	}
}

// writePending prints the IPVS writes lbd has still to make, if any.
func writePending(tw io.Writer, ipvs control.IPVS) {
	if ipvs.InSync || len(ipvs.Pending) == 0 {
		return
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "Pending IPVS writes (the kernel differs from the desired table)")
	for _, p := range ipvs.Pending {
		fmt.Fprintf(tw, "  ipvsadm %s\n", p)
	}
}

// dropsStr lists the non-zero drop counts as reason=count sorted by
// reason, or "none".
func dropsStr(drops map[string]uint64) string {
	reasons := make([]string, 0, len(drops))
	for r, n := range drops {
		if n != 0 {
			reasons = append(reasons, r)
		}
	}
	if len(reasons) == 0 {
		return "none"
	}
	sort.Strings(reasons)
	parts := make([]string, len(reasons))
	for i, r := range reasons {
		parts[i] = fmt.Sprintf("%s=%d", r, drops[r])
	}
	return strings.Join(parts, " ")
}

func addrPort(rs control.RealServer) string {
	return hostPort(rs.Address, rs.Port)
}

func hostPort(a netip.Addr, port uint16) string {
	if a.Is4() {
		return fmt.Sprintf("%s:%d", a, port)
	}
	return fmt.Sprintf("[%s]:%d", a, port)
}

// tookStr is a check's duration, to the microsecond under a second and to
// the millisecond above.
func tookStr(d time.Duration) string {
	if d >= time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Microsecond).String()
}

// agoStr is the age of a result: "0.4s ago", "12s ago", "3m5s ago".
func agoStr(d time.Duration) string {
	switch {
	case d < 0:
		return "just now" // lbd's clock is ahead of ours
	case d < 10*time.Second:
		return fmt.Sprintf("%.1fs ago", d.Seconds())
	}
	return d.Truncate(time.Second).String() + " ago"
}

// oneLine keeps a reason on its row: a tab or a newline (a script's
// output, a server's status line) would break the table's columns.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func weightStr(w *uint32) string {
	if w == nil {
		return "-"
	}
	return fmt.Sprint(*w)
}

func weightEq(a, b *uint32) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

// splitBrainStr is an instance's split-brain count and its last episode,
// or nothing when there has been none.
func splitBrainStr(v control.VRRPInstance) string {
	sb := v.SplitBrain
	if v.SplitBrains == 0 || sb == nil {
		return ""
	}
	return fmt.Sprintf("; SPLIT BRAIN: %d episode(s), last at %s: master %s (priority %d) does not hear this one; winner: %s",
		v.SplitBrains, sb.At.Format(time.RFC3339), sb.Peer, sb.PeerPriority, sb.Winner)
}

// writeDiscovery prints each service's ZooKeeper discovery: the session,
// the members, "discovery stale since T" while the registry is lost, and
// an update held by the hold rule.
func writeDiscovery(tw io.Writer, ds []control.Discovery) {
	if len(ds) == 0 {
		return
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "Discovery")
	fmt.Fprintln(tw, "  Service\tPath\tSession\tMembers\tState\tZooKeeper")
	for _, d := range ds {
		state := "fresh"
		if d.Stale {
			state = "discovery stale since " + d.StaleSince.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%s\t%s\n", d.Service, d.Path, d.Session, d.Members, state,
			strings.Join(d.ZooKeeper, ","))
	}
	for _, d := range ds {
		if h := d.Held; h != nil {
			fmt.Fprintf(tw, "  %s: update held since %s: it removes %d of %d members (adds %d); apply it with: lbctl discovery confirm '%s'\n",
				d.Service, h.Since.Format(time.RFC3339), h.Remove, d.Members, h.Add, d.Service)
		}
	}
}
