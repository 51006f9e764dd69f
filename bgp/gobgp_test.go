package bgp

import (
	"context"
	"net/netip"
	"testing"
	"time"
)

// TestGoBGPLifecycle drives the embedded GoBGP through the seam without a
// router (the peer is a closed port on loopback): every call is accepted,
// the peer shows a not-established state, both families' routes can be
// added and withdrawn, and a stopped speaker refuses calls and can start
// again. The sessions themselves are proven by TestNetnsBGPECMP (bird2).
func TestGoBGPLifecycle(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	g := &GoBGP{}
	gl := Global{ASN: 65001, RouterID: netip.MustParseAddr("10.0.0.9")}
	if err := g.Start(ctx, gl); err != nil {
		t.Fatal(err)
	}
	if err := g.Start(ctx, gl); err == nil {
		t.Error("a second Start was accepted")
	}
	peer := Peer{Address: netip.MustParseAddr("127.0.0.1"), ASN: 65000, Port: 1, HoldTime: 3 * time.Second, Keepalive: time.Second, MultihopTTL: 2}
	if err := g.AddPeer(ctx, peer); err != nil {
		t.Fatal(err)
	}
	if err := g.AddPeer(ctx, peer); err == nil {
		t.Error("a duplicate peer was accepted")
	}
	med := uint32(5)
	for _, r := range []Route{
		{Prefix: netip.MustParsePrefix("192.0.2.10/32"), Communities: []uint32{65000<<16 | 1}, MED: &med},
		{Prefix: netip.MustParsePrefix("2001:db8::10/128")},
	} {
		if err := g.Announce(ctx, r); err != nil {
			t.Errorf("announce %s: %v", r.Prefix, err)
		}
		if err := g.Withdraw(ctx, r.Prefix); err != nil {
			t.Errorf("withdraw %s: %v", r.Prefix, err)
		}
	}
	ps, err := g.Peers(ctx)
	if err != nil || len(ps) != 1 || ps[0].Address != peer.Address || ps[0].ASN != 65000 || ps[0].State == Established || ps[0].State == "" {
		t.Errorf("peers %+v, %v", ps, err)
	}
	if err := g.DeletePeer(ctx, peer.Address); err != nil {
		t.Error(err)
	}
	if err := g.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := g.Announce(ctx, Route{Prefix: netip.MustParsePrefix("192.0.2.10/32")}); err == nil {
		t.Error("a stopped speaker announced")
	}
	if err := g.Start(ctx, gl); err != nil {
		t.Fatalf("restart: %v", err)
	}
	if err := g.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := (&GoBGP{}).Start(ctx, Global{ASN: 1, RouterID: netip.MustParseAddr("::1")}); err == nil {
		t.Error("an IPv6 router id was accepted")
	}
}
