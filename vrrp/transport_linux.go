package vrrp

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// rawTransport is a raw IP socket of protocol 112 bound to one interface.
type rawTransport struct {
	ifi  *net.Interface
	src  int // index of the interface Primary reads
	ipv6 bool
	pc   net.PacketConn
	p4   *ipv4.PacketConn
	p6   *ipv6.PacketConn
	buf  []byte
	oob  []byte
}

// tosInternetControl is the precedence keepalived gives VRRP (TOS 0xc0).
const tosInternetControl = 0xc0

// ListenRaw opens a VRRP socket on an interface: raw IP protocol 112 bound
// to the device, TTL/hop limit 255, TOS 0xc0, multicast loopback off, the
// VRRP group joined when cfg.Multicast is set, and control messages for
// the received TTL and destination.
func ListenRaw(cfg TransportConfig) (Transport, error) {
	ifi, err := net.InterfaceByName(cfg.Interface)
	if err != nil {
		return nil, fmt.Errorf("looking up interface %s: %w", cfg.Interface, err)
	}
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE, cfg.Interface)
		})
		if err != nil {
			return err
		}
		if serr != nil {
			return fmt.Errorf("binding to device %s: %w", cfg.Interface, serr)
		}
		return nil
	}}
	t := &rawTransport{ifi: ifi, src: ifi.Index, ipv6: cfg.IPv6, buf: make([]byte, 65536), oob: make([]byte, 512)}
	if cfg.SourceInterface != "" && cfg.SourceInterface != cfg.Interface {
		si, err := net.InterfaceByName(cfg.SourceInterface)
		if err != nil {
			return nil, fmt.Errorf("looking up interface %s: %w", cfg.SourceInterface, err)
		}
		t.src = si.Index
	}
	network, any := "ip4:112", "0.0.0.0"
	if cfg.IPv6 {
		network, any = "ip6:112", "::"
	}
	t.pc, err = lc.ListenPacket(context.Background(), network, any)
	if err != nil {
		return nil, fmt.Errorf("opening raw socket %s: %w", network, err)
	}
	if err := t.setup(cfg); err != nil {
		t.pc.Close()
		return nil, err
	}
	return t, nil
}

func (t *rawTransport) setup(cfg TransportConfig) error {
	sc, err := t.pc.(syscall.Conn).SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := sc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
	}); err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("asking for receive timestamps: %w", serr)
	}
	if !t.ipv6 {
		p := ipv4.NewPacketConn(t.pc)
		t.p4 = p
		if err := p.SetControlMessage(ipv4.FlagTTL|ipv4.FlagDst|ipv4.FlagInterface, true); err != nil {
			return fmt.Errorf("asking for control messages: %w", err)
		}
		if err := p.SetTOS(tosInternetControl); err != nil {
			return fmt.Errorf("setting TOS: %w", err)
		}
		if err := p.SetTTL(255); err != nil {
			return fmt.Errorf("setting TTL: %w", err)
		}
		if err := p.SetMulticastTTL(255); err != nil {
			return fmt.Errorf("setting multicast TTL: %w", err)
		}
		if err := p.SetMulticastLoopback(false); err != nil {
			return fmt.Errorf("disabling multicast loopback: %w", err)
		}
		if err := p.SetMulticastInterface(t.ifi); err != nil {
			return fmt.Errorf("setting multicast interface: %w", err)
		}
		if cfg.Multicast {
			if err := p.JoinGroup(t.ifi, &net.IPAddr{IP: groupV4.AsSlice()}); err != nil {
				return fmt.Errorf("joining %v on %s: %w", groupV4, t.ifi.Name, err)
			}
		}
		return nil
	}
	p := ipv6.NewPacketConn(t.pc)
	t.p6 = p
	if err := p.SetControlMessage(ipv6.FlagHopLimit|ipv6.FlagDst|ipv6.FlagInterface, true); err != nil {
		return fmt.Errorf("asking for control messages: %w", err)
	}
	if err := p.SetTrafficClass(tosInternetControl); err != nil {
		return fmt.Errorf("setting traffic class: %w", err)
	}
	if err := p.SetHopLimit(255); err != nil {
		return fmt.Errorf("setting hop limit: %w", err)
	}
	if err := p.SetMulticastHopLimit(255); err != nil {
		return fmt.Errorf("setting multicast hop limit: %w", err)
	}
	if err := p.SetMulticastLoopback(false); err != nil {
		return fmt.Errorf("disabling multicast loopback: %w", err)
	}
	if err := p.SetMulticastInterface(t.ifi); err != nil {
		return fmt.Errorf("setting multicast interface: %w", err)
	}
	if cfg.Multicast {
		if err := p.JoinGroup(t.ifi, &net.IPAddr{IP: groupV6.AsSlice()}); err != nil {
			return fmt.Errorf("joining %v on %s: %w", groupV6, t.ifi.Name, err)
		}
	}
	return nil
}

