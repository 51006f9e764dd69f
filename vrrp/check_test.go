package vrrp

import (
	"net/netip"
	"testing"
	"time"
)

func checkerFor(t *testing.T, c Config) checker {
	t.Helper()
	set, err := Options{Instances: []Config{c}}.checked()
	cfgs := set.Instances
	if err != nil {
		t.Fatal(err)
	}
	return newChecker(&cfgs[0])
}

func testConfig() Config {
	return Config{
		Name: "VI_1", Interface: "eth0", VRID: 51, Priority: 100, Authentication: PassAuth("1111"),
		VIPs: []VIP{{Prefix: netip.MustParsePrefix("192.168.56.90/32")}},
	}
}

// datagram encodes p as a peer would send it to the multicast group.
func datagram(t *testing.T, p Packet) Datagram {
	t.Helper()
	b, err := p.Marshal(src4, dst4)
	if err != nil {
		t.Fatal(err)
	}
	return Datagram{Payload: b, Src: src4, Dst: dst4, TTL: 255}
}

func goodV2() Packet {
	return Packet{Version: 2, Type: 1, VRID: 51, Priority: 200, AuthType: AuthPass, Interval: time.Second,
		Addresses: []netip.Addr{netip.MustParseAddr("192.168.56.90")}, AuthData: authData("1111")}
}

func TestCheckDrops(t *testing.T) {
	k := checkerFor(t, testConfig())
	mutate := func(f func(*Packet)) Packet { p := goodV2(); f(&p); return p }
	tests := []struct {
		name string
		d    func(t *testing.T) Datagram
		want DropReason
	}{
		{"short", func(t *testing.T) Datagram { d := datagram(t, goodV2()); d.Payload = d.Payload[:6]; return d }, DropLength},
		{"count says two addresses", func(t *testing.T) Datagram { d := datagram(t, goodV2()); d.Payload[3] = 2; return d }, DropLength},
		{"trailing bytes", func(t *testing.T) Datagram {
			d := datagram(t, goodV2())
			d.Payload = append(d.Payload, 0, 0, 0, 0)
			return d
		}, DropLength},
		{"ttl 64", func(t *testing.T) Datagram { d := datagram(t, goodV2()); d.TTL = 64; return d }, DropTTL},
		{"version 3", func(t *testing.T) Datagram {
			p := mutate(func(p *Packet) { p.Version = 3; p.AuthType = 0 })
			b, _ := p.Marshal(src4, dst4)
			return Datagram{Payload: b, Src: src4, Dst: dst4, TTL: 255}
		}, DropVersion},
		{"no auth", func(t *testing.T) Datagram {
			return datagram(t, mutate(func(p *Packet) { p.AuthType = AuthNone; p.AuthData = [8]byte{} }))
		}, DropAuth},
		{"AH auth type", func(t *testing.T) Datagram { return datagram(t, mutate(func(p *Packet) { p.AuthType = 2 })) }, DropAuth},
		{"wrong password", func(t *testing.T) Datagram {
			return datagram(t, mutate(func(p *Packet) { p.AuthData = authData("2222") }))
		}, DropAuth},
		{"password longer than ours", func(t *testing.T) Datagram {
			return datagram(t, mutate(func(p *Packet) { p.AuthData = authData("11112222") }))
		}, DropAuth},
		{"interval 2 s", func(t *testing.T) Datagram {
			return datagram(t, mutate(func(p *Packet) { p.Interval = 2 * time.Second }))
		}, DropInterval},
		{"type 2", func(t *testing.T) Datagram { return datagram(t, mutate(func(p *Packet) { p.Type = 2 })) }, DropType},
		{"checksum", func(t *testing.T) Datagram { d := datagram(t, goodV2()); d.Payload[7] ^= 0xff; return d }, DropChecksum},
		{"unicast to a multicast instance", func(t *testing.T) Datagram {
			d := datagram(t, goodV2())
			d.Dst = netip.MustParseAddr("10.0.0.2")
			return d
		}, DropDestination},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, reason, ok, _ := k.check(tt.d(t))
			if ok {
				t.Fatal("accepted")
			}
			if reason != tt.want {
				t.Fatalf("dropped for %v, want %v", reason, tt.want)
			}
		})
	}
}

