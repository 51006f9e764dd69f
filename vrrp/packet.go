package vrrp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Protocol numbers and addresses of VRRP.
const (
	IPProtocol = 112 // IP protocol number of VRRP

	headerLen  = 8 // fixed part of an advertisement
	authLen    = 8 // VRRPv2 authentication data
	typeAdvert = 1

	// AuthNone and AuthPass are the VRRPv2 authentication types we speak.
	AuthNone = 0
	AuthPass = 1
)

// Multicast groups of VRRP.
var (
	groupV4 = netip.AddrFrom4([4]byte{224, 0, 0, 18})
	groupV6 = netip.MustParseAddr("ff02::12")
)

// MulticastGroup returns VRRP's multicast group for the family.
func MulticastGroup(ipv6 bool) netip.Addr {
	if ipv6 {
		return groupV6
	}
	return groupV4
}

// Packet is a decoded VRRP advertisement.
type Packet struct {
	Version   uint8
	Type      uint8
	VRID      uint8
	Priority  uint8
	AuthType  uint8         // VRRPv2 only
	Interval  time.Duration // advert interval: VRRPv2 in seconds, VRRPv3 in centiseconds
	Checksum  uint16        // as received, or as computed by Marshal
	Addresses []netip.Addr
	AuthData  [authLen]byte // VRRPv2 only
}

// Codec errors; each maps to a DropReason.
var (
	ErrShort   = errors.New("vrrp: packet shorter than its header and addresses")
	ErrLong    = errors.New("vrrp: packet longer than its header and addresses")
	ErrVersion = errors.New("vrrp: unknown version")
)

// PacketLen is the length of an advertisement of that version and family
// carrying n addresses.
func PacketLen(version uint8, ipv6 bool, n int) int {
	l := headerLen + n*addrLen(ipv6)
	if version == 2 {
		l += authLen
	}
	return l
}

func addrLen(ipv6 bool) int {
	if ipv6 {
		return 16
	}
	return 4
}

// ParsePacket decodes an advertisement (the IP payload). It checks the
// structure only: version 2 or 3 and a length matching the address count.
// Semantic checks (checksum, VRID, auth, interval, type) are the receiver's.
func ParsePacket(b []byte, ipv6 bool) (Packet, error) {
	var p Packet
	if len(b) < headerLen {
		return p, fmt.Errorf("%w: %d bytes", ErrShort, len(b))
	}
	p.Version = b[0] >> 4
	p.Type = b[0] & 0x0f
	p.VRID = b[1]
	p.Priority = b[2]
	n := int(b[3])
	// keepalived's order: the length (which depends on the version field:
	// only VRRPv2 carries authentication data) before the version.
	want := PacketLen(p.Version, ipv6, n)
	if len(b) < want {
		return p, fmt.Errorf("%w: %d bytes for %d addresses, want %d", ErrShort, len(b), n, want)
	}
	if len(b) > want {
		return p, fmt.Errorf("%w: %d bytes for %d addresses, want %d", ErrLong, len(b), n, want)
	}
	if p.Version != 2 && p.Version != 3 {
		return p, fmt.Errorf("%w %d", ErrVersion, p.Version)
	}
	if p.Version == 2 {
		p.AuthType = b[4]
		p.Interval = time.Duration(b[5]) * time.Second
	} else {
		p.Interval = time.Duration(binary.BigEndian.Uint16(b[4:6])&0x0fff) * 10 * time.Millisecond
	}
	p.Checksum = binary.BigEndian.Uint16(b[6:8])
	al := addrLen(ipv6)
	p.Addresses = make([]netip.Addr, n)
	for i := range n {
		off := headerLen + i*al
		if ipv6 {
			p.Addresses[i] = netip.AddrFrom16([16]byte(b[off : off+16]))
		} else {
			p.Addresses[i] = netip.AddrFrom4([4]byte(b[off : off+4]))
		}
	}
	if p.Version == 2 {
		copy(p.AuthData[:], b[headerLen+n*al:])
	}
	return p, nil
}

