package bgp_test

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/lvsd/lb/bgp"
	"github.com/lvsd/lb/bgp/bgptest"
)

var (
	r1   = netip.MustParseAddr("10.0.0.1")
	r2   = netip.MustParseAddr("10.0.0.2")
	vipA = netip.MustParseAddr("192.0.2.10")
	vipB = netip.MustParseAddr("192.0.2.11")
)

var quiet = slog.New(slog.DiscardHandler)

func cfg(peers ...netip.Addr) bgp.Config {
	c := bgp.Config{Global: bgp.Global{ASN: 65001, RouterID: netip.MustParseAddr("10.0.0.9")}}
	for _, a := range peers {
		c.Peers = append(c.Peers, bgp.Peer{Address: a, ASN: 65000, HoldTime: 3 * time.Second, Keepalive: time.Second})
	}
	return c
}

func ready(addrs ...netip.Addr) bgp.Decision {
	var vs []bgp.VIP
	for _, a := range addrs {
		vs = append(vs, bgp.VIP{Addr: a, Programmed: true, QuorumUp: true})
	}
	return bgp.Decide(bgp.Input{VIPs: vs})
}

// TestControllerSequence walks a controller through start, decisions,
// reloads and stop, and checks the speaker's calls at each step: only
// what changed is called.
func TestControllerSequence(t *testing.T) {
	ctx := context.Background()
	sp := &bgptest.Speaker{}
	c := bgp.NewController(sp, quiet)
	med := uint32(7)
	steps := []struct {
		name string
		do   func() error
		want []string
	}{
		{"decision before start is kept", func() error { return c.Apply(ctx, ready(vipA)) }, nil},
		{"start adds peers and announces", func() error { return c.Configure(ctx, cfg(r1)) },
			[]string{"Start 65001 10.0.0.9", "AddPeer 10.0.0.1", "Announce 192.0.2.10/32"}},
		{"same config: nothing", func() error { return c.Configure(ctx, cfg(r1)) }, nil},
		{"a second VIP", func() error { return c.Apply(ctx, ready(vipA, vipB)) }, []string{"Announce 192.0.2.11/32"}},
		{"quorum lost on A", func() error {
			return c.Apply(ctx, bgp.Decide(bgp.Input{VIPs: []bgp.VIP{{Addr: vipA, Programmed: true}, {Addr: vipB, Programmed: true, QuorumUp: true}}}))
		}, []string{"Withdraw 192.0.2.10/32"}},
		{"peer added, peer kept", func() error { return c.Configure(ctx, cfg(r1, r2)) }, []string{"AddPeer 10.0.0.2"}},
		{"peer changed is re-added", func() error {
			n := cfg(r1, r2)
			n.Peers[0].HoldTime = 9 * time.Second
			return c.Configure(ctx, n)
		}, []string{"DeletePeer 10.0.0.1", "AddPeer 10.0.0.1"}},
		{"MED re-announces", func() error {
			n := cfg(r1, r2)
			n.Peers[0].HoldTime = 9 * time.Second
			n.MED = &med
			return c.Configure(ctx, n)
		}, []string{"Announce 192.0.2.11/32"}},
		{"identity change restarts", func() error {
			n := cfg(r2)
			n.Global.ASN = 65002
			n.MED = &med
			return c.Configure(ctx, n)
		}, []string{"Stop ", "Start 65002 10.0.0.9", "AddPeer 10.0.0.2", "Announce 192.0.2.11/32"}},
		{"stopping withdraws", func() error {
			return c.Apply(ctx, bgp.Decide(bgp.Input{Stopping: true, VIPs: []bgp.VIP{{Addr: vipA}, {Addr: vipB}}}))
		}, []string{"Withdraw 192.0.2.11/32"}},
		{"stop", func() error { return c.Stop(ctx) }, []string{"Stop "}},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got := sp.Calls(); !reflect.DeepEqual(got, s.want) {
			t.Errorf("%s: calls %q, want %q", s.name, got, s.want)
		}
	}
	if r := sp.Routes(); r != nil {
		t.Errorf("routes left after stop: %v", r)
	}
}

func TestControllerStatusAndFailures(t *testing.T) {
	ctx := context.Background()
	sp := &bgptest.Speaker{}
	c := bgp.NewController(sp, quiet)
	if err := c.Configure(ctx, cfg(r1)); err != nil {
		t.Fatal(err)
	}
	sp.FailNext("Announce", errors.New("boom"))
	if err := c.Apply(ctx, ready(vipA)); err == nil {
		t.Fatal("a failed announce was not reported")
	}
	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Prefixes) != 1 || st.Prefixes[0].Announced || st.Prefixes[0].Reason != "announce failed" {
		t.Errorf("after a failed announce: %+v", st.Prefixes)
	}
	// The next decision retries it.
	if err := c.Apply(ctx, ready(vipA)); err != nil {
		t.Fatal(err)
	}
	if r := sp.Routes(); len(r) != 1 || r[0].Prefix != bgp.Prefix(vipA) {
		t.Errorf("routes after retry: %v", r)
	}
	if err := c.Apply(ctx, bgp.Decide(bgp.Input{VIPs: []bgp.VIP{{Addr: vipA, Programmed: true}}})); err != nil {
		t.Fatal(err)
	}
	st, _ = c.Status(ctx)
	want := []bgp.PrefixStatus{{Prefix: bgp.Prefix(vipA), Reason: bgp.QuorumLost, Since: st.Prefixes[0].Since}}
	if !reflect.DeepEqual(st.Prefixes, want) || st.Withdrawals[bgp.QuorumLost] != 1 {
		t.Errorf("status %+v", st)
	}
	if len(st.Peers) != 1 || st.Peers[0].State != bgp.Established {
		t.Errorf("peers %+v", st.Peers)
	}
}
