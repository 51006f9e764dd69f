package main

import (
	"fmt"
	"io"
	"time"

	"github.com/lvsd/lb/director/control"
)

// writeBGP prints the BGP speaker: each peer's session and uptime, each
// VIP's route announced or withdrawn with its reason.
func writeBGP(tw io.Writer, b *control.BGP, now time.Time) {
	if b == nil {
		return
	}
	fmt.Fprintln(tw)
	drain := ""
	if b.Draining {
		drain = "; DRAINING: every route withdrawn (lbctl drain-director --undo)"
	}
	fmt.Fprintf(tw, "BGP (AS %d, router id %s%s)\n", b.ASN, b.RouterID, drain)
	if b.Error != "" {
		fmt.Fprintf(tw, "  peers unreadable: %s\n", b.Error)
	}
	fmt.Fprintln(tw, "  Peer\tAS\tState\tUp for\tHold\tBFD")
	for _, p := range b.Peers {
		up, hold := "-", "-"
		if p.State == "established" && !p.Since.IsZero() {
			up = now.Sub(p.Since).Truncate(time.Second).String()
			hold = p.HoldTime.String()
		}
		bfd := p.BFD
		if bfd == "" {
			bfd = "-"
		}
		fmt.Fprintf(tw, "  %s\t%d\t%s\t%s\t%s\t%s\n", p.Address, p.ASN, p.State, up, hold, bfd)
	}
	fmt.Fprintln(tw, "  Prefix\tRoute\tSince")
	for _, p := range b.Prefixes {
		route := "announced"
		if !p.Announced {
			route = "withdrawn: " + p.Reason
		}
		since := "-"
		if !p.Since.IsZero() {
			since = p.Since.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", p.Prefix, route, since)
	}
}
