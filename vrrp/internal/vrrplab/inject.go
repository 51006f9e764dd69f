package vrrplab

import (
	"fmt"
	"net"
	"net/netip"

	"golang.org/x/net/ipv4"

	"github.com/lvsd/lb/vrrp"
)

// Injector sends hand-made VRRP packets (any TTL, any bytes) from a host.
type Injector struct {
	h  *Host
	pc net.PacketConn
	rc *ipv4.RawConn
}

// Injector opens a raw socket with IP_HDRINCL on h.
func (l *Lab) Injector(h *Host) (*Injector, error) {
	in := &Injector{h: h}
	err := h.NS.Do(func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		pc, err := net.ListenPacket(fmt.Sprintf("ip4:%d", vrrp.IPProtocol), "0.0.0.0")
		if err != nil {
			return err
		}
		in.pc = pc
		rc, err := ipv4.NewRawConn(pc)
		if err != nil {
			return err
		}
		in.rc = rc
		return rc.SetMulticastInterface(ifi)
	})
	if err != nil {
		if in.pc != nil {
			in.pc.Close()
		}
		return nil, fmt.Errorf("opening a raw socket on %s: %w", h.Name, err)
	}
	return in, nil
}

// Send sends payload as IP protocol 112 from the host's address to dst with
// the given TTL.
func (in *Injector) Send(payload []byte, dst netip.Addr, ttl int) error {
	return in.SendFrom(payload, in.h.IP(), dst, ttl)
}

// SendFrom is Send with a forged source address.
func (in *Injector) SendFrom(payload []byte, src, dst netip.Addr, ttl int) error {
	h := &ipv4.Header{
		Version:  4,
		Len:      ipv4.HeaderLen,
		TOS:      0xc0,
		TotalLen: ipv4.HeaderLen + len(payload),
		TTL:      ttl,
		Protocol: vrrp.IPProtocol,
		Src:      src.AsSlice(),
		Dst:      dst.AsSlice(),
	}
	if err := in.rc.WriteTo(h, payload, nil); err != nil {
		return fmt.Errorf("injecting from %s: %w", in.h.Name, err)
	}
	return nil
}

// Close closes the socket.
func (in *Injector) Close() error { return in.pc.Close() }
