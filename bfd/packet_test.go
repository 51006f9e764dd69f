package bfd

import (
	"errors"
	"testing"
	"time"
)

func validPacket() Packet {
	return Packet{
		Diag: DiagDetectExpired, State: StateUp, Poll: true, DetectMult: 3,
		MyDiscr: 0x01020304, YourDiscr: 0x0a0b0c0d,
		DesiredMinTx: 100 * time.Millisecond, RequiredMinRx: 100 * time.Millisecond,
	}
}

func TestPacketRoundTrip(t *testing.T) {
	for _, p := range []Packet{
		validPacket(),
		{State: StateDown, DetectMult: 1, MyDiscr: 1, DesiredMinTx: time.Second, RequiredMinRx: time.Microsecond},
		{State: StateAdminDown, Diag: DiagAdminDown, DetectMult: 255, MyDiscr: 1<<32 - 1, Final: true, ControlPlaneIndependent: true},
		{State: StateInit, DetectMult: 5, MyDiscr: 7, YourDiscr: 9, RequiredMinEchoRx: 50 * time.Millisecond},
	} {
		b := p.Append(nil)
		if len(b) != 24 || b[3] != 24 || b[0]>>5 != 1 {
			t.Fatalf("%+v encoded as % x", p, b)
		}
		got, err := Decode(b)
		if err != nil {
			t.Fatalf("Decode(%+v): %v", p, err)
		}
		if got != p {
			t.Errorf("round trip: got %+v, want %+v", got, p)
		}
	}
}

// TestPacketWire checks the encoding against the RFC 5880 4.1 layout, byte
// by byte.
func TestPacketWire(t *testing.T) {
	b := validPacket().Append(nil)
	want := []byte{
		0x21,  // version 1, diag 1
		0xe0,  // state Up (3<<6), P
		3, 24, // detect mult, length
		1, 2, 3, 4, // my discriminator
		0x0a, 0x0b, 0x0c, 0x0d,
		0, 0x01, 0x86, 0xa0, // 100000 us
		0, 0x01, 0x86, 0xa0,
		0, 0, 0, 0,
	}
	if string(b) != string(want) {
		t.Errorf("encoded % x\nwant    % x", b, want)
	}
}

func TestDecodeRejects(t *testing.T) {
	good := validPacket().Append(nil)
	mod := func(f func(b []byte) []byte) []byte {
		b := append([]byte(nil), good...)
		return f(b)
	}
	for _, c := range []struct {
		name string
		b    []byte
		want DropReason
	}{
		{"empty", nil, DropShort},
		{"23 bytes", good[:23], DropShort},
		{"version 0", mod(func(b []byte) []byte { b[0] &^= 0xe0; return b }), DropVersion},
		{"version 2", mod(func(b []byte) []byte { b[0] = 2<<5 | b[0]&0x1f; return b }), DropVersion},
		{"length 23", mod(func(b []byte) []byte { b[3] = 23; return b }), DropLength},
		{"length beyond datagram", mod(func(b []byte) []byte { b[3] = 25; return b }), DropLength},
		{"length 0", mod(func(b []byte) []byte { b[3] = 0; return b }), DropLength},
		{"detect mult 0", mod(func(b []byte) []byte { b[2] = 0; return b }), DropDetectMult},
		{"multipoint", mod(func(b []byte) []byte { b[1] |= flagMultipoint; return b }), DropMultipoint},
		{"my discriminator 0", mod(func(b []byte) []byte { copy(b[4:8], []byte{0, 0, 0, 0}); return b }), DropMyDiscr},
		{"your discriminator 0 in Up", mod(func(b []byte) []byte { copy(b[8:12], []byte{0, 0, 0, 0}); return b }), DropYourDiscr},
		{"your discriminator 0 in Init", mod(func(b []byte) []byte {
			copy(b[8:12], []byte{0, 0, 0, 0})
			b[1] = b[1]&0x3f | byte(StateInit)<<6
			return b
		}), DropYourDiscr},
		{"auth bit, length 24", mod(func(b []byte) []byte { b[1] |= flagAuth; return b }), DropLength},
		{"auth bit", mod(func(b []byte) []byte { b[1] |= flagAuth; b[3] = 26; return append(b, 1, 2) }), DropAuth},
		{"demand", mod(func(b []byte) []byte { b[1] |= flagDemand; return b }), DropDemand},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Decode(c.b)
			var de *DecodeError
			if !errors.As(err, &de) || de.Reason != c.want {
				t.Fatalf("Decode: %v, want reason %s", err, c.want)
			}
		})
	}
}

func TestDecodeAccepts(t *testing.T) {
	good := validPacket().Append(nil)
	for _, c := range []struct {
		name string
		b    []byte
	}{
		{"your discriminator 0 in Down", func() []byte {
			p := validPacket()
			p.State, p.YourDiscr = StateDown, 0
			return p.Append(nil)
		}()},
		{"your discriminator 0 in AdminDown", func() []byte {
			p := validPacket()
			p.State, p.YourDiscr = StateAdminDown, 0
			return p.Append(nil)
		}()},
		{"trailing bytes past Length", append(append([]byte(nil), good...), 0xff, 0xff)},
	} {
		if _, err := Decode(c.b); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

// FuzzDecode: whatever the bytes, Decode does not panic, and a packet it
// accepts encodes to the first 24 bytes it came from (apart from a Length
// that announced trailing bytes) and decodes again to itself.
func FuzzDecode(f *testing.F) {
	f.Add(validPacket().Append(nil))
	f.Add(Packet{State: StateDown, DetectMult: 3, MyDiscr: 1, DesiredMinTx: time.Second}.Append(nil))
	f.Add([]byte{0x20, 0xc4, 3, 26, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Decode(b)
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) || de.Reason == "" {
				t.Fatalf("error without a reason: %v", err)
			}
			return
		}
		if p.DetectMult == 0 || p.MyDiscr == 0 {
			t.Fatalf("accepted an invalid packet %+v", p)
		}
		e := p.Append(nil)
		want := append([]byte(nil), b[:24]...)
		want[3] = 24
		if string(e) != string(want) {
			t.Fatalf("re-encoded % x, from % x", e, b[:24])
		}
		q, err := Decode(e)
		if err != nil || q != p {
			t.Fatalf("second decode: %+v %v, want %+v", q, err, p)
		}
	})
}
