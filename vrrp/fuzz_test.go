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
