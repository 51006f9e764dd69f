package kernel

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"reflect"
	"syscall"
	"testing"

	"github.com/mdlayher/netlink"
	"github.com/mdlayher/netlink/nlenc"
	"golang.org/x/sys/unix"

	"github.com/lvsd/lb/director/table"
)

// encodeStats encodes stats attributes as the kernel does: 32-bit counters
// but for the bytes (wide false), or all 64-bit.
func encodeStats(ae *netlink.AttributeEncoder, typ uint16, wide bool, base uint64) {
	ae.Nested(typ, func(n *netlink.AttributeEncoder) error {
		for a := uint16(1); a <= 10; a++ {
			if wide || a == 4 || a == 5 {
				n.Uint64(a, base+uint64(a))
			} else {
				n.Uint32(a, uint32(base+uint64(a)))
			}
		}
		return nil
	})
}

func serviceReply(t *testing.T, v6 bool) []byte {
	t.Helper()
	ae := netlink.NewAttributeEncoder()
	ae.Nested(cmdAttrService, func(n *netlink.AttributeEncoder) error {
		addr := [16]byte{10, 0, 0, 1}
		var mask [4]byte
		binary.BigEndian.PutUint32(mask[:], 0xffffff00)
		if v6 {
			n.Uint16(svcAttrAF, unix.AF_INET6)
			addr = netip.MustParseAddr("2001:db8::1").As16()
			nlenc.PutUint32(mask[:], 64)
		} else {
			n.Uint16(svcAttrAF, unix.AF_INET)
		}
		n.Uint16(svcAttrProtocol, unix.IPPROTO_TCP)
		n.Bytes(svcAttrAddr, addr[:])
		n.Bytes(svcAttrPort, []byte{0x01, 0xbb})
		n.String(svcAttrSchedName, "wlc")
		var flags [8]byte
		nlenc.PutUint32(flags[:4], uint32(table.FlagPersistent|table.FlagHashed))
		nlenc.PutUint32(flags[4:], svcFlagsMaskAll)
		n.Bytes(svcAttrFlags, flags[:])
		n.Uint32(svcAttrTimeout, 300)
		n.Bytes(svcAttrNetmask, mask[:])
		encodeStats(n, svcAttrStats, false, 100)
		encodeStats(n, svcAttrStats64, true, 1000)
		return nil
	})
	b, err := ae.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeService(t *testing.T) {
	wide := table.Stats{Conns: 1001, InPkts: 1002, OutPkts: 1003, InBytes: 1004, OutBytes: 1005, CPS: 1006, InPPS: 1007, OutPPS: 1008, InBPS: 1009, OutBPS: 1010}
	tests := []struct {
		name string
		v6   bool
		want table.Service
	}{
		{"IPv4", false, table.Service{ServiceKey: table.ServiceKey{Family: table.FamilyIPv4, Protocol: table.ProtoTCP,
			Address: netip.MustParseAddr("10.0.0.1"), Port: 443}, Scheduler: "wlc", Flags: table.FlagPersistent | table.FlagHashed,
			Timeout: 300, Netmask: 0xffffff00, Stats: wide}},
		{"IPv6", true, table.Service{ServiceKey: table.ServiceKey{Family: table.FamilyIPv6, Protocol: table.ProtoTCP,
			Address: netip.MustParseAddr("2001:db8::1"), Port: 443}, Scheduler: "wlc", Flags: table.FlagPersistent | table.FlagHashed,
			Timeout: 300, Netmask: 64, Stats: wide}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeService(serviceReply(t, tt.v6))
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("decodeService = %+v, %v\nwant %+v", got, err, tt.want)
			}
		})
	}
}

