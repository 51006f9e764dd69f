package bfd

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"syscall"

	"golang.org/x/net/ipv4"
)

// Port is the UDP port of single-hop BFD control packets (RFC 5881 4).
const Port = 3784

// TTL is the TTL sent and required on receive (RFC 5881 5).
const TTL = 255

// Datagram is a received control packet with what the socket says of it.
type Datagram struct {
	Payload  []byte
	Src, Dst netip.Addr
	TTL      int // -1 when the socket did not report it
}

// Conn is the runner's narrow view of the network: read control packets
// sent to the BFD port, send one from a local address to a peer's BFD port
// with TTL 255.
type Conn interface {
	// Read fills buf with the next datagram; it fails once closed.
	Read(buf []byte) (Datagram, error)
	// Send sends b to dst's BFD port from local (invalid: the kernel's
	// choice).
	Send(b []byte, local, dst netip.Addr) error
	Close() error
}

// UDPConn is Conn over two IPv4 UDP sockets: one bound to port 3784 that
// reports each packet's TTL and destination, one bound to a source port in
// 49152-65535 (RFC 5881 4) that sends with TTL 255.
type UDPConn struct {
	rx, tx *ipv4.PacketConn
}

// ListenUDP opens the sockets in the calling thread's network namespace.
func ListenUDP() (*UDPConn, error) {
	rc, err := net.ListenPacket("udp4", fmt.Sprintf(":%d", Port))
	if err != nil {
		return nil, fmt.Errorf("bfd: listening on udp port %d: %w", Port, err)
	}
	rx := ipv4.NewPacketConn(rc)
	if err := rx.SetControlMessage(ipv4.FlagTTL|ipv4.FlagDst, true); err != nil {
		rc.Close()
		return nil, fmt.Errorf("bfd: asking for the TTL of received packets: %w", err)
	}
	tc, err := listenSourcePort()
	if err != nil {
		rc.Close()
		return nil, err
	}
	tx := ipv4.NewPacketConn(tc)
	if err := tx.SetTTL(TTL); err != nil {
		rc.Close()
		tc.Close()
		return nil, fmt.Errorf("bfd: setting TTL %d: %w", TTL, err)
	}
	return &UDPConn{rx: rx, tx: tx}, nil
}

// listenSourcePort binds a UDP socket to a free port in 49152-65535.
func listenSourcePort() (net.PacketConn, error) {
	const lo, n = 49152, 16384
	start := rand.IntN(n)
	var last error
	for i := 0; i < n; i += 97 {
		c, err := net.ListenPacket("udp4", fmt.Sprintf(":%d", lo+(start+i)%n))
		if err == nil {
			return c, nil
		}
		last = err
		if !errors.Is(err, syscall.EADDRINUSE) {
			break
		}
	}
	return nil, fmt.Errorf("bfd: binding a source port in 49152-65535: %w", last)
}

// Read implements Conn.
func (c *UDPConn) Read(buf []byte) (Datagram, error) {
	n, cm, src, err := c.rx.ReadFrom(buf)
	if err != nil {
		return Datagram{}, err
	}
	d := Datagram{Payload: buf[:n], TTL: -1}
	if ua, ok := src.(*net.UDPAddr); ok {
		d.Src, _ = netip.AddrFromSlice(ua.IP)
		d.Src = d.Src.Unmap()
	}
	if cm != nil {
		d.TTL = cm.TTL
		d.Dst, _ = netip.AddrFromSlice(cm.Dst)
		d.Dst = d.Dst.Unmap()
	}
	return d, nil
}

// Send implements Conn.
func (c *UDPConn) Send(b []byte, local, dst netip.Addr) error {
	var cm *ipv4.ControlMessage
	if local.IsValid() {
		cm = &ipv4.ControlMessage{Src: local.AsSlice()}
	}
	_, err := c.tx.WriteTo(b, cm, &net.UDPAddr{IP: dst.AsSlice(), Port: Port})
	return err
}

// Close closes both sockets.
func (c *UDPConn) Close() error {
	return errors.Join(c.rx.Close(), c.tx.Close())
}
