//go:build linux

package healthcheck

import (
	"errors"
	"net"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"
)

// TestRawSockaddr: the reactor's raw bind and connect lay out IPv4 and
// IPv6 addresses as the kernel reads them: a socket bound with rawBind
// has that address and port (byte order included), and rawConnect
// reaches a listener.
func TestRawSockaddr(t *testing.T) {
	tests := []struct {
		name, network, addr string
	}{
		{"ipv4", "tcp4", "127.0.0.1"},
		{"ipv6", "tcp6", "::1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := net.Listen(tt.network, net.JoinHostPort(tt.addr, "0"))
			if err != nil {
				t.Fatalf("this machine kind has %s loopback: %v", tt.name, err)
			}
			defer l.Close()
			target := netip.MustParseAddrPort(l.Addr().String())
			family := unix.AF_INET
			if target.Addr().Is6() {
				family = unix.AF_INET6
			}
			fd, err := rawSocket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer rawClose(fd)
			// Bind to a port of its own first, to read it back.
			probe, err := net.Listen(tt.network, net.JoinHostPort(tt.addr, "0"))
			if err != nil {
				t.Fatal(err)
			}
			local := netip.MustParseAddrPort(probe.Addr().String())
			probe.Close()
			if err := rawBind(fd, sockaddr(local.Addr(), local.Port())); err != nil {
				t.Fatalf("rawBind %v: %v", local, err)
			}
			got, err := unix.Getsockname(fd)
			if err != nil {
				t.Fatal(err)
			}
			if ap := addrPortOf(got); ap != local {
				t.Errorf("bound to %v, want %v", ap, local)
			}
			if err := rawConnect(fd, sockaddr(target.Addr(), target.Port())); err != nil && !errors.Is(err, unix.EINPROGRESS) {
				t.Fatalf("rawConnect %v: %v", target, err)
			}
			peer, err := unix.Getpeername(fd)
			if err != nil || addrPortOf(peer) != target {
				t.Errorf("connected to %v (%v), want %v", addrPortOf(peer), err, target)
			}
		})
	}
}

func addrPortOf(sa unix.Sockaddr) netip.AddrPort {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port))
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), uint16(sa.Port))
	}
	return netip.AddrPort{}
}
