package kernel

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/lvsd/lb/director/table"
)

// goldenOps covers every op kind, both families, fwmark, persistence and
// netmask (IPv4 mask, IPv6 prefix, IPv6 prefix out of range), service
// flags, thresholds, every forwarding method and tunnel type, tunnel port
// and flags, a destination given as an IPv4-mapped address, and ops in a
// row on one service (whose identity a batch encodes once).
func goldenOps() []struct {
	name string
	op   table.Op
} {
	addr := netip.MustParseAddr
	v4 := table.Service{ServiceKey: table.ServiceKey{Family: table.FamilyIPv4, Protocol: table.ProtoTCP, Address: addr("10.0.0.1"), Port: 8080},
		Scheduler: "wlc", Flags: table.FlagPersistent | table.FlagOnePacket, Timeout: 300, Netmask: 0xffffff00}
	v6 := table.Service{ServiceKey: table.ServiceKey{Family: table.FamilyIPv6, Protocol: table.ProtoUDP, Address: addr("2001:db8::1"), Port: 53},
		Scheduler: "sh", Flags: table.FlagSHFallback | table.FlagSHPort, Netmask: 64}
	sctp := table.Service{ServiceKey: table.ServiceKey{Family: table.FamilyIPv4, Protocol: table.ProtoSCTP, Address: addr("10.3.3.3"), Port: 3868},
		Scheduler: "lc", Netmask: 0xffffffff}
	mapped := table.Service{ServiceKey: table.ServiceKey{Family: table.FamilyIPv4, Protocol: table.ProtoTCP, Address: addr("::ffff:10.0.0.9"), Port: 80},
		Scheduler: "rr", Netmask: 0xffffffff}
	fw4 := table.Service{ServiceKey: table.ServiceKey{FWMark: 5, Family: table.FamilyIPv4, Protocol: table.ProtoTCP, Address: addr("10.0.0.1"), Port: 80},
		Scheduler: "mh", Flags: table.FlagMHPort, Netmask: 0xffffffff}
	fw6 := table.Service{ServiceKey: table.ServiceKey{FWMark: 6, Family: table.FamilyIPv6}, Scheduler: "wrr", Flags: table.FlagPersistent, Timeout: 60}
	fw6big := fw6
	fw6big.Netmask = 200
	masq := table.Destination{Address: addr("10.0.0.11"), Port: 8443, Forward: table.ForwardMasq, Weight: 2, UpperThreshold: 100, LowerThreshold: 10}
	gue := table.Destination{Address: addr("2001:db8::7"), Port: 443, Forward: table.ForwardTunnel, Weight: 3,
		TunnelType: table.TunnelGUE, TunnelPort: 6080, TunnelFlags: table.TunnelCsum | table.TunnelRemCsum}
	gre := table.Destination{Address: addr("10.0.1.3"), Forward: table.ForwardTunnel, Weight: 1, TunnelType: table.TunnelGRE, TunnelFlags: table.TunnelCsum}
	route := table.Destination{Address: addr("::ffff:10.0.0.2"), Port: 80, Forward: table.ForwardRoute, Weight: 1 << 20}
	local := table.Destination{Address: addr("127.0.0.1"), Port: 80, Forward: table.ForwardLocal}
	return []struct {
		name string
		op   table.Op
	}{
		{"create-service-ipv4-persistent", table.Op{Kind: table.OpCreateService, Service: v4}},
		{"update-service-ipv6-flags", table.Op{Kind: table.OpUpdateService, Service: v6}},
		{"remove-service-sctp", table.Op{Kind: table.OpRemoveService, Service: sctp}},
		{"create-service-mapped-address", table.Op{Kind: table.OpCreateService, Service: mapped}},
		{"create-service-fwmark-ipv4", table.Op{Kind: table.OpCreateService, Service: fw4}},
		{"create-service-fwmark-ipv6-netmask-0", table.Op{Kind: table.OpCreateService, Service: fw6}},
		{"update-service-fwmark-ipv6-netmask-200", table.Op{Kind: table.OpUpdateService, Service: fw6big}},
		{"remove-service-fwmark-ipv6", table.Op{Kind: table.OpRemoveService, Service: fw6}},
		{"create-dest-masq-thresholds", table.Op{Kind: table.OpCreateDest, Service: v4, Dest: masq}},
		{"update-dest-gue-ipv6", table.Op{Kind: table.OpUpdateDest, Service: fw6, Dest: gue}},
		{"create-dest-gre-ipv4-in-ipv6", table.Op{Kind: table.OpCreateDest, Service: v6, Dest: gre}},
		{"create-dest-route-mapped", table.Op{Kind: table.OpCreateDest, Service: mapped, Dest: route}},
		{"update-dest-local", table.Op{Kind: table.OpUpdateDest, Service: sctp, Dest: local}},
		{"remove-dest", table.Op{Kind: table.OpRemoveDest, Service: v4, Dest: masq}},
		{"create-dest-same-service", table.Op{Kind: table.OpCreateDest, Service: v4, Dest: gre}},
		{"remove-dest-same-service", table.Op{Kind: table.OpRemoveDest, Service: v4, Dest: gre}},
		{"remove-service-after-its-dest", table.Op{Kind: table.OpRemoveService, Service: v4}},
	}
}

