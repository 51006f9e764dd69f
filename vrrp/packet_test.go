package vrrp

import (
	"encoding/hex"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var (
	src4 = netip.MustParseAddr("10.0.0.1")
	dst4 = netip.MustParseAddr("224.0.0.18")
	src6 = netip.MustParseAddr("fe80::1")
	dst6 = netip.MustParseAddr("ff02::12")
)

func TestMarshalKnownBytes(t *testing.T) {
	tests := []struct {
		name     string
		p        Packet
		src, dst netip.Addr
		want     string
	}{
		{
			// RFC 1071 over 2133 6401 0101 0000 c0a8 385a 3131 3131 0000 0000:
			// sum 0x1e199, folded 0xe19a, complement 0x1e65.
			name: "v2 PASS",
			p: Packet{Version: 2, VRID: 0x33, Priority: 100, AuthType: AuthPass, Interval: time.Second,
				Addresses: []netip.Addr{netip.MustParseAddr("192.168.56.90")}, AuthData: authData("1111")},
			src: src4, dst: dst4,
			want: "2133 6401 0101 1e65 c0a8385a 3131313100000000",
		},
		{
			// Pseudo-header 0a00 0001 e000 0012 0070 000c, then 3133 6401
			// 000a 0000 c0a8 385a: folded sum 0x78d1, complement 0x872e.
			name: "v3 IPv4 with pseudo-header",
			p: Packet{Version: 3, VRID: 0x33, Priority: 100, Interval: 100 * time.Millisecond,
				Addresses: []netip.Addr{netip.MustParseAddr("192.168.56.90")}},
			src: src4, dst: dst4,
			want: "3133 6401 000a 872e c0a8385a",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.p.Marshal(tt.src, tt.dst)
			if err != nil {
				t.Fatal(err)
			}
			if want := mustHex(t, tt.want); string(got) != string(want) {
				t.Fatalf("got  %x\nwant %x", got, want)
			}
			if c := Checksum(got, tt.p.Version, tt.src, tt.dst); c != 0 {
				t.Fatalf("checksum of the encoded packet does not verify: %#x", c)
			}
		})
	}
}

// TestDecodeKeepalived decodes adverts captured from keepalived 2.2.7 (the
// interop test's peer): the bytes, the source and destination are in the
// file, and the checksum must verify.
func TestDecodeKeepalived(t *testing.T) {
	files, _ := filepath.Glob("testdata/keepalived/*.hex")
	if len(files) == 0 {
		t.Fatal("no captured keepalived adverts in testdata/keepalived")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			// Format: "SRC DST HEX" and an expectation line "vN vrid prio interval addrs".
			lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
			fields := strings.Fields(lines[0])
			src, dst := netip.MustParseAddr(fields[0]), netip.MustParseAddr(fields[1])
			b := mustHex(t, fields[2])
			p, err := ParsePacket(b, src.Is6())
			if err != nil {
				t.Fatal(err)
			}
			if c := Checksum(b, p.Version, src, dst); c != 0 {
				t.Fatalf("keepalived's checksum does not verify with ours: %#x", c)
			}
			// Re-encoding what we decoded gives keepalived's bytes.
			again, err := p.Marshal(src, dst)
			if err != nil {
				t.Fatal(err)
			}
			if string(again) != string(b) {
				t.Fatalf("re-encoded %x\nkeepalived %x", again, b)
			}
			want := strings.TrimSpace(lines[1])
			if got := describe(p); got != want {
				t.Fatalf("decoded %q, want %q", got, want)
			}
		})
	}
}

