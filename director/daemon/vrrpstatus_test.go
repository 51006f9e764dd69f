package daemon

import (
	"maps"
	"net/netip"
	"testing"
	"time"

	"github.com/lvsd/lb/director/control"
	"github.com/lvsd/lb/vrrp"
)

func TestVRRPInstanceStatus(t *testing.T) {
	for _, tc := range []struct {
		name       string
		in         vrrp.InstanceStats
		drops      map[string]uint64
		sent, recv uint64
		reason     string
	}{
		{
			name: "counters and non-zero drops by reason name",
			in: vrrp.InstanceStats{Name: "VI_1", State: vrrp.StateMaster, Priority: 100, BasePriority: 100,
				AdvertsSent: 120, AdvertsReceived: 2,
				Drops: map[vrrp.DropReason]uint64{vrrp.DropAuth: 3, vrrp.DropTTL: 1, vrrp.DropVRID: 0}},
			drops: map[string]uint64{"auth": 3, "ttl": 1},
			sent:  120, recv: 2,
		},
		{
			name:  "no drops: no map",
			in:    vrrp.InstanceStats{Name: "VI_1", State: vrrp.StateBackup, Priority: 100, BasePriority: 100, AdvertsReceived: 7},
			drops: nil, recv: 7,
		},
		{
			name:  "only zero counts: no map",
			in:    vrrp.InstanceStats{Name: "VI_1", State: vrrp.StateBackup, Priority: 80, BasePriority: 100, Drops: map[vrrp.DropReason]uint64{vrrp.DropAuth: 0}},
			drops: nil, reason: "priority 100 -> 80 by tracking",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := vrrpInstanceStatus(tc.in)
			if !maps.Equal(got.Drops, tc.drops) || (tc.drops == nil) != (got.Drops == nil) {
				t.Errorf("drops %v, want %v", got.Drops, tc.drops)
			}
			if got.AdvertsSent != tc.sent || got.AdvertsReceived != tc.recv {
				t.Errorf("adverts sent %d received %d, want %d %d", got.AdvertsSent, got.AdvertsReceived, tc.sent, tc.recv)
			}
			if got.Reason != tc.reason || got.State != tc.in.State.String() || got.Name != tc.in.Name {
				t.Errorf("status %+v", got)
			}
		})
	}
	// VIPs are listed as prefixes.
	got := vrrpInstanceStatus(vrrp.InstanceStats{VIPs: []netip.Prefix{netip.MustParsePrefix("192.168.56.90/32")}})
	if len(got.VIPs) != 1 || got.VIPs[0] != "192.168.56.90/32" {
		t.Errorf("VIPs %v", got.VIPs)
	}
}

// TestVRRPInstanceSplitBrainStatus: a split brain the router counted is on
// the control socket with its peer and winner; none, no field.
func TestVRRPInstanceSplitBrainStatus(t *testing.T) {
	at := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	got := vrrpInstanceStatus(vrrp.InstanceStats{Name: "VI_1", State: vrrp.StateMaster, SplitBrains: 2,
		SplitBrainPeer: netip.MustParseAddr("10.0.0.9"), SplitBrainPeerPriority: 50, SplitBrainAt: at,
		SplitBrainWinner: "this router: priority 100 > 50"})
	want := control.SplitBrain{Peer: netip.MustParseAddr("10.0.0.9"), PeerPriority: 50, At: at, Winner: "this router: priority 100 > 50"}
	if got.SplitBrains != 2 || got.SplitBrain == nil || *got.SplitBrain != want {
		t.Errorf("split brain %d %+v, want 2 %+v", got.SplitBrains, got.SplitBrain, want)
	}
	if got := vrrpInstanceStatus(vrrp.InstanceStats{Name: "VI_1"}); got.SplitBrains != 0 || got.SplitBrain != nil {
		t.Errorf("no split brain: %+v", got)
	}
}

// TestVRRPInstanceBFDStatus: an instance's BFD sessions and takeovers
// reach the control socket's view.
func TestVRRPInstanceBFDStatus(t *testing.T) {
	at := time.Date(2026, 12, 7, 18, 0, 0, 0, time.UTC)
	peer := netip.MustParseAddr("10.0.0.1")
	got := vrrpInstanceStatus(vrrp.InstanceStats{Name: "VI_1", BFDTakeovers: 1,
		BFD: []vrrp.PeerSession{{Peer: peer, State: "Up", Since: at, Failures: 2}}})
	want := []control.BFDSession{{Peer: peer, State: "Up", Since: at, Failures: 2}}
	if len(got.BFD) != 1 || got.BFD[0] != want[0] || got.BFDTakeovers != 1 {
		t.Fatalf("bfd %+v takeovers %d, want %+v 1", got.BFD, got.BFDTakeovers, want)
	}
	if got := vrrpInstanceStatus(vrrp.InstanceStats{Name: "VI_1"}); got.BFD != nil {
		t.Errorf("bfd %+v without bfd", got.BFD)
	}
}
