package ecmplab

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/lvsd/lb/internal/config"
)

// TestLbdBody loads each LbdOptions' lbd.yaml with lbd's own loader and
// checks every knob lands where the scenarios and the bench rely on it.
func TestLbdBody(t *testing.T) {
	cases := []struct {
		name string
		o    LbdOptions
	}{
		{"plain", LbdOptions{}},
		{"sloppy bfd (the bench)", LbdOptions{Sloppy: true, BFD: true}},
		{"check address", LbdOptions{Sloppy: true, CheckFrom: true}},
		{"sync, web3 drained", LbdOptions{Sloppy: true, Sync: true, Drained: 3}},
		{"all", LbdOptions{Sloppy: true, BFD: true, CheckFrom: true, Sync: true, Drained: 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			const i = 2
			yaml := "global:\n  router_id: d2\n  metrics_address: \"\"\n" + LbdBody(i, tc.o)
			c, err := config.ParseDirector("lbd.yaml", []byte(yaml))
			if err != nil {
				t.Fatalf("LbdBody(%d, %+v) does not load: %v\n%s", i, tc.o, err, yaml)
			}
			if got := c.IPVS.Sysctls.SloppyTCP; got == nil || *got != tc.o.Sloppy {
				t.Errorf("sloppy_tcp %v, want %v", got, tc.o.Sloppy)
			}
			if sd := c.IPVS.SyncDaemon; (sd != nil) != tc.o.Sync || (sd != nil && (sd.Interface != "eth0" || sd.Role != "both")) {
				t.Errorf("sync_daemon %+v, want present %v (eth0, role both)", sd, tc.o.Sync)
			}
			if c.BGP == nil || len(c.BGP.Peers) != 1 || c.BGP.Peers[0].Address.String() != Router {
				t.Fatalf("bgp %+v, want one peer %s", c.BGP, Router)
			}
			if bfd := c.BGP.Peers[0].BFD; (bfd != nil && bfd.Enabled) != tc.o.BFD {
				t.Errorf("peer bfd %+v, want on %v", bfd, tc.o.BFD)
			}
			if len(c.VirtualServers) != 1 || len(c.VirtualServers[0].RealServers) != Size {
				t.Fatalf("virtual servers %+v, want one with %d real servers", c.VirtualServers, Size)
			}
			wantBind := netip.Addr{}
			if tc.o.CheckFrom {
				wantBind = netip.MustParseAddr(CheckAddr(i))
			}
			for w, rs := range c.VirtualServers[0].RealServers {
				wantWeight := 1
				if w+1 == tc.o.Drained {
					wantWeight = 0
				}
				if rs.Address.String() != WebAddr(w+1) || rs.Weight != wantWeight {
					t.Errorf("real server %d: %s weight %d, want %s weight %d", w+1, rs.Address, rs.Weight, WebAddr(w+1), wantWeight)
				}
				if len(rs.Checks) != 1 || rs.Checks[0].BindTo != wantBind {
					t.Errorf("real server %d's checks %s, want one tcp bound to %v", w+1, fmt.Sprint(rs.Checks), wantBind)
				}
			}
		})
	}
}
