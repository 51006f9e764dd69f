package vrrp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/packet"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv6"
)

// packetAnnouncer sends gratuitous ARPs in keepalived's form (an ARP
// request, sender = target = the VIP, target MAC ff:ff:ff:ff:ff:ff, to the
// Ethernet broadcast) over a packet socket, and unsolicited neighbour
// advertisements (override flag, target link-layer address option, to
// ff02::1, hop limit 255) over an ICMPv6 socket.
type packetAnnouncer struct {
	mu     sync.Mutex
	conns  map[string]*announceConn
	closed bool
}

type announceConn struct {
	ifi *net.Interface
	arp *packet.Conn
	na  *ipv6.PacketConn
	nac *icmp.PacketConn
}

func newPacketAnnouncer() *packetAnnouncer {
	return &packetAnnouncer{conns: map[string]*announceConn{}}
}

// conn returns the sockets for a device, opened on first use and again
// when fresh is set (after a send failed: the device may have changed).
func (a *packetAnnouncer) conn(device string, six, fresh bool) (*announceConn, error) {
	c := a.conns[device]
	if c != nil && fresh {
		c.close()
		delete(a.conns, device)
		c = nil
	}
	if c == nil {
		ifi, err := net.InterfaceByName(device)
		if err != nil {
			return nil, fmt.Errorf("looking up %s: %w", device, err)
		}
		c = &announceConn{ifi: ifi}
		a.conns[device] = c
	}
	ifi := c.ifi
	if !six && c.arp == nil {
		// Protocol 0: a send-only packet socket.
		p, err := packet.Listen(ifi, packet.Raw, 0, nil)
		if err != nil {
			return nil, fmt.Errorf("opening a packet socket on %s: %w", device, err)
		}
		c.arp = p
	}
	if six && c.na == nil {
		ic, err := icmp.ListenPacket("ip6:ipv6-icmp", "::")
		if err != nil {
			return nil, fmt.Errorf("opening an ICMPv6 socket: %w", err)
		}
		p := ic.IPv6PacketConn()
		if err := p.SetMulticastHopLimit(255); err != nil {
			ic.Close()
			return nil, fmt.Errorf("setting hop limit: %w", err)
		}
		if err := p.SetMulticastInterface(ifi); err != nil {
			ic.Close()
			return nil, fmt.Errorf("setting multicast interface: %w", err)
		}
		c.na, c.nac = p, ic
	}
	return c, nil
}

func (c *announceConn) close() {
	if c.arp != nil {
		c.arp.Close()
	}
	if c.nac != nil {
		c.nac.Close()
	}
}

// GratuitousARP builds keepalived's gratuitous ARP frame for ip from hw.
func GratuitousARP(hw net.HardwareAddr, ip netip.Addr) ([]byte, error) {
	p, err := arp.NewPacket(arp.OperationRequest, hw, ip, ethernet.Broadcast, ip)
	if err != nil {
		return nil, fmt.Errorf("building ARP for %v: %w", ip, err)
	}
	pb, err := p.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("encoding ARP for %v: %w", ip, err)
	}
	// The Ethernet header by hand: like keepalived's, the frame is not
	// padded to the 60-byte minimum (the driver pads on the wire).
	f := make([]byte, 0, 14+len(pb))
	f = append(f, ethernet.Broadcast...)
	f = append(f, hw...)
	f = append(f, byte(ethernet.EtherTypeARP>>8), byte(ethernet.EtherTypeARP&0xff))
	return append(f, pb...), nil
}

// unsolicitedNA builds the ICMPv6 body of an unsolicited neighbour
// advertisement for target (the kernel fills in the checksum).
func unsolicitedNA(hw net.HardwareAddr, target netip.Addr) ([]byte, error) {
	body := make([]byte, 4+16+2+len(hw))
	binary.BigEndian.PutUint32(body[0:4], 1<<29) // Override
	t := target.As16()
	copy(body[4:20], t[:])
	body[20] = 2                            // target link-layer address
	body[21] = uint8((2 + len(hw) + 7) / 8) // in units of 8 bytes
	copy(body[22:], hw)
	m := icmp.Message{Type: ipv6.ICMPTypeNeighborAdvertisement, Body: &icmp.RawBody{Data: body}}
	return m.Marshal(nil)
}

// Prepare opens the sockets Announce will need for addrs on device, so
// that the first announcement does not wait for them.
func (a *packetAnnouncer) Prepare(device string, addrs []netip.Addr) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return errAnnouncerClosed
	}
	for _, six := range []bool{false, true} {
		if slices.ContainsFunc(addrs, func(ip netip.Addr) bool { return ip.Is6() == six }) {
			if _, err := a.conn(device, six, false); err != nil {
				return err
			}
		}
	}
	return nil
}

// Close closes every socket; Announce and Prepare fail afterwards.
func (a *packetAnnouncer) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.closed = true
	for d, c := range a.conns {
		c.close()
		delete(a.conns, d)
	}
	return nil
}

var errAnnouncerClosed = errors.New("announcer closed")

func (a *packetAnnouncer) Announce(device string, addrs []netip.Addr, repeat int, interval time.Duration) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return errAnnouncerClosed
	}
	err := a.announce(device, addrs, repeat, interval, false)
	if err != nil {
		// Reopen (the device may have been recreated) and try once more.
		err = a.announce(device, addrs, repeat, interval, true)
	}
	return err
}

func (a *packetAnnouncer) announce(device string, addrs []netip.Addr, repeat int, interval time.Duration, fresh bool) error {
	var c4, c6 *announceConn
	for _, ip := range addrs {
		var err error
		if ip.Is4() && c4 == nil {
			c4, err = a.conn(device, false, fresh)
		}
		if ip.Is6() && c6 == nil {
			c6, err = a.conn(device, true, fresh && c4 == nil)
		}
		if err != nil {
			return err
		}
	}
	for i := range repeat {
		if i > 0 && interval > 0 {
			time.Sleep(interval)
		}
		for _, ip := range addrs {
			if ip.Is4() {
				b, err := GratuitousARP(c4.ifi.HardwareAddr, ip)
				if err != nil {
					return err
				}
				if _, err := c4.arp.WriteTo(b, &packet.Addr{HardwareAddr: ethernet.Broadcast}); err != nil {
					return fmt.Errorf("sending gratuitous ARP for %v on %s: %w", ip, device, err)
				}
				continue
			}
			b, err := unsolicitedNA(c6.ifi.HardwareAddr, ip)
			if err != nil {
				return err
			}
			cm := &ipv6.ControlMessage{HopLimit: 255, Src: ip.AsSlice(), IfIndex: c6.ifi.Index}
			dst := &net.IPAddr{IP: net.IPv6linklocalallnodes, Zone: device}
			if _, err := c6.na.WriteTo(b, cm, dst); err != nil {
				return fmt.Errorf("sending unsolicited NA for %v on %s: %w", ip, device, err)
			}
		}
	}
	return nil
}
