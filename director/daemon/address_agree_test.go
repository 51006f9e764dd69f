package daemon

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/lvsd/lb/director/kernel/fake"
	"github.com/lvsd/lb/director/table"
	"github.com/lvsd/lb/internal/config"
)

// TestCheckRefusesWhatTheKernelRefuses: every real-server address the
// kernel refuses as a destination (the fake, held to the real kernel by
// Conform: EINVAL) is refused by lbd check at its line, and every one lbd
// check accepts the kernel takes. lbd check also refuses more: loopback and
// the VIP itself (issue 12, defect 4).
func TestCheckRefusesWhatTheKernelRefuses(t *testing.T) {
	for _, tc := range []struct{ vip, rs string }{
		{"192.0.2.1", "192.0.2.2"}, {"192.0.2.1", "0.0.0.0"}, {"192.0.2.1", "0.1.2.3"}, {"192.0.2.1", "224.0.0.1"},
		{"192.0.2.1", "239.255.255.250"}, {"192.0.2.1", "255.255.255.255"}, {"192.0.2.1", "169.254.1.1"},
		{"192.0.2.1", "127.0.0.1"}, {"192.0.2.1", "192.0.2.1"}, {"192.0.2.1", "10.255.255.255"},
		{"2001:db8::1", "2001:db8::2"}, {"2001:db8::1", "::"}, {"2001:db8::1", "ff02::1"}, {"2001:db8::1", "fe80::1"},
		{"2001:db8::1", "::1"}, {"2001:db8::1", "2001:db8::1"},
	} {
		y := fmt.Sprintf("virtual_servers:\n  - address: %q\n    port: 80\n    real_servers:\n      - address: %q\n", tc.vip, tc.rs)
		_, checkErr := config.ParseDirector("t.yaml", []byte(y))

		k := fake.New()
		svc := table.Service{ServiceKey: table.ServiceKey{Family: table.FamilyOf(netip.MustParseAddr(tc.vip)), Protocol: table.ProtoTCP,
			Address: netip.MustParseAddr(tc.vip), Port: 80}, Scheduler: table.DefaultScheduler, Netmask: table.FullNetmask(table.FamilyOf(netip.MustParseAddr(tc.vip)))}
		if err := k.CreateService(svc); err != nil {
			t.Fatalf("service %s: %v", tc.vip, err)
		}
		a := netip.MustParseAddr(tc.rs)
		kernelErr := k.CreateDestination(svc, table.Destination{Address: a, Port: 80, Family: table.FamilyOf(a), Forward: table.ForwardRoute, Weight: 1})

		if kernelErr != nil && checkErr == nil {
			t.Errorf("real server %s: the kernel refuses it (%v), lbd check accepts it", tc.rs, kernelErr)
		}
		t.Logf("%-12s in %-12s: check %v; kernel %v", tc.rs, tc.vip, checkErr != nil, kernelErr)
	}
}
