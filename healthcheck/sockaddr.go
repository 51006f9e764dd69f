package healthcheck

import (
	"net/netip"

	"golang.org/x/sys/unix"
)

// sockaddrs converts a target and an optional source address for raw
// sockets; sa is nil when either carries an IPv6 zone (those go through
// the net package, which resolves zone names).
func sockaddrs(target netip.AddrPort, bindTo netip.Addr) (sa, bind unix.Sockaddr) {
	if target.Addr().Zone() != "" || bindTo.Zone() != "" {
		return nil, nil
	}
	sa = sockaddr(target.Addr(), target.Port())
	if bindTo.IsValid() {
		if bindTo.Is4() != target.Addr().Unmap().Is4() {
			return nil, nil // let the net package report the mismatch
		}
		bind = sockaddr(bindTo, 0)
	}
	return sa, bind
}

func sockaddr(a netip.Addr, port uint16) unix.Sockaddr {
	a = a.Unmap()
	if a.Is4() {
		return &unix.SockaddrInet4{Port: int(port), Addr: a.As4()}
	}
	return &unix.SockaddrInet6{Port: int(port), Addr: a.As16()}
}
