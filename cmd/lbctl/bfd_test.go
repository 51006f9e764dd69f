package main

import (
	"net/netip"
	"testing"
	"time"

	"github.com/lvsd/lb/director/control"
)

func TestBFDStr(t *testing.T) {
	at := time.Date(2026, 12, 7, 18, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name string
		in   control.VRRPInstance
		want string
	}{
		{"no bfd", control.VRRPInstance{Name: "VI_1"}, ""},
		{"two peers", control.VRRPInstance{Name: "VI_1", BFDTakeovers: 1, BFD: []control.BFDSession{
			{Peer: netip.MustParseAddr("10.0.0.1"), State: "Up", Since: at, Failures: 1},
			{Peer: netip.MustParseAddr("10.0.0.3"), State: "Down"},
		}}, "bfd: 10.0.0.1 Up since 2026-12-07T18:00:00Z (1 failure(s)), 10.0.0.3 Down; 1 takeover(s) by BFD"},
	} {
		if got := bfdStr(c.in); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