// Marshal encodes the advertisement and fills in its checksum: over the VRRP
// message for VRRPv2, over the pseudo-header of src and dst too for VRRPv3.
// p.Checksum is ignored.
func (p *Packet) Marshal(src, dst netip.Addr) ([]byte, error) {
	if p.Version != 2 && p.Version != 3 {
		return nil, fmt.Errorf("%w %d", ErrVersion, p.Version)
	}
	if len(p.Addresses) > 255 {
		return nil, fmt.Errorf("vrrp: %d addresses, at most 255", len(p.Addresses))
	}
	ipv6 := src.Is6() && !src.Is4In6()
	if p.Version == 2 && ipv6 {
		return nil, errors.New("vrrp: VRRPv2 is IPv4 only")
	}
	b := make([]byte, PacketLen(p.Version, ipv6, len(p.Addresses)))
	typ := p.Type
	if typ == 0 {
		typ = typeAdvert
	}
	b[0] = p.Version<<4 | typ&0x0f
	b[1] = p.VRID
	b[2] = p.Priority
	b[3] = uint8(len(p.Addresses))
	if p.Version == 2 {
		secs := p.Interval / time.Second
		if secs < 0 || secs > 255 || p.Interval%time.Second != 0 {
			return nil, fmt.Errorf("vrrp: VRRPv2 interval %v is not 0-255 whole seconds", p.Interval)
		}
		b[4] = p.AuthType
		b[5] = uint8(secs)
	} else {
		cs := p.Interval / (10 * time.Millisecond)
		if cs < 0 || cs > 0x0fff {
			return nil, fmt.Errorf("vrrp: VRRPv3 interval %v is not 0-40.95s", p.Interval)
		}
		binary.BigEndian.PutUint16(b[4:6], uint16(cs))
	}
	al := addrLen(ipv6)
	for i, a := range p.Addresses {
		if a.Is6() != ipv6 && !(a.Is4In6() && !ipv6) {
			return nil, fmt.Errorf("vrrp: address %v is not of the packet's family", a)
		}
		off := headerLen + i*al
		if ipv6 {
			s := a.As16()
			copy(b[off:], s[:])
		} else {
			s := a.Unmap().As4()
			copy(b[off:], s[:])
		}
	}
	if p.Version == 2 {
		copy(b[headerLen+len(p.Addresses)*al:], p.AuthData[:])
	}
	c := Checksum(b, p.Version, src, dst)
	binary.BigEndian.PutUint16(b[6:8], c)
	return b, nil
}

// Checksum returns the Internet checksum of the VRRP message b (with its
// checksum field as it is): over b alone for VRRPv2, over the IPv4 or IPv6
// pseudo-header of src and dst and b for VRRPv3. For a received message it
// is 0 when the checksum is right.
func Checksum(b []byte, version uint8, src, dst netip.Addr) uint16 {
	var sum uint32
	if version == 3 {
		if src.Is4() || src.Is4In6() {
			s, d := as4(src), as4(dst)
			sum = add16(sum, s[:])
			sum = add16(sum, d[:])
			sum += IPProtocol
			sum += uint32(len(b))
		} else {
			s, d := src.As16(), dst.As16()
			sum = add16(sum, s[:])
			sum = add16(sum, d[:])
			sum += uint32(len(b)) >> 16
			sum += uint32(len(b)) & 0xffff
			sum += IPProtocol
		}
	}
	sum = add16(sum, b)
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

// as4 is a's four bytes, zeros if a is not IPv4 (the checksum then does
// not verify; it never panics).
func as4(a netip.Addr) [4]byte {
	if a.Is4() || a.Is4In6() {
		return a.Unmap().As4()
	}
	return [4]byte{}
}

func add16(sum uint32, b []byte) uint32 {
	for len(b) >= 2 {
		sum += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return sum
}

// authData pads a password to the 8 bytes of VRRPv2 authentication data.
func authData(pass string) (d [authLen]byte) {
	copy(d[:], pass)
	return d
}