func (t *rawTransport) Recv() (Datagram, error) {
	d := Datagram{TTL: -1}
	var n, nn int
	if t.p4 != nil {
		ms := []ipv4.Message{{Buffers: [][]byte{t.buf}, OOB: t.oob}}
		if _, err := t.p4.ReadBatch(ms, 0); err != nil {
			return d, fmt.Errorf("reading VRRP: %w", err)
		}
		d.At = time.Now()
		n, nn = ms[0].N, ms[0].NN
		// A raw IPv4 socket hands over the IP header: TTL, source and
		// destination come from it.
		b := t.buf[:n]
		if n < ipv4.HeaderLen || int(b[0]&0x0f)*4 < ipv4.HeaderLen || int(b[0]&0x0f)*4 > n {
			return d, fmt.Errorf("reading VRRP: %d bytes without a whole IPv4 header", n)
		}
		ihl := int(b[0]&0x0f) * 4
		d.TTL = int(b[8])
		d.Src = netip.AddrFrom4([4]byte(b[12:16]))
		d.Dst = netip.AddrFrom4([4]byte(b[16:20]))
		d.Payload = slices.Clone(b[ihl:])
	} else {
		ms := []ipv6.Message{{Buffers: [][]byte{t.buf}, OOB: t.oob}}
		if _, err := t.p6.ReadBatch(ms, 0); err != nil {
			return d, fmt.Errorf("reading VRRP: %w", err)
		}
		d.At = time.Now()
		n, nn = ms[0].N, ms[0].NN
		var cm ipv6.ControlMessage
		if err := cm.Parse(t.oob[:nn]); err == nil {
			d.TTL = cm.HopLimit
			d.Dst, _ = netip.AddrFromSlice(cm.Dst.To16())
		}
		if ia, ok := ms[0].Addr.(*net.IPAddr); ok {
			d.Src, _ = netip.AddrFromSlice(ia.IP.To16())
		}
		d.Payload = slices.Clone(t.buf[:n])
	}
	// The kernel's receive time, not when we got round to reading: the
	// master-down timer must start when the advert arrived.
	if ts, ok := rxTimestamp(t.oob[:nn]); ok {
		if lag := d.At.Sub(ts); lag >= 0 && lag < time.Second {
			d.At = d.At.Add(-lag) // keeps the monotonic reading
		}
	}
	return d, nil
}

// rxTimestamp finds SO_TIMESTAMPNS in control messages.
func rxTimestamp(oob []byte) (time.Time, bool) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return time.Time{}, false
	}
	for _, m := range msgs {
		if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SO_TIMESTAMPNS && len(m.Data) >= 16 {
			sec := int64(binary.NativeEndian.Uint64(m.Data[0:8]))
			nsec := int64(binary.NativeEndian.Uint64(m.Data[8:16]))
			return time.Unix(sec, nsec), true
		}
	}
	return time.Time{}, false
}

func (t *rawTransport) Send(msg []byte, src, dst netip.Addr) error {
	var err error
	if t.p4 != nil {
		cm := &ipv4.ControlMessage{IfIndex: t.ifi.Index, Src: src.AsSlice()}
		_, err = t.p4.WriteTo(msg, cm, &net.IPAddr{IP: dst.AsSlice()})
	} else {
		cm := &ipv6.ControlMessage{IfIndex: t.ifi.Index, Src: src.AsSlice(), HopLimit: 255}
		to := &net.IPAddr{IP: dst.AsSlice()}
		if dst.IsLinkLocalUnicast() || dst.IsLinkLocalMulticast() {
			to.Zone = t.ifi.Name
		}
		_, err = t.p6.WriteTo(msg, cm, to)
	}
	if err != nil {
		return fmt.Errorf("sending VRRP to %v on %s: %w", dst, t.ifi.Name, err)
	}
	return nil
}

// Primary returns the interface's primary address: for IPv4 the first
// address that is not secondary (in the kernel's order), for IPv6 the first
// link-local address; addresses in exclude are skipped.
func (t *rawTransport) Primary(exclude []netip.Addr) (netip.Addr, error) {
	return primaryAddr(t.src, t.ipv6, exclude)
}

func primaryAddr(ifindex int, six bool, exclude []netip.Addr) (netip.Addr, error) {
	link, err := netlink.LinkByIndex(ifindex)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("looking up link %d: %w", ifindex, err)
	}
	fam := netlink.FAMILY_V4
	if six {
		fam = netlink.FAMILY_V6
	}
	addrs, err := netlink.AddrList(link, fam)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("listing addresses of %s: %w", link.Attrs().Name, err)
	}
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			continue
		}
		ip = ip.Unmap()
		if slices.Contains(exclude, ip) {
			continue
		}
		if six {
			if ip.IsLinkLocalUnicast() {
				return ip, nil
			}
			continue
		}
		if a.Flags&unix.IFA_F_SECONDARY == 0 {
			return ip, nil
		}
	}
	return netip.Addr{}, errors.New("no primary address")
}

func (t *rawTransport) Close() error { return t.pc.Close() }
