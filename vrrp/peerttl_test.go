package vrrp

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestPeerTTLs: a peer listed in unicast_peer_ttls is held to its own TTL
// bounds, the other peers to the instance's (keepalived keeps the bounds
// per unicast_peer).
func TestPeerTTLs(t *testing.T) {
	peer2, peer3 := netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.0.3")
	cfg := func(min, max int, own ...PeerTTL) Config {
		c := testConfig()
		c.UnicastPeers = []netip.Addr{peer2, peer3}
		c.UnicastMinTTL, c.UnicastMaxTTL = min, max
		c.UnicastPeerTTLs = own
		return c
	}
	tests := []struct {
		name string
		cfg  Config
		from netip.Addr
		ttl  int
		want bool
	}{
		{"instance bounds, peer within", cfg(255, 0), peer2, 255, true},
		{"instance bounds, peer below", cfg(255, 0), peer2, 254, false},
		{"own bounds admit what the instance's refuse", cfg(255, 0, PeerTTL{Address: peer3, MinTTL: 250}), peer3, 251, true},
		{"own bounds, the other peer keeps the instance's", cfg(255, 0, PeerTTL{Address: peer3, MinTTL: 250}), peer2, 251, false},
		{"own bounds refuse what the instance's admit", cfg(0, 0, PeerTTL{Address: peer2, MinTTL: 60, MaxTTL: 64}), peer2, 255, false},
		{"own upper bound, within", cfg(0, 0, PeerTTL{Address: peer2, MinTTL: 60, MaxTTL: 64}), peer2, 64, true},
		{"own bounds, the other peer unbounded", cfg(0, 0, PeerTTL{Address: peer2, MinTTL: 60, MaxTTL: 64}), peer3, 1, true},
		{"own bounds 0-0: no bound", cfg(255, 0, PeerTTL{Address: peer2}), peer2, 1, true},
		{"unknown TTL is not checked", cfg(255, 0, PeerTTL{Address: peer2, MinTTL: 255}), peer2, -1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := checkerFor(t, tt.cfg)
			_, reason, ok, _ := k.check(unicastDatagram(t, goodV2(), tt.from, tt.ttl))
			if ok != tt.want || (!ok && reason != DropTTL) {
				t.Errorf("from %s TTL %d: accepted %v (drop %v), want accepted %v", tt.from, tt.ttl, ok, reason, tt.want)
			}
		})
	}
}

func TestValidatePeerTTLs(t *testing.T) {
	a := netip.MustParseAddr
	tests := []struct {
		name string
		own  []PeerTTL
		want []string
	}{
		{"valid", []PeerTTL{{Address: a("10.0.0.2"), MinTTL: 250}, {Address: a("10.0.0.3"), MinTTL: 1, MaxTTL: 64}}, nil},
		{"not a peer, duplicate, missing", []PeerTTL{{Address: a("10.0.0.9")}, {Address: a("10.0.0.2")}, {Address: a("10.0.0.2")}, {MinTTL: 1}}, []string{
			"instances[VI_1].unicast_peer_ttls[0].address: 10.0.0.9 is not one of unicast_peers",
			"instances[VI_1].unicast_peer_ttls[2].address: duplicate peer 10.0.0.2",
			`instances[VI_1].unicast_peer_ttls[3]: missing required field "address"`,
		}},
		{"bounds", []PeerTTL{{Address: a("10.0.0.2"), MinTTL: -1, MaxTTL: 256}, {Address: a("10.0.0.3"), MinTTL: 200, MaxTTL: 100}}, []string{
			"instances[VI_1].unicast_peer_ttls[0].min_ttl: must be between 0 and 255, got -1",
			"instances[VI_1].unicast_peer_ttls[0].max_ttl: must be between 0 and 255, got 256",
			"instances[VI_1].unicast_peer_ttls[1].min_ttl: 200 is above max_ttl 100: every advert from 10.0.0.3 would be dropped",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Config{Name: "VI_1", Interface: "eth0", VRID: 51, VIPs: []VIP{vip("10.0.0.1/32")},
				UnicastPeers: []netip.Addr{a("10.0.0.2"), a("10.0.0.3")}, UnicastPeerTTLs: tt.own}
			s := Set{Instances: []Config{c}}
			s.SetDefaults(nil)
			var got []string
			if err := s.Validate(nil); err != nil {
				for _, e := range err.(FieldErrors) {
					got = append(got, e.Error())
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
