package kernel

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/cloudflare/ipvs"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

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

// decodeOp parses one message appended by appendOp.
func decodeOp(t *testing.T, b []byte) (hdrFlags uint16, seq uint32, cmd uint8, svc, dst map[uint16][]byte) {
	t.Helper()
	l := binary.NativeEndian.Uint32(b[0:4])
	if int(l) != len(b) {
		t.Fatalf("length %d of %d bytes", l, len(b))
	}
	if typ := binary.NativeEndian.Uint16(b[4:6]); typ != 0x22 {
		t.Errorf("family %#x", typ)
	}
	hdrFlags = binary.NativeEndian.Uint16(b[6:8])
	seq = binary.NativeEndian.Uint32(b[8:12])
	cmd = b[16]
	if b[17] != genlVersion {
		t.Errorf("genl version %d", b[17])
	}
	ad, err := netlink.NewAttributeDecoder(b[20:])
	if err != nil {
		t.Fatal(err)
	}
	collect := func(m map[uint16][]byte) func([]byte) error {
		return func(nb []byte) error {
			nad, err := netlink.NewAttributeDecoder(nb)
			if err != nil {
				return err
			}
			for nad.Next() {
				m[nad.Type()] = nad.Bytes()
			}
			return nad.Err()
		}
	}
	svc, dst = map[uint16][]byte{}, map[uint16][]byte{}
	for ad.Next() {
		switch ad.Type() {
		case cmdAttrService:
			ad.Do(collect(svc))
		case cmdAttrDest:
			ad.Do(collect(dst))
		}
	}
	if err := ad.Err(); err != nil {
		t.Fatal(err)
	}
	return
}

func TestBatchEncoding(t *testing.T) {
	s := table.Service{ServiceKey: table.ServiceKey{Family: table.FamilyIPv4, Protocol: table.ProtoTCP, Address: netip.MustParseAddr("10.0.0.1"), Port: 8080},
		Scheduler: "wlc", Flags: table.FlagPersistent, Timeout: 300, Netmask: 0xffffff00}
	b, err := appendOp(nil, 0x22, 77, table.Op{Kind: table.OpCreateService, Service: s})
	if err != nil {
		t.Fatal(err)
	}
	flags, seq, cmd, sv, _ := decodeOp(t, b)
	if flags != unix.NLM_F_REQUEST || seq != 77 || cmd != cmdNewService {
		t.Errorf("header flags %#x seq %d cmd %d", flags, seq, cmd)
	}
	check := func(name string, got []byte, want []byte) {
		t.Helper()
		if string(got) != string(want) {
			t.Errorf("%s = %x, want %x", name, got, want)
		}
	}
	ne16 := func(v uint16) []byte { b := make([]byte, 2); binary.NativeEndian.PutUint16(b, v); return b }
	ne32 := func(v uint32) []byte { b := make([]byte, 4); binary.NativeEndian.PutUint32(b, v); return b }
	check("af", sv[svcAttrAF], ne16(2))
	check("protocol", sv[svcAttrProtocol], ne16(6))
	check("addr", sv[svcAttrAddr], []byte{10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	check("port", sv[svcAttrPort], []byte{0x1f, 0x90})
	check("sched", sv[svcAttrSchedName], []byte("wlc\x00"))
	check("flags", sv[svcAttrFlags], append(ne32(1), 0xff, 0xff, 0xff, 0xff))
	check("timeout", sv[svcAttrTimeout], ne32(300))
	check("netmask", sv[svcAttrNetmask], []byte{255, 255, 255, 0})

	s6 := table.Service{ServiceKey: table.ServiceKey{FWMark: 5, Family: table.FamilyIPv6}, Scheduler: "rr", Netmask: 64}
	d := table.Destination{Address: netip.MustParseAddr("2001:db8::7"), Port: 443, Forward: table.ForwardTunnel, Weight: 3,
		UpperThreshold: 100, LowerThreshold: 10, TunnelType: table.TunnelGUE, TunnelPort: 6080, TunnelFlags: table.TunnelRemCsum}
	b, _ = appendOp(nil, 0x22, 78, table.Op{Kind: table.OpUpdateDest, Service: s6, Dest: d})
	_, _, cmd, sv, dv := decodeOp(t, b)
	if cmd != cmdSetDest {
		t.Errorf("cmd %d", cmd)
	}
	check("fwmark", sv[svcAttrFWMark], ne32(5))
	if _, ok := sv[svcAttrSchedName]; ok {
		t.Error("destination op carries service attributes")
	}
	check("dest af", dv[destAttrAF], ne16(10))
	a := d.Address.As16()
	check("dest addr", dv[destAttrAddr], a[:])
	check("dest port", dv[destAttrPort], []byte{0x01, 0xbb})
	check("fwd", dv[destAttrFwdMethod], ne32(2))
	check("weight", dv[destAttrWeight], ne32(3))
	check("uthresh", dv[destAttrUThresh], ne32(100))
	check("lthresh", dv[destAttrLThresh], ne32(10))
	check("tun type", dv[destAttrTunType], []byte{1})
	check("tun port", dv[destAttrTunPort], []byte{0x17, 0xc0})
	check("tun flags", dv[destAttrTunFlags], ne16(2))

	b, _ = appendOp(nil, 0x22, 79, table.Op{Kind: table.OpCreateService, Service: table.Service{ServiceKey: table.ServiceKey{FWMark: 5, Family: table.FamilyIPv6}, Scheduler: "rr"}})
	_, _, _, sv, _ = decodeOp(t, b)
	check("ipv6 netmask 0 sent as 128", sv[svcAttrNetmask], ne32(128))

	for _, k := range []table.OpKind{table.OpRemoveService, table.OpCreateDest, table.OpRemoveDest, table.OpUpdateService} {
		if _, err := appendOp(nil, 0x22, 1, table.Op{Kind: k, Service: s, Dest: d}); err != nil {
			t.Errorf("%v: %v", k, err)
		}
	}
	if _, err := appendOp(nil, 0x22, 1, table.Op{Kind: 99}); err == nil {
		t.Error("unknown kind encoded")
	}
}

func TestBatchRecord(t *testing.T) {
	ops := []table.Op{{Kind: table.OpCreateService}, {Kind: table.OpCreateDest}, {Kind: table.OpRemoveDest}}
	errs := make([]error, len(ops))
	var buf []byte
	errMsg := func(code int32, reqSeq uint32) []byte {
		m := make([]byte, nlmsgHdrLen+4+nlmsgHdrLen)
		putNlmsghdr(m, uint32(len(m)), unix.NLMSG_ERROR, 0, reqSeq)
		binary.NativeEndian.PutUint32(m[16:20], uint32(code))
		putNlmsghdr(m[20:], 100, 0x22, unix.NLM_F_REQUEST, reqSeq)
		return m
	}
	buf = append(buf, errMsg(-int32(syscall.EEXIST), 1001)...)
	buf = append(buf, errMsg(-int32(syscall.ENOENT), 2000)...) // not ours: ignored
	b := &batchConn{}
	if done := b.record(buf, 1000, errs, ops, 1003); done {
		t.Error("barrier not seen yet")
	}
	if errs[0] != nil || !errors.Is(errs[1], syscall.EEXIST) || errs[2] != nil {
		t.Errorf("errs %v", errs)
	}
	reply := make([]byte, nlmsgHdrLen+8)
	putNlmsghdr(reply, uint32(len(reply)), 0x22, 0, 1003)
	if !b.record(reply, 1000, errs, ops, 1003) {
		t.Error("barrier reply not recognized")
	}
}
