package bfd

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// wire is an in-memory network between fake conns: it delivers each sent
// datagram to the conn of its destination unless the sender is cut off.
type wire struct {
	mu   sync.Mutex
	ends map[netip.Addr]*fakeConn
	cut  map[netip.Addr]bool
	ttl  int
}

type fakeConn struct {
	w      *wire
	addr   netip.Addr
	in     chan Datagram
	closed chan struct{}
	once   sync.Once
}

func newWire() *wire {
	return &wire{ends: map[netip.Addr]*fakeConn{}, cut: map[netip.Addr]bool{}, ttl: TTL}
}

func (w *wire) conn(a string) *fakeConn {
	c := &fakeConn{w: w, addr: netip.MustParseAddr(a), in: make(chan Datagram, 64), closed: make(chan struct{})}
	w.mu.Lock()
	w.ends[c.addr] = c
	w.mu.Unlock()
	return c
}

func (w *wire) setCut(a netip.Addr, cut bool) {
	w.mu.Lock()
	w.cut[a] = cut
	w.mu.Unlock()
}

func (c *fakeConn) Read(buf []byte) (Datagram, error) {
	select {
	case d := <-c.in:
		return Datagram{Payload: buf[:copy(buf, d.Payload)], Src: d.Src, Dst: d.Dst, TTL: d.TTL}, nil
	case <-c.closed:
		return Datagram{}, context.Canceled
	}
}

func (c *fakeConn) Send(b []byte, local, dst netip.Addr) error {
	c.w.mu.Lock()
	to, cut, ttl := c.w.ends[dst], c.w.cut[c.addr] || c.w.cut[dst], c.w.ttl
	c.w.mu.Unlock()
	if to == nil || cut {
		return nil
	}
	select {
	case to.in <- Datagram{Payload: append([]byte(nil), b...), Src: c.addr, Dst: dst, TTL: ttl}:
	default:
	}
	return nil
}

func (c *fakeConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

// changes collects a watcher's changes.
type changes struct{ ch chan Change }

func newChanges() *changes     { return &changes{ch: make(chan Change, 64)} }
func (c *changes) fn(x Change) { c.ch <- x }
func (c *changes) wait(t *testing.T, to State, within time.Duration) Change {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case x := <-c.ch:
			if x.To == to {
				return x
			}
		case <-deadline:
			t.Fatalf("no change to %s within %v", to, within)
		}
	}
}

func startRunner(t *testing.T, c Conn, opts RunnerOptions) *Runner {
	t.Helper()
	r := NewRunner(c, opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return r
}

// TestRunnerDetectsSilence: two runners bring a session Up; when one goes
// silent the other declares it Down by detection expiry within the
// detection time (3 x 50ms here, plus slack), and both come back Up once
// it talks again.
func TestRunnerDetectsSilence(t *testing.T) {
	w := newWire()
	a, b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	tm := Timing{Interval: 50 * time.Millisecond, DetectMult: 3}
	ra := startRunner(t, w.conn("10.0.0.1"), RunnerOptions{})
	rb := startRunner(t, w.conn("10.0.0.2"), RunnerOptions{})
	ca, cb := newChanges(), newChanges()
	ra.Watch(a, b, tm, ca.fn)
	rb.Watch(b, a, tm, cb.fn)
	ca.wait(t, StateUp, 10*time.Second)
	cb.wait(t, StateUp, 10*time.Second)
	// Let the Poll Sequences end so the 50ms interval is in force.
	time.Sleep(300 * time.Millisecond)
	if s := rb.Sessions(); len(s) != 1 || s[0].DetectionTime != 150*time.Millisecond || s[0].State != StateUp {
		t.Fatalf("sessions %+v, want one Up with detection time 150ms", s)
	}
	cut := time.Now()
	w.setCut(a, true)
	x := cb.wait(t, StateDown, 5*time.Second)
	if took := x.At.Sub(cut); x.Diag != DiagDetectExpired || took > 150*time.Millisecond+time.Second {
		t.Fatalf("down after %v with diag %s, want detection expiry within ~150ms", took, x.Diag)
	}
	t.Logf("down %v after the cut", x.At.Sub(cut))
	w.setCut(a, false)
	cb.wait(t, StateUp, 10*time.Second)
	if s := rb.Sessions()[0]; s.Ups != 2 || s.Downs != 1 {
		t.Errorf("ups %d downs %d, want 2 and 1", s.Ups, s.Downs)
	}
}

// TestRunnerPassive: a runner with a passive timing answers a session a
// peer starts; one without drops the peer's packets as unknown.
func TestRunnerPassive(t *testing.T) {
	for _, c := range []struct {
		name    string
		passive Timing
		up      bool
	}{
		{"passive", Timing{Interval: 50 * time.Millisecond, DetectMult: 3}, true},
		{"refusing", Timing{}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newWire()
			a, b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
			ra := startRunner(t, w.conn("10.0.0.1"), RunnerOptions{})
			rb := startRunner(t, w.conn("10.0.0.2"), RunnerOptions{Passive: c.passive})
			ca := newChanges()
			ra.Watch(a, b, Timing{Interval: 50 * time.Millisecond, DetectMult: 3}, ca.fn)
			if c.up {
				ca.wait(t, StateUp, 10*time.Second)
				s := rb.Sessions()
				if len(s) != 1 || !s[0].Passive || s[0].Peer != a || s[0].Local != b {
					t.Fatalf("b's sessions %+v", s)
				}
				return
			}
			time.Sleep(1500 * time.Millisecond)
			if s := rb.Sessions(); len(s) != 0 || rb.Drops()[DropUnknownSrc] == 0 {
				t.Fatalf("b has sessions %+v, drops %v", s, rb.Drops())
			}
		})
	}
}

