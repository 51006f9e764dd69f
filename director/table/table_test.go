package table_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/lvsd/lb/director/table"
)

func TestServiceKeyNormalizeAndString(t *testing.T) {
	tests := []struct {
		in   table.ServiceKey
		want string
		norm table.ServiceKey
	}{
		{table.ServiceKey{Family: table.FamilyIPv4, Protocol: table.ProtoTCP, Address: netip.MustParseAddr("10.0.0.1"), Port: 80},
			"TCP 10.0.0.1:80", table.ServiceKey{Family: table.FamilyIPv4, Protocol: table.ProtoTCP, Address: netip.MustParseAddr("10.0.0.1"), Port: 80}},
		{table.ServiceKey{Family: table.FamilyIPv4, Protocol: table.ProtoUDP, Address: netip.MustParseAddr("::ffff:10.0.0.1"), Port: 53},
			"UDP 10.0.0.1:53", table.ServiceKey{Family: table.FamilyIPv4, Protocol: table.ProtoUDP, Address: netip.MustParseAddr("10.0.0.1"), Port: 53}},
		{table.ServiceKey{Family: table.FamilyIPv6, Protocol: table.ProtoSCTP, Address: netip.MustParseAddr("2001:db8::1"), Port: 3868},
			"SCTP [2001:db8::1]:3868", table.ServiceKey{Family: table.FamilyIPv6, Protocol: table.ProtoSCTP, Address: netip.MustParseAddr("2001:db8::1"), Port: 3868}},
		{table.ServiceKey{FWMark: 7, Family: table.FamilyIPv4, Protocol: table.ProtoTCP, Address: netip.MustParseAddr("1.2.3.4"), Port: 9},
			"FWM 7", table.ServiceKey{FWMark: 7, Family: table.FamilyIPv4}},
		{table.ServiceKey{FWMark: 7, Family: table.FamilyIPv6}, "FWM 7 IPv6", table.ServiceKey{FWMark: 7, Family: table.FamilyIPv6}},
	}
	for _, tc := range tests {
		n := tc.in.Normalize()
		if n != tc.norm {
			t.Errorf("Normalize(%+v) = %+v, want %+v", tc.in, n, tc.norm)
		}
		if s := n.String(); s != tc.want {
			t.Errorf("String = %q, want %q", s, tc.want)
		}
	}
}

func TestServiceKeyCompareIsTotal(t *testing.T) {
	keys := []table.ServiceKey{
		{Family: table.FamilyIPv4, Protocol: table.ProtoTCP, Address: netip.MustParseAddr("10.0.0.1"), Port: 80},
		{Family: table.FamilyIPv4, Protocol: table.ProtoTCP, Address: netip.MustParseAddr("10.0.0.1"), Port: 443},
		{Family: table.FamilyIPv4, Protocol: table.ProtoTCP, Address: netip.MustParseAddr("192.168.0.1"), Port: 80},
		{Family: table.FamilyIPv4, Protocol: table.ProtoUDP, Address: netip.MustParseAddr("10.0.0.1"), Port: 53},
		{Family: table.FamilyIPv6, Protocol: table.ProtoTCP, Address: netip.MustParseAddr("2001:db8::1"), Port: 80},
		{FWMark: 1, Family: table.FamilyIPv4},
		{FWMark: 1, Family: table.FamilyIPv6},
		{FWMark: 0x80000001, Family: table.FamilyIPv4},
	}
	for i := range keys {
		for j := range keys {
			c := keys[i].Compare(keys[j])
			if (i < j && c >= 0) || (i == j && c != 0) || (i > j && c <= 0) {
				t.Errorf("Compare(%v, %v) = %d", keys[i], keys[j], c)
			}
		}
	}
}

func TestNetmask(t *testing.T) {
	for _, tc := range []struct {
		f    table.Family
		bits int
		want uint32
	}{
		{table.FamilyIPv4, 32, 0xffffffff}, {table.FamilyIPv4, 24, 0xffffff00}, {table.FamilyIPv4, 1, 0x80000000},
		{table.FamilyIPv4, 0, 0}, {table.FamilyIPv6, 64, 64}, {table.FamilyIPv6, 128, 128},
	} {
		if got := table.NetmaskFromBits(tc.f, tc.bits); got != tc.want {
			t.Errorf("NetmaskFromBits(%v, %d) = %#x, want %#x", tc.f, tc.bits, got, tc.want)
		}
	}
	if table.FullNetmask(table.FamilyIPv4) != 0xffffffff || table.FullNetmask(table.FamilyIPv6) != 128 {
		t.Error("FullNetmask")
	}
}