// TestCheckOrder checks that when several things are wrong the first check
// in keepalived's order names the drop.
func TestCheckOrder(t *testing.T) {
	k := checkerFor(t, testConfig())
	d := datagram(t, Packet{Version: 2, Type: 2, VRID: 51, Priority: 200, AuthType: AuthNone, Interval: 3 * time.Second,
		Addresses: []netip.Addr{netip.MustParseAddr("192.168.56.90")}})
	d.Payload[7] ^= 0xff
	d.TTL = 1
	steps := []struct {
		want DropReason
		fix  func()
	}{
		{DropTTL, func() { d.TTL = 255 }},
		{DropAuth, func() {
			d.Payload[4] = AuthPass
			copy(d.Payload[12:], "1111")
		}},
		{DropInterval, func() { d.Payload[5] = 1 }},
		{DropType, func() { d.Payload[0] = 0x21 }},
		{DropChecksum, func() {
			d.Payload[6], d.Payload[7] = 0, 0
			c := Checksum(d.Payload, 2, d.Src, d.Dst)
			d.Payload[6], d.Payload[7] = byte(c>>8), byte(c)
		}},
	}
	for _, s := range steps {
		_, reason, ok, _ := k.check(d)
		if ok || reason != s.want {
			t.Fatalf("got ok=%v reason=%v, want drop for %v", ok, reason, s.want)
		}
		s.fix()
	}
	if _, reason, ok, _ := k.check(d); !ok {
		t.Fatalf("fixed packet dropped for %v", reason)
	}
}

func TestCheckAccepts(t *testing.T) {
	tests := []struct {
		name     string
		cfg      func(Config) Config
		d        func(t *testing.T) Datagram
		mismatch bool
	}{
		{"v2 pass", func(c Config) Config { return c }, func(t *testing.T) Datagram { return datagram(t, goodV2()) }, false},
		{"v2 unknown TTL (no control message)", func(c Config) Config { return c }, func(t *testing.T) Datagram {
			d := datagram(t, goodV2())
			d.TTL = -1
			return d
		}, false},
		{"address list differs: logged, not dropped", func(c Config) Config { return c }, func(t *testing.T) Datagram {
			p := goodV2()
			p.Addresses = []netip.Addr{netip.MustParseAddr("192.168.56.91")}
			return datagram(t, p)
		}, true},
		{"unicast instance ignores TTL", func(c Config) Config {
			c.UnicastPeers = []netip.Addr{src4}
			return c
		}, func(t *testing.T) Datagram {
			p := goodV2()
			b, _ := p.Marshal(src4, netip.MustParseAddr("10.0.0.2"))
			return Datagram{Payload: b, Src: src4, Dst: netip.MustParseAddr("10.0.0.2"), TTL: 62}
		}, false},
		{"v3 accepts another interval", func(c Config) Config {
			c.Version, c.Authentication, c.AdvertInterval = 3, nil, 100*time.Millisecond
			return c
		}, func(t *testing.T) Datagram {
			return datagram(t, Packet{Version: 3, Type: 1, VRID: 51, Priority: 200, Interval: 2 * time.Second,
				Addresses: []netip.Addr{netip.MustParseAddr("192.168.56.90")}})
		}, false},
		{"v3 IPv6", func(c Config) Config {
			c.Version, c.Authentication = 3, nil
			c.VIPs = []VIP{{Prefix: netip.MustParsePrefix("2001:db8::90/128")}}
			return c
		}, func(t *testing.T) Datagram {
			p := Packet{Version: 3, Type: 1, VRID: 51, Priority: 200, Interval: time.Second,
				Addresses: []netip.Addr{netip.MustParseAddr("2001:db8::90")}}
			b, _ := p.Marshal(src6, dst6)
			return Datagram{Payload: b, Src: src6, Dst: dst6, TTL: 255}
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := checkerFor(t, tt.cfg(testConfig()))
			p, reason, ok, mismatch := k.check(tt.d(t))
			if !ok {
				t.Fatalf("dropped for %v", reason)
			}
			if mismatch != tt.mismatch {
				t.Fatalf("mismatch %v, want %v", mismatch, tt.mismatch)
			}
			if p.Priority != 200 {
				t.Fatalf("priority %d", p.Priority)
			}
		})
	}
}