func TestDecodeDest(t *testing.T) {
	ae := netlink.NewAttributeEncoder()
	ae.Nested(cmdAttrDest, func(n *netlink.AttributeEncoder) error {
		addr := [16]byte{192, 168, 0, 9}
		n.Bytes(destAttrAddr, addr[:])
		n.Bytes(destAttrPort, []byte{0x1f, 0x90})
		n.Uint32(destAttrFwdMethod, uint32(table.ForwardTunnel))
		n.Uint32(destAttrWeight, 5)
		n.Uint32(destAttrUThresh, 100)
		n.Uint32(destAttrLThresh, 10)
		n.Uint32(destAttrActiveConns, 3)
		n.Uint32(destAttrInactConns, 4)
		n.Uint32(destAttrPersistConns, 5)
		n.Uint16(destAttrAF, unix.AF_INET)
		n.Uint8(destAttrTunType, uint8(table.TunnelGUE))
		n.Bytes(destAttrTunPort, []byte{0x17, 0xc0})
		n.Uint16(destAttrTunFlags, uint16(table.TunnelCsum))
		encodeStats(n, destAttrStats, false, 0) // no 64-bit counters: the 32-bit ones count
		return nil
	})
	b, err := ae.Encode()
	if err != nil {
		t.Fatal(err)
	}
	want := table.Destination{Address: netip.MustParseAddr("192.168.0.9"), Port: 8080, Family: table.FamilyIPv4, Forward: table.ForwardTunnel,
		Weight: 5, UpperThreshold: 100, LowerThreshold: 10, TunnelType: table.TunnelGUE, TunnelPort: 6080, TunnelFlags: table.TunnelCsum,
		ActiveConns: 3, InactConns: 4, PersistConns: 5,
		Stats: table.Stats{Conns: 1, InPkts: 2, OutPkts: 3, InBytes: 4, OutBytes: 5, CPS: 6, InPPS: 7, OutPPS: 8, InBPS: 9, OutBPS: 10}}
	got, err := decodeDest(b, table.FamilyIPv6)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("decodeDest = %+v, %v\nwant %+v", got, err, want)
	}
	if _, err := decodeDest(b[:len(b)-3], table.FamilyIPv4); err == nil {
		t.Error("truncated destination decoded without error")
	}
}

// msg frames one netlink message.
func msg(typ uint16, seq uint32, body []byte) []byte {
	var h [nlmsgHdrLen]byte
	nlenc.PutUint32(h[0:4], uint32(nlmsgHdrLen+len(body)))
	nlenc.PutUint16(h[4:6], typ)
	nlenc.PutUint32(h[8:12], seq)
	out := append(h[:], body...)
	for len(out)%4 != 0 {
		out = append(out, 0)
	}
	return out
}

func errnoBody(code int32) []byte {
	b := make([]byte, 4+nlmsgHdrLen)
	nlenc.PutUint32(b[0:4], uint32(code))
	return b
}

func TestParseReplies(t *testing.T) {
	data := append([]byte{4, 1, 0, 0}, 0xaa, 0xbb, 0xcc, 0xdd) // genl header, one payload
	done := msg(unix.NLMSG_DONE, 7, []byte{0, 0, 0, 0})
	tests := []struct {
		name      string
		in        []byte
		dump      bool
		wantDone  bool
		wantErr   error
		wantCalls int
	}{
		{"dump part", append(msg(20, 7, data), msg(20, 7, data)...), true, false, nil, 2},
		{"dump end", append(msg(20, 7, data), done...), true, true, nil, 1},
		{"late reply to another request skipped", append(msg(20, 6, data), msg(unix.NLMSG_DONE, 6, []byte{0, 0, 0, 0})...), true, false, nil, 0},
		{"get reply", msg(20, 7, data), false, true, nil, 1},
		{"no such service", msg(unix.NLMSG_ERROR, 7, errnoBody(-int32(syscall.ESRCH))), false, true, syscall.ESRCH, 0},
		{"dump error at its end", msg(unix.NLMSG_DONE, 7, []byte{0xf2, 0xff, 0xff, 0xff}), true, true, syscall.Errno(14), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			d, err := parseReplies(tt.in, 7, tt.dump, func(a []byte) error {
				calls++
				if !reflect.DeepEqual(a, []byte{0xaa, 0xbb, 0xcc, 0xdd}) {
					t.Errorf("payload %x", a)
				}
				return nil
			})
			if d != tt.wantDone || !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) || calls != tt.wantCalls {
				t.Errorf("done %v err %v calls %d; want %v %v %d", d, err, calls, tt.wantDone, tt.wantErr, tt.wantCalls)
			}
		})
	}
	if _, err := parseReplies([]byte{200, 0, 0, 0, 20, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0}, 7, true, nil); err == nil {
		t.Error("a message longer than the buffer parsed without error")
	}
}