func TestJSONRoundTrip(t *testing.T) {
	want := base()
	want.Services[0].Stats = table.Stats{Conns: 1, OutBPS: 2}
	b, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	var got table.Table
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip:\n%+v\n%+v", got, want)
	}
	// Values without a name survive too.
	odd := table.Table{Services: []table.Service{{Destinations: []table.Destination{{Forward: 9, TunnelType: 7, TunnelFlags: 5}}}}}
	odd.Services[0].Protocol = 99
	b, _ = json.Marshal(odd)
	var oddBack table.Table
	if err := json.Unmarshal(b, &oddBack); err != nil || !reflect.DeepEqual(oddBack, odd) {
		t.Errorf("unnamed values: %v %+v", err, oddBack)
	}
	for _, bad := range []string{`{"services":[{"family":"ipv5"}]}`, `{"services":[{"protocol":"ICMP"}]}`,
		`{"services":[{"destinations":[{"forward":"Teleport"}]}]}`} {
		if err := json.Unmarshal([]byte(bad), &got); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestEnumStrings(t *testing.T) {
	if s := (table.FlagPersistent | table.FlagHashed | table.FlagOnePacket | table.FlagSched3 | 0x400).String(); s != "persistent|hashed|ops|sched3|0x400" {
		t.Errorf("Flags.String = %q", s)
	}
	if table.Flags(0).String() != "none" {
		t.Error("zero flags")
	}
	for f, want := range map[table.Forward]string{table.ForwardMasq: "Masq", table.ForwardLocal: "Local", table.ForwardTunnel: "Tunnel",
		table.ForwardRoute: "Route", table.ForwardBypass: "Bypass", 9: "forward(9)"} {
		if f.String() != want {
			t.Errorf("%d: %q", f, f.String())
		}
	}
	if table.Protocol(1).String() != "proto(1)" || table.TunnelGRE.String() != "gre" || table.TunnelRemCsum.String() != "remcsum" {
		t.Error("enum strings")
	}
}

type fakeReader struct {
	svcs  []table.Service
	dests map[table.ServiceKey][]table.Destination
	err   error
}

func (f fakeReader) Services() ([]table.Service, error) { return f.svcs, f.err }
func (f fakeReader) Destinations(s table.Service) ([]table.Destination, error) {
	return f.dests[s.Key()], nil
}

func TestRead(t *testing.T) {
	b := base()
	r := fakeReader{dests: map[table.ServiceKey][]table.Destination{}}
	for _, s := range b.Services {
		r.svcs = append(r.svcs, s.WithoutDestinations())
		r.dests[s.Key()] = s.Destinations
	}
	got, err := table.Read(r)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, b) {
		t.Errorf("Read keeps kernel order and content:\n%+v\n%+v", got, b)
	}
	r.err = errors.New("boom")
	if _, err := table.Read(r); err == nil || !errors.Is(err, r.err) {
		t.Errorf("error not wrapped: %v", err)
	}
}

func TestSystemResolver(t *testing.T) {
	calls := 0
	r := &table.SystemResolver{
		Services: map[table.ServicePort]string{{Port: 80, Protocol: table.ProtoTCP}: "http"},
		LookupAddr: func(ctx context.Context, addr string) ([]string, error) {
			calls++
			switch addr {
			case "10.0.0.1":
				return []string{"web1.example.com."}, nil
			case "10.0.0.3":
				<-ctx.Done()
				return nil, ctx.Err()
			}
			return nil, errors.New("not found")
		},
		Timeout: 10 * time.Millisecond,
	}
	if n, ok := r.HostName(netip.MustParseAddr("10.0.0.1")); !ok || n != "web1.example.com" {
		t.Errorf("got %q %v", n, ok)
	}
	r.HostName(netip.MustParseAddr("10.0.0.1")) // cached
	if _, ok := r.HostName(netip.MustParseAddr("10.0.0.2")); ok {
		t.Error("unknown address named")
	}
	if calls != 2 {
		t.Errorf("%d lookups, want 2 (cache)", calls)
	}
	if _, ok := r.HostName(netip.MustParseAddr("10.0.0.3")); ok {
		t.Error("timed out lookup named")
	}
	if _, ok := r.HostName(netip.MustParseAddr("10.0.0.4")); ok || calls != 3 {
		t.Errorf("after a timeout the resolver is not asked again: %d calls", calls)
	}
	if n, ok := r.ServiceName(80, table.ProtoTCP); !ok || n != "http" {
		t.Errorf("service %q", n)
	}
	if _, ok := r.ServiceName(80, table.ProtoUDP); ok {
		t.Error("udp/80 named")
	}
}

// TestCloneIsDeepAndAppendSafe: a clone shares nothing with the original,
// and appending to one service's destinations leaves the next service's
// alone (they share one array in the clone).
func TestCloneIsDeepAndAppendSafe(t *testing.T) {
	d := func(last byte, w uint32) table.Destination {
		return table.Destination{Address: netip.AddrFrom4([4]byte{10, 0, 0, last}), Port: 80, Weight: w}
	}
	orig := table.Table{Services: []table.Service{
		{ServiceKey: table.ServiceKey{Family: table.FamilyIPv4, Protocol: table.ProtoTCP, Address: netip.MustParseAddr("10.1.0.1"), Port: 80},
			Destinations: []table.Destination{d(1, 1), d(2, 1)}},
		{ServiceKey: table.ServiceKey{FWMark: 3, Family: table.FamilyIPv4}},
		{ServiceKey: table.ServiceKey{Family: table.FamilyIPv4, Protocol: table.ProtoUDP, Address: netip.MustParseAddr("10.1.0.2"), Port: 53},
			Destinations: []table.Destination{d(3, 1)}},
	}}
	c := orig.Clone()
	if c.Services[1].Destinations != nil {
		t.Errorf("nil destinations cloned as %v", c.Services[1].Destinations)
	}
	c.Services[0].Destinations[0].Weight = 9
	c.Services[0].Destinations = append(c.Services[0].Destinations, d(4, 1))
	if orig.Services[0].Destinations[0].Weight != 1 {
		t.Error("the clone shares destinations with the original")
	}
	if got := c.Services[2].Destinations; len(got) != 1 || got[0] != d(3, 1) {
		t.Errorf("appending to the first service's destinations changed the third's: %v", got)
	}
}
