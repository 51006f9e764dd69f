package fake_test

import (
	"errors"
	"net/netip"
	"slices"
	"syscall"
	"testing"

	"github.com/lvsd/lb/director/kernel/fake"
	"github.com/lvsd/lb/director/table"
)

// What the fake adds to the kernel's behaviour (which TestConformance
// checks): write counting and logging, fault injection, Load and Table.

func fixtures() (table.Service, table.Destination) {
	return table.Service{ServiceKey: table.ServiceKey{Family: table.FamilyIPv4, Protocol: table.ProtoTCP, Address: netip.MustParseAddr("10.0.0.1"), Port: 80},
			Scheduler: "rr", Netmask: 0xffffffff},
		table.Destination{Address: netip.MustParseAddr("10.0.0.2"), Port: 80, Forward: table.ForwardRoute, Weight: 1}
}

func TestWritesCountedAndLogged(t *testing.T) {
	k := fake.New()
	svc, dst := fixtures()
	k.CreateService(svc)
	k.CreateService(svc) // EEXIST: counted too
	k.CreateDestination(svc, dst)
	k.SetTimeouts(table.Timeouts{TCP: 1})
	k.StartDaemon(table.Daemon{State: table.DaemonMaster, Interface: "eth0"})
	k.StopDaemon(table.DaemonMaster)
	k.WriteBatch([]table.Op{{Kind: table.OpUpdateDest, Service: svc, Dest: dst}, {Kind: table.OpRemoveService, Service: svc}})
	want := []string{"create-service TCP 10.0.0.1:80", "create-service TCP 10.0.0.1:80", "create-destination 10.0.0.2:80 of TCP 10.0.0.1:80",
		"set-timeouts 1 0 0", "start-daemon master", "stop-daemon master",
		"update-destination 10.0.0.2:80 of TCP 10.0.0.1:80", "remove-service TCP 10.0.0.1:80"}
	if k.Writes() != len(want) || !slices.Equal(k.Log(), want) {
		t.Errorf("%d writes, log %q; want %q", k.Writes(), k.Log(), want)
	}
	if k.Batches() != 1 {
		t.Errorf("batches %d", k.Batches())
	}
	k.ResetCounters()
	if k.Writes() != 0 || len(k.Log()) != 0 || k.Batches() != 1 {
		t.Errorf("after reset: %d writes, log %q, %d batches", k.Writes(), k.Log(), k.Batches())
	}
}

func TestFaultInjection(t *testing.T) {
	k := fake.New()
	svc, dst := fixtures()
	boom := errors.New("boom")
	k.FailWrite = func(what string) error {
		if what == "create-destination 10.0.0.2:80 of TCP 10.0.0.1:80" {
			return boom
		}
		return nil
	}
	k.FailRead = func(what string) error {
		if what == "services" {
			return boom
		}
		return nil
	}
	if err := k.CreateService(svc); err != nil {
		t.Fatal(err)
	}
	if err := k.CreateDestination(svc, dst); !errors.Is(err, boom) {
		t.Errorf("injected write failure: %v", err)
	}
	if _, err := k.Services(); !errors.Is(err, boom) {
		t.Errorf("injected read failure: %v", err)
	}
	if ds, err := k.Destinations(svc); err != nil || len(ds) != 0 {
		t.Errorf("failed write applied: %v %v", ds, err)
	}
	if k.Writes() != 2 {
		t.Errorf("writes %d, want 2 (a failed one counts)", k.Writes())
	}
	if errs := k.WriteBatch([]table.Op{{Kind: 99}}); !errors.Is(errs[0], syscall.EINVAL) {
		t.Errorf("unknown op kind: %v", errs)
	}
}

func TestLoadAndTable(t *testing.T) {
	k := fake.New()
	svc, dst := fixtures()
	fw := table.Service{ServiceKey: table.ServiceKey{FWMark: 3, Family: table.FamilyIPv4, Protocol: table.ProtoTCP}, Scheduler: "rr"}
	s := svc
	s.Destinations = []table.Destination{dst}
	k.Load(table.Table{Services: []table.Service{s, fw}})
	if k.Writes() != 0 {
		t.Errorf("Load counted %d writes", k.Writes())
	}
	got := k.Table()
	if len(got.Services) != 2 || got.Services[0].Flags&table.FlagHashed == 0 || got.Services[1].Protocol != 0 ||
		got.Services[0].Destinations[0].Family != table.FamilyIPv4 {
		t.Errorf("table %+v", got)
	}
	if err := k.CreateService(s); !errors.Is(err, syscall.EEXIST) {
		t.Errorf("create of a loaded service: %v", err)
	}
	got.Services[0].Destinations[0].Weight = 9 // a copy
	if ds, _ := k.Destinations(s); ds[0].Weight != 1 {
		t.Error("Table shares memory with the fake")
	}
	if to, _ := k.Timeouts(); to != (table.Timeouts{TCP: 900, TCPFin: 120, UDP: 300}) {
		t.Errorf("default timeouts %+v", to)
	}
}

// TestNewDestinationAddresses: the fake refuses a new destination where
// the kernel does (EINVAL: not unicast, as its inet_addr_type and
// ipv6_addr_type say; the conformance script checks the same against the
// real kernel). lbd check refuses more (internal/config,
// realServerAddressProblem): loopback, and all of 0.0.0.0/8, of which the
// kernel refuses only 0.0.0.0 since Linux 5.3.
func TestNewDestinationAddresses(t *testing.T) {
	for _, c := range []struct {
		addr string
		want error
	}{
		{"0.0.0.0", syscall.EINVAL},
		{"0.1.0.0", nil},
		{"0.255.255.255", nil},
		{"255.255.255.255", syscall.EINVAL},
		{"224.0.0.18", syscall.EINVAL},
		{"239.255.255.255", syscall.EINVAL},
		{"1.0.0.0", nil},
		{"10.9.1.1", nil},
		{"127.0.0.1", nil},
		{"255.255.255.254", nil},
		{"::", syscall.EINVAL},
		{"ff02::1", syscall.EINVAL},
		{"fe80::1", syscall.EINVAL},
		{"::ffff:255.255.255.255", syscall.EINVAL},
		{"2001:db8::1", nil},
	} {
		t.Run(c.addr, func(t *testing.T) {
			k := fake.New()
			a := netip.MustParseAddr(c.addr)
			s := table.Service{ServiceKey: table.ServiceKey{Family: table.FamilyOf(a.Unmap()), Protocol: table.ProtoTCP, Address: a.Unmap(), Port: 80},
				Scheduler: "rr"}
			if err := k.CreateService(s); err != nil {
				t.Fatal(err)
			}
			err := k.CreateDestination(s, table.Destination{Address: a, Port: 80, Forward: table.ForwardMasq, Weight: 1})
			if !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
				t.Errorf("create destination %s: %v, want %v", a, err, c.want)
			}
		})
	}
}