func TestCheckV6Checksum(t *testing.T) {
	c := testConfig()
	c.Version, c.Authentication = 3, nil
	c.VIPs = []VIP{{Prefix: netip.MustParsePrefix("2001:db8::90/128")}}
	k := checkerFor(t, c)
	p := Packet{Version: 3, Type: 1, VRID: 51, Priority: 200, Interval: time.Second,
		Addresses: []netip.Addr{netip.MustParseAddr("2001:db8::90")}}
	b, _ := p.Marshal(src6, dst6)
	// The same bytes from another source fail the pseudo-header checksum.
	d := Datagram{Payload: b, Src: netip.MustParseAddr("fe80::2"), Dst: dst6, TTL: 255}
	if _, reason, ok, _ := k.check(d); ok || reason != DropChecksum {
		t.Fatalf("ok=%v reason=%v, want a checksum drop", ok, reason)
	}
}

func TestDropReasonText(t *testing.T) {
	for r := range NumDropReasons {
		b, _ := r.MarshalText()
		var got DropReason
		if err := got.UnmarshalText(b); err != nil || got != r {
			t.Errorf("%v: round trip gave %v, %v", r, got, err)
		}
	}
}

// unicastDatagram encodes p as the unicast peer from would send it to us.
func unicastDatagram(t *testing.T, p Packet, from netip.Addr, ttl int) Datagram {
	t.Helper()
	b, err := p.Marshal(from, ucDst)
	if err != nil {
		t.Fatal(err)
	}
	return Datagram{Payload: b, Src: from, Dst: ucDst, TTL: ttl}
}

var (
	ucDst    = netip.MustParseAddr("10.0.0.1")
	ucPeer   = netip.MustParseAddr("10.0.0.2")
	ucForged = netip.MustParseAddr("10.0.0.66")
)

func goodV3() Packet {
	return Packet{Version: 3, Type: 1, VRID: 51, Priority: 200, Interval: time.Second,
		Addresses: []netip.Addr{netip.MustParseAddr("192.168.56.90")}}
}

