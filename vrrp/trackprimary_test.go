package vrrp

import (
	"slices"
	"testing"
)

// TestRouterDontTrackPrimary: with dont_track_primary the instance's own
// link going down changes nothing, while a tracked interface still
// counts. Proved by order, not by waiting: eth0 goes down first, then the
// tracked eth1 takes the instance to FAULT; eth1 coming back (eth0 still
// down) brings it out, which it could not if eth0 were tracked.
func TestRouterDontTrackPrimary(t *testing.T) {
	for _, dont := range []bool{true, false} {
		lan := newFakeLAN()
		c := fastConfig("VI_1", 200)
		c.DontTrackPrimary = dont
		c.TrackInterfaces = []TrackInterface{{Name: "eth1"}}
		a := start(t, lan, newFakeHost(lan, "10.0.0.1", "eth1"), Options{Instances: []Config{c}})
		waitState(t, a, "VI_1", StateMaster)

		a.host.links.set("eth0", false)
		a.host.links.set("eth1", false)
		waitState(t, a, "VI_1", StateFault)
		a.host.links.set("eth1", true)
		if dont {
			waitState(t, a, "VI_1", StateMaster)
		}
		a.stop(t)
		var got []string
		for _, ch := range a.changesSoFar() {
			got = append(got, ch.To.String())
		}
		want := []string{"BACKUP", "MASTER", "FAULT", "BACKUP", "MASTER", "STOP"}
		if !dont {
			want = []string{"BACKUP", "MASTER", "FAULT", "STOP"} // eth0 is still down
		}
		if !slices.Equal(got, want) {
			t.Errorf("dont_track_primary %v: states %v, want %v", dont, got, want)
		}
	}
}
