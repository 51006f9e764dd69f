package vrrp

import (
	"crypto/subtle"
	"fmt"
	"net/netip"
	"slices"
	"time"
)

// DropReason says why a received packet was dropped.
type DropReason uint8

// Drop reasons, in the order the checks run (keepalived's order).
const (
	DropLength      DropReason = iota // shorter than a header, or length not matching the address count
	DropVRID                          // no instance with that VRID on the interface
	DropTTL                           // multicast advert whose TTL (hop limit) is not 255, unicast outside unicast_min_ttl..unicast_max_ttl
	DropVersion                       // not our VRRP version
	DropAuth                          // VRRPv2 auth type or password mismatch
	DropInterval                      // VRRPv2 advert interval differs from ours
	DropType                          // not an advertisement
	DropChecksum                      // bad checksum
	DropDestination                   // multicast received by a unicast instance or the reverse
	DropSource                        // unicast advert from an address not in unicast_peers (check_unicast_src)
	DropAddress                       // source (or, for VRRPv3, destination) missing or of the other family
	NumDropReasons
)

var dropNames = [NumDropReasons]string{"length", "vrid", "ttl", "version", "auth", "interval", "type", "checksum",
	"destination", "source", "address"}

func (r DropReason) String() string {
	if r < NumDropReasons {
		return dropNames[r]
	}
	return fmt.Sprintf("DropReason(%d)", uint8(r))
}

// MarshalText makes drop reasons readable as JSON map keys.
func (r DropReason) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText parses a drop reason name.
func (r *DropReason) UnmarshalText(b []byte) error {
	i := slices.Index(dropNames[:], string(b))
	if i < 0 {
		return fmt.Errorf("vrrp: unknown drop reason %q", b)
	}
	*r = DropReason(i)
	return nil
}

// Datagram is a received VRRP packet with what the IP layer told us.
type Datagram struct {
	Payload []byte     // the VRRP message
	Src     netip.Addr // IP source
	Dst     netip.Addr // IP destination
	TTL     int        // IPv4 TTL or IPv6 hop limit; -1 if unknown
	At      time.Time  // when it was read off the socket
}

// checker holds what the receive checks compare against.
type checker struct {
	version  uint8
	ipv6     bool
	unicast  bool
	checkSrc bool                     // unicast: the source must be one of peers
	peers    []netip.Addr             // unicast peers, unzoned and unmapped
	ttl      ttlBounds                // unicast TTL bounds
	peerTTL  map[netip.Addr]ttlBounds // a peer's own bounds, in place of ttl
	authType uint8
	auth     [authLen]byte
	interval time.Duration
	vips     []netip.Addr
}

func newChecker(c *Config) checker {
	k := checker{
		version:  uint8(c.Version),
		ipv6:     c.ipv6(),
		unicast:  len(c.UnicastPeers) > 0,
		checkSrc: c.checksUnicastSrc(),
		ttl:      ttlBounds{c.UnicastMinTTL, c.UnicastMaxTTL},
		interval: c.AdvertInterval,
	}
	for _, a := range c.UnicastPeers {
		k.peers = append(k.peers, a.WithZone("").Unmap())
	}
	for _, t := range c.UnicastPeerTTLs {
		if k.peerTTL == nil {
			k.peerTTL = map[netip.Addr]ttlBounds{}
		}
		k.peerTTL[peerKey(t.Address)] = ttlBounds{t.MinTTL, t.MaxTTL}
	}
	if pw := c.password(); pw != "" {
		k.authType = AuthPass
		k.auth = authData(pw)
	}
	for _, v := range c.VIPs {
		k.vips = append(k.vips, v.Prefix.Addr())
	}
	return k
}

// check runs keepalived's receive checks in its order (after the VRID
// lookup): length, TTL (multicast only), version, VRRPv2 auth, VRRPv2
// interval, type, checksum, destination, and for a unicast instance the
// source among the peers (unless check_unicast_src is off) and the TTL
// bounds. Before the checksum, the addresses it needs must be there and of
// the instance's family (the socket always gives them; a Datagram built
// otherwise may not). A list of addresses that differs from ours is
// reported by mismatch but does not drop the packet.
func (k *checker) check(d Datagram) (p Packet, reason DropReason, ok, mismatch bool) {
	b := d.Payload
	if len(b) < headerLen {
		return p, DropLength, false, false
	}
	ver := b[0] >> 4
	if len(b) != PacketLen(ver, k.ipv6, int(b[3])) {
		return p, DropLength, false, false
	}
	if !k.unicast && d.TTL >= 0 && d.TTL != 255 {
		return p, DropTTL, false, false
	}
	if ver != k.version {
		return p, DropVersion, false, false
	}
	p, err := ParsePacket(b, k.ipv6)
	if err != nil { // cannot happen after the checks above
		return p, DropLength, false, false
	}
	if k.version == 2 {
		if p.AuthType != k.authType {
			return p, DropAuth, false, false
		}
		if k.authType == AuthPass && subtle.ConstantTimeCompare(p.AuthData[:], k.auth[:]) != 1 {
			return p, DropAuth, false, false
		}
		if p.Interval != k.interval {
			return p, DropInterval, false, false
		}
	}
	if p.Type != typeAdvert {
		return p, DropType, false, false
	}
	if !k.ofFamily(d.Src) || (ver == 3 && !k.ofFamily(d.Dst)) || (d.Dst.IsValid() && !k.ofFamily(d.Dst)) {
		return p, DropAddress, false, false
	}
	if Checksum(b, ver, d.Src, d.Dst) != 0 {
		return p, DropChecksum, false, false
	}
	if d.Dst.IsValid() && d.Dst.IsMulticast() == k.unicast {
		return p, DropDestination, false, false
	}
	if k.unicast {
		if k.checkSrc && !slices.Contains(k.peers, d.Src.WithZone("").Unmap()) {
			return p, DropSource, false, false
		}
		if !k.ttlAllowed(d.Src, d.TTL) {
			return p, DropTTL, false, false
		}
	}
	mismatch = len(p.Addresses) != len(k.vips)
	if !mismatch {
		for _, v := range k.vips {
			if !slices.Contains(p.Addresses, v) {
				mismatch = true
				break
			}
		}
	}
	return p, 0, true, mismatch
}

// ttlAllowed reports whether a unicast advert from src may have TTL ttl
// (-1: unknown): within src's own bounds (unicast_peer_ttls), else the
// instance's.
func (k *checker) ttlAllowed(src netip.Addr, ttl int) bool {
	b, ok := k.peerTTL[peerKey(src)]
	if !ok {
		b = k.ttl
	}
	return b.allows(ttl)
}

// ofFamily reports whether a is an address of the instance's family.
func (k *checker) ofFamily(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	return (a.Is4() || a.Is4In6()) != k.ipv6
}