// readGolden reads testdata/batch.golden: one "name hex" line per message,
// the bytes appendOp produced (on a little-endian host: attribute headers
// and most integers are in host order) before it was rewritten on
// netlink.AttributeEncoder.
func readGolden(t *testing.T) map[string][]byte {
	t.Helper()
	f, err := os.Open("testdata/batch.golden")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]byte{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, h, ok := strings.Cut(sc.Text(), " ")
		b, err := hex.DecodeString(h)
		if !ok || err != nil {
			t.Fatalf("bad golden line %q", sc.Text())
		}
		out[name] = b
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestBatchGolden: every message of a batch, byte for byte as the kernel
// has accepted it, their concatenation with consecutive sequence numbers,
// and the barrier request.
func TestBatchGolden(t *testing.T) {
	golden := readGolden(t)
	var all, want []byte
	enc := opEncoder{family: 0x22} // one for the batch, as WriteBatch has
	for i, c := range goldenOps() {
		g, ok := golden[c.name]
		if !ok {
			t.Fatalf("%s: no golden bytes", c.name)
		}
		got, err := appendOp(nil, 0x22, 1000+uint32(i), c.op)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if string(got) != string(g) {
			t.Errorf("%s:\n got %x\nwant %x", c.name, got, g)
		}
		all, err = enc.appendOp(all, 1000+uint32(i), c.op)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, g...)
	}
	if string(all) != string(want) {
		t.Errorf("batch of %d messages differs from their golden concatenation", len(goldenOps()))
	}
	if got := barrierRequest(0x22, 2000); string(got) != string(golden["barrier"]) {
		t.Errorf("barrier:\n got %x\nwant %x", got, golden["barrier"])
	}
	if len(golden) != len(goldenOps())+1 {
		t.Errorf("%d golden messages for %d ops and the barrier", len(golden), len(goldenOps()))
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

// nlmsg frames data as one netlink message.
func nlmsg(t *testing.T, typ netlink.HeaderType, seq uint32, data []byte) []byte {
	t.Helper()
	b, err := netlink.Message{Header: netlink.Header{Length: uint32(nlmsgHdrLen + len(data)), Type: typ, Sequence: seq}, Data: data}.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBatchRecord(t *testing.T) {
	ops := []table.Op{{Kind: table.OpCreateService}, {Kind: table.OpCreateDest}, {Kind: table.OpRemoveDest}}
	errs := make([]error, len(ops))
	// An error message as NETLINK_CAP_ACK has the kernel send it: the
	// errno, then the failed request's header alone.
	errMsg := func(code syscall.Errno, reqSeq uint32) []byte {
		req := appendRequest(nil, 0x22, reqSeq, cmdNewDest, nil)
		body := binary.NativeEndian.AppendUint32(nil, uint32(-int32(code)))
		return nlmsg(t, netlink.Error, reqSeq, append(body, req[:nlmsgHdrLen]...))
	}
	var buf []byte
	buf = append(buf, errMsg(syscall.EEXIST, 1001)...)
	buf = append(buf, errMsg(syscall.ENOENT, 2000)...) // not ours: ignored
	b := &batchConn{}
	if done := b.record(buf, 1000, errs, ops, 1003); done {
		t.Error("barrier not seen yet")
	}
	if errs[0] != nil || !errors.Is(errs[1], syscall.EEXIST) || errs[2] != nil {
		t.Errorf("errs %v", errs)
	}
	if !b.record(nlmsg(t, 0x22, 1003, make([]byte, 8)), 1000, errs, ops, 1003) {
		t.Error("barrier reply not recognized")
	}
}

func TestDecodeDaemons(t *testing.T) {
	ae := netlink.NewAttributeEncoder()
	ae.Nested(cmdAttrDaemon, func(nae *netlink.AttributeEncoder) error {
		nae.Uint32(daemonAttrState, uint32(table.DaemonBackup))
		nae.String(daemonAttrMcastIfn, "eth1")
		nae.Uint32(daemonAttrSyncID, 51)
		nae.Uint16(daemonAttrSyncMaxLen, 1472)
		nae.Bytes(daemonAttrMcastGroup6, netip.MustParseAddr("ff02::12").AsSlice())
		nae.Uint16(daemonAttrMcastPort, 8848)
		nae.Uint8(daemonAttrMcastTTL, 3)
		return nil
	})
	ae.Uint32(99, 1) // unknown attribute: skipped
	b, err := ae.Encode()
	if err != nil {
		t.Fatal(err)
	}
	ds, err := decodeDaemons(b)
	want := table.Daemon{State: table.DaemonBackup, Interface: "eth1", SyncID: 51, MaxLen: 1472,
		Group: netip.MustParseAddr("ff02::12"), Port: 8848, TTL: 3}
	if err != nil || len(ds) != 1 || ds[0] != want {
		t.Errorf("decodeDaemons = %+v, %v; want [%+v]", ds, err, want)
	}
	if _, err := decodeDaemons([]byte{1, 2, 3}); err == nil {
		t.Error("truncated attributes decoded")
	}
}

// BenchmarkEncodeBatch encodes what apply from empty writes for 100
// services of 10 destinations (ipvsbench's shape, a tenth of it).
func BenchmarkEncodeBatch(b *testing.B) {
	var ops []table.Op
	for i := range 100 {
		s := table.Service{ServiceKey: table.ServiceKey{Family: table.FamilyIPv4, Protocol: table.ProtoTCP,
			Address: netip.AddrFrom4([4]byte{10, 100, 0, byte(i)}), Port: 80}, Scheduler: "wrr", Netmask: 0xffffffff}
		ops = append(ops, table.Op{Kind: table.OpCreateService, Service: s})
		for j := range 10 {
			d := table.Destination{Address: netip.AddrFrom4([4]byte{10, 200, byte(i), byte(j)}), Port: 80, Forward: table.ForwardRoute, Weight: 1}
			ops = append(ops, table.Op{Kind: table.OpCreateDest, Service: s, Dest: d})
		}
	}
	buf := make([]byte, 0, 256<<10)
	b.ReportAllocs()
	for b.Loop() {
		enc := opEncoder{family: 0x22}
		buf = buf[:0]
		for i, op := range ops {
			var err error
			if buf, err = enc.appendOp(buf, uint32(i), op); err != nil {
				b.Fatal(err)
			}
		}
	}
}
