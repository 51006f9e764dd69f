package kernel

import (
	"bufio"
	"encoding/hex"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/lvsd/lb/director/table"
)

// goldenOps covers every op kind, both families, fwmark, persistence and
// netmask (IPv4 mask, IPv6 prefix, IPv6 prefix out of range), service
// flags, thresholds, every forwarding method and tunnel type, tunnel port
// and flags, and a destination given as an IPv4-mapped address.
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
		all, err = appendOp(all, 0x22, 1000+uint32(i), c.op)
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
