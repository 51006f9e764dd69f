package daemon

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"context"

	"github.com/lvsd/lb/director/table"
)

// setConns sets the fake kernel's connection counters of member addr
// (port 80) of the one service.
func (f *discFixture) setConns(t *testing.T, addr string, active, inactive uint32) {
	t.Helper()
	svcs := f.k.Table().Services
	if len(svcs) != 1 {
		t.Fatalf("%d services in the kernel, want 1", len(svcs))
	}
	dk := table.DestKey{Address: netip.MustParseAddr(addr), Port: 80}
	if !f.k.SetConns(svcs[0].Key(), dk, active, inactive) {
		t.Fatalf("no destination %s in the kernel", dk)
	}
}

// awaitWeights waits until the table holds exactly want (address ->
// weight).
func (f *discFixture) awaitWeights(t *testing.T, want map[string]uint32) {
	t.Helper()
	waitFor(t, fmt.Sprintf("destinations %v", want), func() bool { return eqDests(f.dests(), want) })
}

// source is the status's source of the real server at addr.
func (f *discFixture) source(addr string) string {
	for _, rs := range f.d.Status(context.Background()).RealServers {
		if rs.Address.String() == addr {
			return rs.Source
		}
	}
	return ""
}

// TestDaemonDiscoveryLeaveDrains: a member that leaves the registry while
// the kernel counts connections on it is set to weight 0 (one write) and
// removed (one write) once they end or leave_timeout passes; with none it
// is removed at once (one write); one that comes back while leaving gets
// its weight back (one write); leave_timeout 0 removes at once. (On the
// old code every leave removed the destination at once.)
func TestDaemonDiscoveryLeaveDrains(t *testing.T) {
	const leaver = "198.51.100.3"
	all := map[string]uint32{"198.51.100.1": 1, "198.51.100.2": 1, leaver: 1}
	drained := map[string]uint32{"198.51.100.1": 1, "198.51.100.2": 1, leaver: 0}
	gone := map[string]uint32{"198.51.100.1": 1, "198.51.100.2": 1}
	tests := []struct {
		name    string
		extra   string
		conns   [2]uint32 // active, inactive when it leaves
		timeout time.Duration
		// then: after the leave (the table drained or gone)
		then func(t *testing.T, f *discFixture)
		last int // writes of then's last step (the removal; none after a comeback)
	}{
		{name: "no connections: removed at once", conns: [2]uint32{0, 0}, then: func(t *testing.T, f *discFixture) {
			f.awaitWeights(t, gone)
		}},
		{name: "connections: weight 0, removed when they end", conns: [2]uint32{2, 1}, then: func(t *testing.T, f *discFixture) {
			f.awaitWeights(t, drained)
			f.settle()
			waitFor(t, "status leaving", func() bool { return strings.Contains(f.source(leaver), "leaving (3 connections)") })
			if ms := f.d.discoveryMetrics(); len(ms) != 1 || ms[0].Leaving != 1 || ms[0].Members != 1 {
				t.Errorf("metrics while leaving: %+v, want 1 leaving, 1 member", ms)
			}
			if w := f.k.Writes(); w != 1 {
				t.Errorf("leave with connections: %d writes, want 1 (weight 0) (%v)", w, f.k.Log())
			}
			time.Sleep(2 * leavePoll) // still connected: stays
			f.awaitWeights(t, drained)
			f.setConns(t, leaver, 0, 1)
			time.Sleep(2 * leavePoll) // InActConn counts too
			f.awaitWeights(t, drained)
			f.k.ResetCounters()
			f.setConns(t, leaver, 0, 0)
			f.awaitWeights(t, gone)
			if ms := f.d.discoveryMetrics(); len(ms) != 1 || ms[0].Leaving != 0 {
				t.Errorf("metrics after the leave: %+v, want none leaving", ms)
			}
		}},
		{name: "leave_timeout bounds the wait", extra: "      leave_timeout: 1500ms\n", conns: [2]uint32{5, 0},
			then: func(t *testing.T, f *discFixture) {
				start := time.Now()
				f.awaitWeights(t, drained)
				f.settle()
				f.k.ResetCounters()
				f.awaitWeights(t, gone)
				if took := time.Since(start); took < time.Second {
					t.Errorf("removed %v after the leave with connections, want after leave_timeout (1.5s)", took)
				}
			}},
		{name: "comeback while leaving: weight back", conns: [2]uint32{1, 0}, last: -1, then: func(t *testing.T, f *discFixture) {
			f.awaitWeights(t, drained)
			f.settle()
			f.k.ResetCounters()
			f.zk.Create("/sgroup", "sub", leaver+":80")
			f.awaitWeights(t, all)
			f.settle()
			if w := f.k.Writes(); w != 1 {
				t.Errorf("comeback: %d writes, want 1 (weight back) (%v)", w, f.k.Log())
			}
			f.k.ResetCounters()
			f.setConns(t, leaver, 0, 0)
			time.Sleep(2 * leavePoll) // a member again: not removed
			f.awaitWeights(t, all)
			if !strings.HasPrefix(f.source(leaver), "zk:/sgroup/sub") || strings.Contains(f.source(leaver), "leaving") {
				t.Errorf("source after comeback %q", f.source(leaver))
			}
		}},
		{name: "leave_timeout 0: removed at once", extra: "      leave_timeout: 0s\n", conns: [2]uint32{3, 3},
			then: func(t *testing.T, f *discFixture) { f.awaitWeights(t, gone) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := startDiscovery(t, "      trust_new: true\n"+tt.extra)
			f.zk.Create("/sgroup", "sub", "198.51.100.2:80")
			z := f.zk.Create("/sgroup", "sub", leaver+":80")
			f.awaitWeights(t, all)
			f.setConns(t, leaver, tt.conns[0], tt.conns[1])
			f.settle()
			f.k.ResetCounters()
			f.zk.Delete("/sgroup", z)
			tt.then(t, f)
			f.settle()
			want := 1
			if tt.last < 0 {
				want = 0
			}
			if w := f.k.Writes(); w != want {
				t.Errorf("last step: %d writes, want %d (%v)", w, want, f.k.Log())
			}
		})
	}
}