func describe(p Packet) string {
	var addrs []string
	for _, a := range p.Addresses {
		addrs = append(addrs, a.String())
	}
	s := []string{"v" + string('0'+rune(p.Version)), "vrid=" + itoa(int(p.VRID)), "prio=" + itoa(int(p.Priority)), "int=" + p.Interval.String(), strings.Join(addrs, ",")}
	if p.Version == 2 {
		s = append(s, "auth="+itoa(int(p.AuthType))+":"+strings.TrimRight(string(p.AuthData[:]), "\x00"))
	}
	return strings.Join(s, " ")
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for i > 0 {
		b = append([]byte{byte('0' + i%10)}, b...)
		i /= 10
	}
	return string(b)
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name     string
		p        Packet
		src, dst netip.Addr
	}{
		{"v2 no auth", Packet{Version: 2, Type: 1, VRID: 1, Priority: 255, Interval: 255 * time.Second,
			Addresses: []netip.Addr{netip.MustParseAddr("10.1.1.1"), netip.MustParseAddr("10.1.1.2")}}, src4, dst4},
		{"v3 ipv4 max interval", Packet{Version: 3, Type: 1, VRID: 255, Priority: 1, Interval: 40950 * time.Millisecond,
			Addresses: []netip.Addr{netip.MustParseAddr("10.1.1.1")}}, src4, netip.MustParseAddr("10.0.0.2")},
		{"v3 ipv6", Packet{Version: 3, Type: 1, VRID: 7, Priority: 100, Interval: 10 * time.Millisecond,
			Addresses: []netip.Addr{netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("fe80::99")}}, src6, dst6},
		{"no addresses", Packet{Version: 3, Type: 1, VRID: 7, Priority: 0, Interval: time.Second}, src4, dst4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.p.Marshal(tt.src, tt.dst)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParsePacket(b, tt.src.Is6())
			if err != nil {
				t.Fatal(err)
			}
			if Checksum(b, got.Version, tt.src, tt.dst) != 0 {
				t.Fatal("checksum does not verify")
			}
			want := tt.p
			want.Checksum = got.Checksum
			if want.Addresses == nil {
				want.Addresses = []netip.Addr{}
			}
			if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	good := mustHex(t, "2133 6401 0101 1e65 c0a8385a 3131313100000000")
	tests := []struct {
		name string
		b    []byte
		six  bool
		want error
	}{
		{"empty", nil, false, ErrShort},
		{"seven bytes", good[:7], false, ErrShort},
		{"missing auth", good[:12], false, ErrShort},
		{"trailing byte", append(append([]byte{}, good...), 0), false, ErrLong},
		{"ipv6 sizes", good, true, ErrShort},
		{"version 4", append([]byte{0x41}, good[1:12]...), false, ErrVersion},
		{"version 1 with v2 size", append([]byte{0x11}, good[1:12]...), false, ErrVersion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParsePacket(tt.b, tt.six)
			if !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
		})
	}
}

func TestMarshalErrors(t *testing.T) {
	tests := []struct {
		name string
		p    Packet
		src  netip.Addr
	}{
		{"version 4", Packet{Version: 4}, src4},
		{"v2 fractional interval", Packet{Version: 2, Interval: 1500 * time.Millisecond}, src4},
		{"v2 over 255 s", Packet{Version: 2, Interval: 256 * time.Second}, src4},
		{"v3 over 40.95 s", Packet{Version: 3, Interval: 41 * time.Second}, src4},
		{"v2 over IPv6", Packet{Version: 2, Interval: time.Second}, src6},
		{"mixed families", Packet{Version: 3, Interval: time.Second, Addresses: []netip.Addr{netip.MustParseAddr("2001:db8::1")}}, src4},
		{"too many addresses", Packet{Version: 3, Interval: time.Second, Addresses: make([]netip.Addr, 256)}, src4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if b, err := tt.p.Marshal(tt.src, dst4); err == nil {
				t.Fatalf("encoded %x, want an error", b)
			}
		})
	}
}

func TestChecksumOddLength(t *testing.T) {
	// An odd trailing byte is padded with zero (RFC 1071).
	if got, want := Checksum([]byte{0x01, 0x02, 0x03}, 2, src4, dst4), ^uint16(0x0102+0x0300); got != want {
		t.Fatalf("got %#x want %#x", got, want)
	}
}
