package fake_test

import (
	"errors"
	"net/netip"
	"syscall"
	"testing"

	"github.com/lvsd/lb/director/kernel/fake"
	"github.com/lvsd/lb/director/table"
)

// The fake must fail where the kernel fails, or tests of the reconciler
// would pass against behaviour the kernel does not have.
func TestKernelLikeErrors(t *testing.T) {
	k := fake.New()
	s := table.Service{ServiceKey: table.ServiceKey{Family: table.FamilyIPv4, Protocol: table.ProtoTCP, Address: netip.MustParseAddr("10.0.0.1"), Port: 80},
		Scheduler: "rr", Netmask: 0xffffffff}
	d := table.Destination{Address: netip.MustParseAddr("10.0.0.2"), Port: 80, Forward: table.ForwardRoute, Weight: 1}
	check := func(name string, err, want error) {
		t.Helper()
		if !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", name, err, want)
		}
	}
	check("update missing service", k.UpdateService(s), syscall.ESRCH)
	check("dest of missing service", k.CreateDestination(s, d), syscall.ESRCH)
	check("create", k.CreateService(s), nil)
	check("create twice", k.CreateService(s), syscall.EEXIST)
	bad := s
	bad.Scheduler = "nope"
	check("unknown scheduler", k.UpdateService(bad), syscall.ENOENT)
	v6 := table.Service{ServiceKey: table.ServiceKey{Family: table.FamilyIPv6, Protocol: table.ProtoTCP, Address: netip.MustParseAddr("2001:db8::1"), Port: 80}, Scheduler: "rr"}
	check("ipv6 netmask 0", k.CreateService(v6), syscall.EINVAL)
	check("update missing dest", k.UpdateDestination(s, d), syscall.ENOENT)
	check("remove missing dest", k.RemoveDestination(s, d), syscall.ENOENT)
	th := d
	th.LowerThreshold = 5
	check("lower > upper", k.CreateDestination(s, th), syscall.ERANGE)
	gue := d
	gue.TunnelType = table.TunnelGUE
	check("gue without port", k.CreateDestination(s, gue), syscall.EINVAL)
	check("dest", k.CreateDestination(s, d), nil)
	check("dest twice", k.CreateDestination(s, d), syscall.EEXIST)

	got := k.Table()
	if got.Services[0].Flags&table.FlagHashed == 0 {
		t.Error("kernel sets the hashed flag")
	}
	k.Local = []netip.Addr{d.Address}
	if ds, _ := k.Destinations(s); ds[0].Forward != table.ForwardLocal {
		t.Errorf("local destination reported %v", ds[0].Forward)
	}
	if ds, _ := k.Destinations(table.Service{ServiceKey: table.ServiceKey{FWMark: 9, Family: 2}}); ds != nil {
		t.Error("destinations of a missing service")
	}
	check("remove", k.RemoveService(s), nil)
	check("remove twice", k.RemoveService(s), syscall.ESRCH)
	if k.Writes() != 14 { // every call above counts, failed ones too
		t.Errorf("writes %d", k.Writes())
	}
	k.SetTimeouts(table.Timeouts{TCP: 1})
	if to, _ := k.Timeouts(); to != (table.Timeouts{TCP: 1, TCPFin: 120, UDP: 300}) {
		t.Errorf("timeouts %+v", to)
	}
}
