package kernel

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/cloudflare/ipvs"

	"github.com/lvsd/lb/director/table"
)

func TestReadConns(t *testing.T) {
	p := filepath.Join(t.TempDir(), "ip_vs_conn")
	os.WriteFile(p, []byte("Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData\n"+
		"TCP 0A080801 B5D8 0A080808 0050 0A080863 0050 SYN_RECV         56\n"), 0o644)
	cs, err := ReadConns(p)
	if err != nil || len(cs) != 1 || cs[0].Dest != netip.MustParseAddrPort("10.8.8.99:80") {
		t.Errorf("%+v %v", cs, err)
	}
	if _, err := ReadConns(filepath.Join(t.TempDir(), "none")); err == nil {
		t.Error("missing file")
	}
}

func TestConversions(t *testing.T) {
	tests := []table.Service{
		{ServiceKey: table.ServiceKey{Family: table.FamilyIPv4, Protocol: table.ProtoTCP, Address: netip.MustParseAddr("10.0.0.1"), Port: 80},
			Scheduler: "wlc", Flags: table.FlagPersistent | table.FlagOnePacket, Timeout: 300, Netmask: 0xffffff00},
		{ServiceKey: table.ServiceKey{Family: table.FamilyIPv6, Protocol: table.ProtoUDP, Address: netip.MustParseAddr("2001:db8::1"), Port: 53},
			Scheduler: "sh", Flags: table.FlagSHFallback, Netmask: 64},
		{ServiceKey: table.ServiceKey{FWMark: 9, Family: table.FamilyIPv4}, Scheduler: "rr", Netmask: 0xffffffff},
	}
	for _, s := range tests {
		c := toService(s)
		if c.Family != ipvs.AddressFamily(s.Family) || c.FWMark != s.FWMark || !c.Netmask.IsValid() {
			t.Errorf("toService(%v) = %+v", s.Key(), c)
		}
		back := fromService(ipvs.ServiceExtended{Service: c})
		if back.Key() != s.Key() || back.Netmask != s.Netmask || back.Flags != s.Flags || back.Timeout != s.Timeout || back.Scheduler != s.Scheduler {
			t.Errorf("round trip %+v -> %+v", s, back)
		}
	}
	// An IPv6 service without a valid prefix length still gets one (the
	// kernel refuses 0).
	bad := tests[1]
	bad.Netmask = 0
	if b := toService(bad).Netmask.Bits(); b != 128 {
		t.Errorf("IPv6 netmask 0 sent as %d", b)
	}
	d := table.Destination{Address: netip.MustParseAddr("::ffff:10.0.0.2"), Port: 80, Forward: table.ForwardTunnel, Weight: 3,
		TunnelType: table.TunnelGUE, TunnelPort: 6080, TunnelFlags: table.TunnelCsum, UpperThreshold: 10, LowerThreshold: 1}
	cd := toDest(d)
	if cd.Family != ipvs.INET || !cd.Address.Is4() || cd.TunnelPort != 6080 || cd.FwdMethod != ipvs.Tunnel {
		t.Errorf("toDest %+v", cd)
	}
	back := fromDest(ipvs.DestinationExtended{Destination: cd, ActiveConnections: 4,
		Stats64: ipvs.Stats{Connections: 5}, Stats: ipvs.Stats{Connections: 1}})
	if back.Address != netip.MustParseAddr("10.0.0.2") || back.ActiveConns != 4 || back.Stats.Conns != 5 || back.TunnelFlags != table.TunnelCsum {
		t.Errorf("fromDest %+v", back)
	}
	if s := fromStats(ipvs.Stats{Connections: 7}, ipvs.Stats{}); s.Conns != 7 {
		t.Errorf("32-bit stats fallback %+v", s)
	}
}
