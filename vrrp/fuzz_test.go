package vrrp

import (
	"net/netip"
	"slices"
	"testing"
	"time"
)

// FuzzParsePacket feeds arbitrary bytes to the decoder and the receive
// checks. Whatever the input: nothing panics; a decoded packet re-encodes to
// the same bytes apart from the checksum, decodes again to the same packet
// and then carries a checksum that verifies; the checks drop or accept
// without touching more than the payload. The committed corpus is in
// testdata/fuzz/FuzzParsePacket (keepalived's adverts and broken variants).
func FuzzParsePacket(f *testing.F) {
	for _, s := range seedPackets(f) {
		f.Add(s, false)
	}
	f.Add([]byte{0x31, 0x01, 0x64, 0x01, 0x00, 0x64, 0, 0, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, true)
	v4 := newChecker(&Config{Version: 2, Authentication: PassAuth("1111"), AdvertInterval: time.Second, VIPs: []VIP{{Prefix: netip.MustParsePrefix("10.9.0.100/32")}}})
	v3 := newChecker(&Config{Version: 3, AdvertInterval: time.Second, VIPs: []VIP{{Prefix: netip.MustParsePrefix("10.9.0.100/32")}}})
	v6 := newChecker(&Config{Version: 3, AdvertInterval: time.Second, VIPs: []VIP{{Prefix: netip.MustParsePrefix("2001:db8::1/128")}}})
	f.Fuzz(func(t *testing.T, b []byte, six bool) {
		orig := slices.Clone(b)
		src, dst := src4, dst4
		if six {
			src, dst = src6, dst6
		}
		d := Datagram{Payload: b, Src: src, Dst: dst, TTL: 255}
		if six {
			v6.check(d)
		} else {
			v4.check(d)
			v3.check(d)
		}
		if !slices.Equal(b, orig) {
			t.Fatal("the checks modified the payload")
		}
		p, err := ParsePacket(b, six)
		if err != nil {
			return
		}
		if len(b) != PacketLen(p.Version, six, len(p.Addresses)) {
			t.Fatalf("decoded %d bytes as %d addresses", len(b), len(p.Addresses))
		}
		enc, err := p.Marshal(src, dst)
		if err != nil {
			if p.Version == 2 && six {
				return // VRRPv2 is IPv4 only: decoding is lenient, encoding is not
			}
			t.Fatalf("re-encoding %+v: %v", p, err)
		}
		want := slices.Clone(b)
		want[6], want[7] = enc[6], enc[7]
		if p.Type == 0 {
			want[0] = want[0]&0xf0 | typeAdvert // Marshal defaults the type
		}
		if p.Version == 3 {
			want[4] &= 0x0f // reserved bits are sent as zero
		}
		if !slices.Equal(enc, want) {
			t.Fatalf("re-encoded\n%x\nfrom\n%x", enc, b)
		}
		if Checksum(enc, p.Version, src, dst) != 0 {
			t.Fatalf("our own checksum does not verify: %x", enc)
		}
		q, err := ParsePacket(enc, six)
		if err != nil || q.VRID != p.VRID || q.Priority != p.Priority || q.Interval != p.Interval || !slices.Equal(q.Addresses, p.Addresses) || q.AuthData != p.AuthData {
			t.Fatalf("decoding our encoding: %+v, %v; want %+v", q, err, p)
		}
	})
}

// seedPackets returns keepalived's captured adverts (IPv4).
func seedPackets(tb testing.TB) [][]byte {
	return [][]byte{
		mustHexTB(tb, "2133640101010cfb0a0900643131313100000000"), // v2 PASS
		mustHexTB(tb, "21330001010170fb0a0900643131313100000000"), // v2 priority 0
		mustHexTB(tb, "31349602000a39430a0900650a090066"),         // v3, 100 ms, two VIPs
		{0x21},
	}
}

func mustHexTB(tb testing.TB, s string) []byte {
	tb.Helper()
	b := make([]byte, len(s)/2)
	for i := range b {
		var v byte
		for _, c := range s[2*i : 2*i+2] {
			v <<= 4
			switch {
			case c >= '0' && c <= '9':
				v |= byte(c - '0')
			case c >= 'a' && c <= 'f':
				v |= byte(c - 'a' + 10)
			default:
				tb.Fatalf("bad hex %q", s)
			}
		}
		b[i] = v
	}
	return b
}

// FuzzCheck drives the whole receive check with arbitrary payloads,
// source and destination addresses (any length: missing, IPv4, IPv6) and
// TTLs, against multicast and unicast instances of both versions and
// families. Whatever the input nothing panics, the payload is untouched, and
// what is accepted obeys the rules: a source of the instance's family, TTL
// 255 for multicast, for unicast a source among the peers (when checked) and
// a TTL within the bounds, a checksum that verifies.
func FuzzCheck(f *testing.F) {
	peer4, peer6 := netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("fe80::2")
	uc4, uc6 := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("fe80::1")
	for _, s := range seedPackets(f) {
		f.Add(s, src4.AsSlice(), dst4.AsSlice(), 255)
		f.Add(s, peer4.AsSlice(), uc4.AsSlice(), 64)
		f.Add(s, src4.AsSlice(), []byte(nil), 255) // VRRPv3 over IPv4 without a destination panicked
	}
	f.Add(mustHexTB(f, "31336401000a0000"+"20010db8000000000000000000000001"), peer6.AsSlice(), uc6.AsSlice(), 255)
	off := false
	vip4 := []VIP{{Prefix: netip.MustParsePrefix("10.9.0.100/32")}}
	vip6 := []VIP{{Prefix: netip.MustParsePrefix("2001:db8::1/128")}}
	cfgs := []Config{
		{Version: 2, Authentication: PassAuth("1111"), AdvertInterval: time.Second, VIPs: vip4},
		{Version: 3, AdvertInterval: time.Second, VIPs: vip4},
		{Version: 3, AdvertInterval: time.Second, VIPs: vip6},
		{Version: 2, AdvertInterval: time.Second, VIPs: vip4, UnicastPeers: []netip.Addr{peer4}, UnicastMinTTL: 60, UnicastMaxTTL: 64},
		{Version: 3, AdvertInterval: time.Second, VIPs: vip4, UnicastPeers: []netip.Addr{peer4}},
		{Version: 3, AdvertInterval: time.Second, VIPs: vip6, UnicastPeers: []netip.Addr{peer6}, UnicastMinTTL: 255},
		{Version: 3, AdvertInterval: time.Second, VIPs: vip4, UnicastPeers: []netip.Addr{peer4}, CheckUnicastSrc: &off},
	}
	checkers := make([]checker, len(cfgs))
	for i := range cfgs {
		checkers[i] = newChecker(&cfgs[i])
	}
	f.Fuzz(func(t *testing.T, b, srcB, dstB []byte, ttl int) {
		src, _ := netip.AddrFromSlice(srcB)
		dst, _ := netip.AddrFromSlice(dstB)
		d := Datagram{Payload: b, Src: src, Dst: dst, TTL: ttl}
		orig := slices.Clone(b)
		for i := range checkers {
			k, c := &checkers[i], &cfgs[i]
			p, reason, ok, _ := k.check(d)
			if !slices.Equal(b, orig) {
				t.Fatal("the checks modified the payload")
			}
			if !ok {
				if reason >= NumDropReasons {
					t.Fatalf("instance %d: drop reason %d out of range", i, reason)
				}
				continue
			}
			if !k.ofFamily(src) {
				t.Fatalf("instance %d accepted a source %v of another family", i, src)
			}
			if !k.unicast && ttl >= 0 && ttl != 255 {
				t.Fatalf("multicast instance %d accepted TTL %d", i, ttl)
			}
			if k.unicast && c.checksUnicastSrc() && !slices.Contains(k.peers, src.Unmap()) {
				t.Fatalf("unicast instance %d accepted %v, not a peer", i, src)
			}
			if k.unicast && ttl >= 0 && (ttl < c.UnicastMinTTL || (c.UnicastMaxTTL != 0 && ttl > c.UnicastMaxTTL)) {
				t.Fatalf("unicast instance %d accepted TTL %d outside %d..%d", i, ttl, c.UnicastMinTTL, c.UnicastMaxTTL)
			}
			if Checksum(b, p.Version, src, dst) != 0 {
				t.Fatalf("instance %d accepted a bad checksum", i)
			}
		}
	})
}
