package healthcheck

import (
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// udpServer answers each datagram with reply(datagram), or stays silent
// when reply returns nil; it returns its address.
func udpServer(t *testing.T, reply func([]byte) []byte) netip.AddrPort {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 65536)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if r := reply(buf[:n]); r != nil {
				_, _ = pc.WriteTo(r, from)
			}
		}
	}()
	return netip.MustParseAddrPort(pc.LocalAddr().String())
}

// closedUDPPort returns a localhost UDP port nothing listens on: datagrams
// to it draw an ICMP port unreachable.
func closedUDPPort(t *testing.T) netip.AddrPort {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ap := netip.MustParseAddrPort(pc.LocalAddr().String())
	pc.Close()
	return ap
}

func mustHex(t *testing.T, s string) (data, mask []byte) {
	t.Helper()
	d, m, err := ParseHex(s, true)
	if err != nil {
		t.Fatal(err)
	}
	return d, m
}

func TestUDPChecker(t *testing.T) {
	echo := udpServer(t, func(b []byte) []byte { return b })
	silent := udpServer(t, func([]byte) []byte { return nil })
	fixed := udpServer(t, func([]byte) []byte { return []byte{0xde, 0xad, 0xbe, 0xef, 0x01} })
	closed := closedUDPPort(t)
	payload, _ := mustHex(t, "6c 62 64")
	match, _ := mustHex(t, "dead be")
	wrong, _ := mustHex(t, "dead bf")
	wild, wildMask := mustHex(t, "dXad bx")

	const short = 400 * time.Millisecond
	tests := []struct {
		name       string
		spec       Spec
		wantOK     bool
		wantKind   ResultKind
		wantReason string
	}{
		{"echo, no reply required", Spec{Target: echo}, true, KindOK, "UDP reply of 32 bytes"},
		{"echo of payload, reply required", Spec{Target: echo, Payload: payload, RequireReply: true, Reply: payload}, true, KindOK, "UDP reply of 3 bytes"},
		{"closed port: ICMP port unreachable", Spec{Target: closed}, false, KindRefused, "ICMP port unreachable"},
		{"closed port, reply required", Spec{Target: closed, RequireReply: true}, false, KindRefused, "ICMP port unreachable"},
		{"silence passes", Spec{Target: silent}, true, KindOK, "no reply nor error within"},
		{"silence fails when a reply is required", Spec{Target: silent, RequireReply: true}, false, KindTimeout, "no reply within"},
		{"reply prefix matches", Spec{Target: fixed, RequireReply: true, Reply: match}, true, KindOK, "UDP reply of 5 bytes"},
		{"reply differs", Spec{Target: fixed, RequireReply: true, Reply: wrong}, false, KindError, "reply byte 2 is 0xbe, want 0xbf"},
		{"wildcards ignore digits", Spec{Target: fixed, RequireReply: true, Reply: wild, ReplyMask: wildMask}, true, KindOK, "UDP reply"},
		{"reply too long", Spec{Target: fixed, RequireReply: true, MaxReply: 4}, false, KindError, "reply of 5 bytes, want 0-4"},
		{"reply too short", Spec{Target: fixed, RequireReply: true, MinReply: 6, MaxReply: 10}, false, KindError, "reply of 5 bytes, want 6-10"},
		{"content unchecked without require_reply", Spec{Target: fixed, Reply: wrong}, true, KindOK, "UDP reply of 5 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.spec.Type = TypeUDP
			r := check(t, tt.spec, short)
			t.Logf("%s: %s", r.Kind, r.Reason)
			if r.OK != tt.wantOK || r.Kind != tt.wantKind || !strings.Contains(r.Reason, tt.wantReason) {
				t.Errorf("Check = %+v, want ok=%t kind=%s reason %q", r, tt.wantOK, tt.wantKind, tt.wantReason)
			}
		})
	}
}

func TestParseHex(t *testing.T) {
	tests := []struct {
		in        string
		wildcards bool
		want      string // %x of data, or "error"
		wantMask  string // %x of mask, "" for none
	}{
		// keepalived.conf(5)'s example.
		{"Ab12f 3 456 546443123", false, "ab120f03450654644312" + "03", ""},
		{"00", false, "00", ""},
		{"1x 2X", true, "1020", "0f0f"},
		{"1x", false, "error", ""},
		{"zz", true, "error", ""},
		{"   ", false, "error", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			d, m, err := ParseHex(tt.in, tt.wildcards)
			if tt.want == "error" {
				if err == nil {
					t.Fatalf("ParseHex(%q) = %x, want an error", tt.in, d)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.ToLower(hexString(d)); got != tt.want || hexString(m) != tt.wantMask {
				t.Errorf("ParseHex(%q) = %s mask %s, want %s mask %s", tt.in, got, hexString(m), tt.want, tt.wantMask)
			}
		})
	}
}

func hexString(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		const digits = "0123456789abcdef"
		sb.WriteByte(digits[c>>4])
		sb.WriteByte(digits[c&0xf])
	}
	return sb.String()
}

// TestSchedulerUDPRetry: a UDP check on the Scheduler keeps keepalived's
// timing (here retry 1: down at the second failure in a row, the retry
// delay_before_retry after the first; up at the first pass). The server
// answers "ok" or, while failing, "no"; the check requires "ok". Time is a
// fake clock, the datagrams real.
func TestSchedulerUDPRetry(t *testing.T) {
	var failing atomic.Bool
	target := udpServer(t, func([]byte) []byte {
		if failing.Load() {
			return []byte("no")
		}
		return []byte("ok")
	})
	rec := newRecorder()
	clk := &fakeClock{now: t0, read: t0}
	s := startScheduler(t, Options{Clock: clk, OnTransition: rec.on})
	tm := Timing{DelayLoop: 200 * time.Millisecond, ConnectTimeout: okTimeout, Retry: 1, DelayBeforeRetry: 20 * time.Millisecond}
	spec := Spec{Type: TypeUDP, Target: target, RequireReply: true, Reply: []byte("ok")}
	if err := s.Add("u", spec, tm); err != nil {
		t.Fatal(err)
	}
	if tr := rec.next(t, hangAfter); !tr.Up || !tr.Initial {
		t.Fatalf("initial transition = %+v, want up", tr)
	}
	key := Key(spec, tm)
	var checks uint64 = 1
	ranAt := []time.Duration{waitChecks(t, s, key, checks).LastAt.Sub(t0)}
	runNext := func() {
		t.Helper()
		st, _ := statusOf(s, key)
		clk.Advance(st.Next.Sub(clk.Now()))
		checks++
		ranAt = append(ranAt, waitChecks(t, s, key, checks).LastAt.Sub(t0))
	}
	failing.Store(true)
	runNext()
	runNext()
	tr := rec.next(t, hangAfter)
	if tr.Up || tr.Result.Reason != "UDP reply byte 0 is 0x6e, want 0x6f" || !tr.At.Equal(t0.Add(220*time.Millisecond)) {
		t.Fatalf("down transition = %+v, want down at the second failure (220ms)", tr)
	}
	failing.Store(false)
	runNext()
	if tr := rec.next(t, hangAfter); !tr.Up || !tr.At.Equal(t0.Add(420*time.Millisecond)) {
		t.Errorf("up transition = %+v, want up at the first pass (420ms)", tr)
	}
	ms := time.Millisecond
	if want := []time.Duration{0, 200 * ms, 220 * ms, 420 * ms}; !slices.Equal(ranAt, want) {
		t.Errorf("checks ran at %v, want %v", ranAt, want)
	}
}
