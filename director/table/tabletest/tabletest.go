// Package tabletest builds IPVS table values for tests, from addresses
// written as ipvsadm prints them.
package tabletest

import (
	"net/netip"

	"github.com/lvsd/lb/director/table"
)

// Service is a service of protocol proto at addrPort ("10.0.0.1:80",
// "[2001:db8::1]:80") with scheduler sched and a full netmask.
func Service(proto table.Protocol, addrPort, sched string) table.Service {
	a := netip.MustParseAddrPort(addrPort)
	f := table.FamilyOf(a.Addr())
	return table.Service{
		ServiceKey: table.ServiceKey{Family: f, Protocol: proto, Address: a.Addr(), Port: a.Port()},
		Scheduler:  sched, Netmask: table.FullNetmask(f),
	}
}

// Dest is a destination at addrPort forwarded with fwd at weight w.
func Dest(addrPort string, fwd table.Forward, w uint32) table.Destination {
	a := netip.MustParseAddrPort(addrPort)
	return table.Destination{Address: a.Addr(), Port: a.Port(), Family: table.FamilyOf(a.Addr()), Forward: fwd, Weight: w}
}
