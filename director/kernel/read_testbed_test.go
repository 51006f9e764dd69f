//go:build testbed_guest

package kernel

import (
	"net/netip"
	"reflect"
	"testing"

	"github.com/cloudflare/ipvs"

	"github.com/lvsd/lb/director/table"
)

// TestTestbedReadMatchesLibrary: the in-place decoder reads the same
// services and destinations, attribute for attribute, as cloudflare/ipvs
// did, and Service finds one service (or reports it absent).
func TestTestbedReadMatchesLibrary(t *testing.T) {
	h, err := Open()
	if err != nil {
		t.Fatalf("IPVS not available: %v", err)
	}
	defer h.Close()
	if err := h.Flush(); err != nil {
		t.Fatal(err)
	}
	defer h.Flush()
	want := readTestTable()
	for _, err := range h.WriteBatch(table.Diff(want, table.Table{}, table.DiffOptions{})) {
		if err != nil {
			t.Fatal(err)
		}
	}
	got, err := table.Read(h)
	if err != nil {
		t.Fatal(err)
	}
	lib := libraryRead(t, h)
	if !reflect.DeepEqual(lib, got) {
		t.Errorf("read differs from cloudflare/ipvs's:\nlib  %+v\nours %+v", lib, got)
	}
	if len(got.Services) != len(want.Services) {
		t.Fatalf("read %d services, want %d", len(got.Services), len(want.Services))
	}
	for _, s := range got.Services {
		one, found, err := h.Service(s.Key())
		if err != nil || !found {
			t.Fatalf("Service(%s) = found %v, %v", s.Key(), found, err)
		}
		if !reflect.DeepEqual(s.WithoutDestinations(), one) {
			t.Errorf("Service(%s) differs from the dump:\ndump %+v\nget  %+v", s.Key(), s.WithoutDestinations(), one)
		}
	}
	r0 := h.Reads()
	absent := table.ServiceKey{Family: table.FamilyIPv4, Protocol: table.ProtoTCP, Address: netip.MustParseAddr("10.99.99.99"), Port: 1}
	if _, found, err := h.Service(absent); found || err != nil {
		t.Errorf("Service(absent) = found %v, %v; want not found, no error", found, err)
	}
	if ds, err := h.Destinations(table.Service{ServiceKey: absent}); len(ds) != 0 || err != nil {
		t.Errorf("Destinations(absent) = %v, %v; want none", ds, err)
	}
	if n := h.Reads() - r0; n != 2 {
		t.Errorf("%d reads counted for two requests", n)
	}
	// The socket is still in step after the refused get.
	if again, err := table.Read(h); err != nil || len(again.Services) != len(want.Services) {
		t.Errorf("read after the refused get: %d services, %v", len(again.Services), err)
	}

	// Replies longer than the receive buffer: detected, and read again
	// whole with the largest buffer.
	small, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	defer small.Close()
	small.rdBuf = 512
	if got, err := table.Read(small); err != nil || !reflect.DeepEqual(lib, got) {
		t.Errorf("read with a 512-byte buffer first: %v\nlib  %+v\nours %+v", err, lib, got)
	}
	if small.rdBuf != readBufMax {
		t.Errorf("buffer %d after truncated replies, want %d", small.rdBuf, readBufMax)
	}
}

func libraryRead(t *testing.T, h *Handle) table.Table {
	t.Helper()
	c, err := ipvs.New()
	if err != nil {
		t.Fatal(err)
	}
	svcs, err := c.Services()
	if err != nil {
		t.Fatal(err)
	}
	var out table.Table
	for _, s := range svcs {
		ts := fromService(s)
		ds, err := c.Destinations(s.Service)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			ts.Destinations = append(ts.Destinations, fromDest(d))
		}
		out.Services = append(out.Services, ts)
	}
	return out
}

// readTestTable has IPv4 and IPv6 services, fwmarks, persistence with
// netmasks, scheduler flags, thresholds and the tunnel types.
func readTestTable() table.Table {
	a := netip.MustParseAddr
	d := func(addr string, port uint16, fwd table.Forward, w uint32) table.Destination {
		ad := a(addr)
		return table.Destination{Address: ad, Port: port, Family: table.FamilyOf(ad), Forward: fwd, Weight: w}
	}
	var t table.Table
	s := table.Service{ServiceKey: table.ServiceKey{Family: table.FamilyIPv4, Protocol: table.ProtoTCP, Address: a("10.7.0.1"), Port: 443},
		Scheduler: "wlc", Flags: table.FlagPersistent, Timeout: 300, Netmask: 0xffffff00}
	th := d("10.0.0.11", 8443, table.ForwardMasq, 2)
	th.UpperThreshold, th.LowerThreshold = 100, 10
	s.Destinations = []table.Destination{th, d("10.0.0.12", 8443, table.ForwardMasq, 0)}
	t.Services = append(t.Services, s)
	s = table.Service{ServiceKey: table.ServiceKey{Family: table.FamilyIPv4, Protocol: table.ProtoUDP, Address: a("10.7.0.2"), Port: 53},
		Scheduler: "sh", Flags: table.FlagSHFallback | table.FlagSHPort | table.FlagOnePacket, Netmask: 0xffffffff}
	gue := d("10.0.1.2", 53, table.ForwardTunnel, 2)
	gue.TunnelType, gue.TunnelPort, gue.TunnelFlags = table.TunnelGUE, 6080, table.TunnelCsum
	s.Destinations = []table.Destination{gue, d("10.0.1.1", 53, table.ForwardTunnel, 1)}
	t.Services = append(t.Services, s)
	t.Services = append(t.Services, table.Service{ServiceKey: table.ServiceKey{FWMark: 5, Family: table.FamilyIPv4}, Scheduler: "rr",
		Netmask: 0xffffffff, Destinations: []table.Destination{d("10.0.0.7", 0, table.ForwardRoute, 1)}})
	t.Services = append(t.Services, table.Service{ServiceKey: table.ServiceKey{FWMark: 6, Family: table.FamilyIPv6}, Scheduler: "wrr",
		Flags: table.FlagPersistent, Timeout: 60, Netmask: 64, Destinations: []table.Destination{d("2001:db8::7", 0, table.ForwardRoute, 1)}})
	s = table.Service{ServiceKey: table.ServiceKey{Family: table.FamilyIPv6, Protocol: table.ProtoTCP, Address: a("2001:db8::90"), Port: 80},
		Scheduler: "lc", Netmask: 128}
	s.Destinations = []table.Destination{d("2001:db8::200", 80, table.ForwardMasq, 5), d("10.0.1.9", 80, table.ForwardTunnel, 1)}
	t.Services = append(t.Services, s)
	// A service with more destinations than one dump message holds.
	big := table.Service{ServiceKey: table.ServiceKey{Family: table.FamilyIPv4, Protocol: table.ProtoTCP, Address: a("10.7.0.3"), Port: 80},
		Scheduler: "wrr", Netmask: 0xffffffff}
	for i := 0; i < 250; i++ {
		big.Destinations = append(big.Destinations, d(netip.AddrFrom4([4]byte{10, 8, byte(i / 200), byte(i%200 + 1)}).String(), 80, table.ForwardRoute, uint32(i)))
	}
	t.Services = append(t.Services, big)
	return t
}