// TestCheckUnicastAndAddresses: the drops of the unicast receive path
// (source among the peers unless check_unicast_src is off, TTL bounds) and
// of datagrams whose addresses are missing or of the other family (a
// VRRPv3 IPv4 one without a destination made the checksum panic).
func TestCheckUnicastAndAddresses(t *testing.T) {
	off := false
	unicast := func(c Config) Config { c.UnicastPeers = []netip.Addr{ucPeer}; return c }
	v3 := func(c Config) Config { c.Version, c.Authentication = 3, nil; return c }
	tests := []struct {
		name string
		cfg  func(Config) Config
		d    func(t *testing.T) Datagram
		want DropReason // NumDropReasons: accepted
	}{
		{"v2 from the peer", unicast, func(t *testing.T) Datagram { return unicastDatagram(t, goodV2(), ucPeer, 255) }, NumDropReasons},
		{"v2 from a non-peer", unicast, func(t *testing.T) Datagram { return unicastDatagram(t, goodV2(), ucForged, 255) }, DropSource},
		{"v3 from a non-peer", func(c Config) Config { return unicast(v3(c)) }, func(t *testing.T) Datagram {
			return unicastDatagram(t, goodV3(), ucForged, 255)
		}, DropSource},
		{"non-peer with check_unicast_src off", func(c Config) Config { c = unicast(c); c.CheckUnicastSrc = &off; return c },
			func(t *testing.T) Datagram { return unicastDatagram(t, goodV2(), ucForged, 255) }, NumDropReasons},
		{"peer below unicast_min_ttl", func(c Config) Config { c = unicast(c); c.UnicastMinTTL = 255; return c },
			func(t *testing.T) Datagram { return unicastDatagram(t, goodV2(), ucPeer, 254) }, DropTTL},
		{"peer above unicast_max_ttl", func(c Config) Config { c = unicast(c); c.UnicastMaxTTL = 64; return c },
			func(t *testing.T) Datagram { return unicastDatagram(t, goodV2(), ucPeer, 255) }, DropTTL},
		{"peer within the TTL bounds", func(c Config) Config { c = unicast(c); c.UnicastMinTTL, c.UnicastMaxTTL = 60, 64; return c },
			func(t *testing.T) Datagram { return unicastDatagram(t, goodV2(), ucPeer, 62) }, NumDropReasons},
		{"non-peer and bad TTL: the source names the drop", func(c Config) Config { c = unicast(c); c.UnicastMinTTL = 255; return c },
			func(t *testing.T) Datagram { return unicastDatagram(t, goodV2(), ucForged, 1) }, DropSource},
		{"link-local peer with a zone", func(c Config) Config {
			c = v3(c)
			c.VIPs = []VIP{{Prefix: netip.MustParsePrefix("2001:db8::90/128")}}
			c.UnicastPeers = []netip.Addr{netip.MustParseAddr("fe80::2%eth0")}
			return c
		}, func(t *testing.T) Datagram {
			p := Packet{Version: 3, Type: 1, VRID: 51, Priority: 200, Interval: time.Second, Addresses: []netip.Addr{netip.MustParseAddr("2001:db8::90")}}
			src, dst := netip.MustParseAddr("fe80::2"), netip.MustParseAddr("fe80::1")
			b, _ := p.Marshal(src, dst)
			return Datagram{Payload: b, Src: src, Dst: dst, TTL: 255}
		}, NumDropReasons},
		{"v3 IPv4 without a destination", v3, func(t *testing.T) Datagram {
			d := datagram(t, goodV3())
			d.Dst = netip.Addr{}
			return d
		}, DropAddress},
		{"v3 IPv4 without a source", v3, func(t *testing.T) Datagram {
			d := datagram(t, goodV3())
			d.Src = netip.Addr{}
			return d
		}, DropAddress},
		{"v3 IPv4 with an IPv6 destination", v3, func(t *testing.T) Datagram {
			d := datagram(t, goodV3())
			d.Dst = dst6
			return d
		}, DropAddress},
		{"v2 without a source", func(c Config) Config { return c }, func(t *testing.T) Datagram {
			d := datagram(t, goodV2())
			d.Src = netip.Addr{}
			return d
		}, DropAddress},
		{"v2 without a destination: accepted (the destination is unknown)", func(c Config) Config { return c }, func(t *testing.T) Datagram {
			d := datagram(t, goodV2())
			d.Dst = netip.Addr{}
			return d
		}, NumDropReasons},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := checkerFor(t, tt.cfg(testConfig()))
			_, reason, ok, _ := k.check(tt.d(t))
			switch {
			case tt.want == NumDropReasons && !ok:
				t.Fatalf("dropped for %v", reason)
			case tt.want != NumDropReasons && ok:
				t.Fatalf("accepted, want a drop for %v", tt.want)
			case !ok && reason != tt.want:
				t.Fatalf("dropped for %v, want %v", reason, tt.want)
			}
		})
	}
}

// TestChecksumNeverPanics: mismatched or missing pseudo-header addresses
// give a checksum that does not verify, never a panic.
func TestChecksumNeverPanics(t *testing.T) {
	b := []byte{0x31, 51, 200, 1, 0, 100, 0, 0, 192, 168, 56, 90}
	for _, a := range [][2]netip.Addr{{src4, {}}, {{}, dst4}, {{}, {}}, {src4, dst6}, {src6, dst4}, {src6, {}}} {
		_ = Checksum(b, 3, a[0], a[1])
	}
}