// TestRunnerDrops: packets with a TTL other than 255, malformed ones and
// ones for no session are counted by reason and change nothing.
func TestRunnerDrops(t *testing.T) {
	r := NewRunner(nil, RunnerOptions{})
	a := netip.MustParseAddr("10.0.0.1")
	good := Packet{State: StateDown, DetectMult: 3, MyDiscr: 5, DesiredMinTx: time.Second, RequiredMinRx: time.Second}
	for _, c := range []struct {
		name string
		d    Datagram
		want DropReason
	}{
		{"ttl 254", Datagram{Payload: good.Append(nil), Src: a, TTL: 254}, DropTTL},
		{"ttl unknown", Datagram{Payload: good.Append(nil), Src: a, TTL: -1}, DropTTL},
		{"short", Datagram{Payload: []byte{0x20}, Src: a, TTL: 255}, DropShort},
		{"unknown source", Datagram{Payload: good.Append(nil), Src: a, TTL: 255}, DropUnknownSrc},
		{"unknown discriminator", Datagram{Payload: func() []byte { p := good; p.YourDiscr = 9; return p.Append(nil) }(), Src: a, TTL: 255}, DropNoSession},
	} {
		r.receive(c.d, time.Now())
		if r.drops[c.want] != 1 {
			t.Errorf("%s: drops %v, want one %s", c.name, r.drops, c.want)
		}
		clear(r.drops)
	}
	if len(r.peers) != 0 {
		t.Errorf("sessions made: %v", r.peers)
	}
}

// TestRunnerPassiveBound: peers can start at most maxPassive sessions;
// the rest are dropped and counted.
func TestRunnerPassiveBound(t *testing.T) {
	r := NewRunner(nil, RunnerOptions{Passive: Timing{Interval: time.Second, DetectMult: 3}})
	p := Packet{State: StateDown, DetectMult: 3, MyDiscr: 5, DesiredMinTx: time.Second, RequiredMinRx: time.Second}
	for i := range maxPassive + 10 {
		src := netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})
		r.receive(Datagram{Payload: p.Append(nil), Src: src, Dst: netip.MustParseAddr("10.0.0.1"), TTL: 255}, time.Now())
	}
	if len(r.peers) != maxPassive || r.drops[DropTooMany] != 10 {
		t.Fatalf("%d sessions, drops %v; want %d and 10 too_many", len(r.peers), r.drops, maxPassive)
	}
}

// TestRunnerStopSignalsAdminDown: a runner that stops tells its peers
// AdminDown; their session goes Down with diag 3, not 1 (not a failure).
func TestRunnerStopSignalsAdminDown(t *testing.T) {
	w := newWire()
	a, b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	tm := Timing{Interval: 50 * time.Millisecond, DetectMult: 3}
	ra := NewRunner(w.conn("10.0.0.1"), RunnerOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); ra.Run(ctx) }()
	rb := startRunner(t, w.conn("10.0.0.2"), RunnerOptions{})
	cb := newChanges()
	ra.Watch(a, b, tm, func(Change) {})
	rb.Watch(b, a, tm, cb.fn)
	cb.wait(t, StateUp, 10*time.Second)
	cancel()
	<-done
	if x := cb.wait(t, StateDown, 5*time.Second); x.Diag != DiagNeighborDown {
		t.Fatalf("diag %s, want neighbor signaled session down", x.Diag)
	}
}
