package bfd

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 7, 18, 0, 0, 0, time.UTC)

var fast = Timing{Interval: 100 * time.Millisecond, DetectMult: 3}

// sessionIn returns a session brought into state st by packets, as a peer
// would (AdminDown by the administrative switch).
func sessionIn(t *testing.T, st State) Session {
	t.Helper()
	s := NewSession(fast, 11)
	peer := func(ps State) Packet {
		return Packet{State: ps, DetectMult: 3, MyDiscr: 22, YourDiscr: 11, DesiredMinTx: time.Second, RequiredMinRx: time.Second}
	}
	switch st {
	case StateAdminDown:
		s, _ = s.SetAdminDown(true, t0)
	case StateInit:
		s, _ = s.Receive(peer(StateDown), t0)
	case StateUp:
		s, _ = s.Receive(peer(StateDown), t0)
		s, _ = s.Receive(peer(StateUp), t0)
	}
	if s.State() != st {
		t.Fatalf("set-up: session in %s, want %s", s.State(), st)
	}
	return s
}

// TestSessionTransitions is RFC 5880 6.8.6's state table, exhaustively over
// local state x received state.
func TestSessionTransitions(t *testing.T) {
	A, D, I, U := StateAdminDown, StateDown, StateInit, StateUp
	for _, c := range []struct {
		local, rx, want State
		diag            Diag
	}{
		{A, A, A, DiagAdminDown}, {A, D, A, DiagAdminDown}, {A, I, A, DiagAdminDown}, {A, U, A, DiagAdminDown},
		{D, A, D, DiagNone}, {D, D, I, DiagNone}, {D, I, U, DiagNone}, {D, U, D, DiagNone},
		{I, A, D, DiagNeighborDown}, {I, D, I, DiagNone}, {I, I, U, DiagNone}, {I, U, U, DiagNone},
		{U, A, D, DiagNeighborDown}, {U, D, D, DiagNeighborDown}, {U, I, U, DiagNone}, {U, U, U, DiagNone},
	} {
		t.Run(c.local.String()+"+"+c.rx.String(), func(t *testing.T) {
			s := sessionIn(t, c.local)
			p := Packet{State: c.rx, DetectMult: 3, MyDiscr: 22, YourDiscr: 11, DesiredMinTx: 100 * time.Millisecond, RequiredMinRx: 100 * time.Millisecond}
			next, out := s.Receive(p, t0.Add(time.Millisecond))
			if next.State() != c.want || out.From != c.local || out.To != c.want {
				t.Fatalf("state %s, output %+v; want %s", next.State(), out, c.want)
			}
			if next.Diag() != c.diag {
				t.Errorf("diag %s, want %s", next.Diag(), c.diag)
			}
			if c.local == A {
				if out.Dropped != DropSessionAdmn || next != s {
					t.Errorf("AdminDown session changed or did not drop: %+v", out)
				}
				return
			}
			if next.RemoteDiscr() != 22 || next.RemoteState() != c.rx {
				t.Errorf("remote discr %d state %s, want 22 %s", next.RemoteDiscr(), next.RemoteState(), c.rx)
			}
			if got, want := next.DetectAt(), t0.Add(time.Millisecond+300*time.Millisecond); !got.Equal(want) {
				t.Errorf("detect at %v, want %v", got, want)
			}
		})
	}
}

// TestSessionExpire: the detection timer takes Init and Up down (diag 1)
// and makes every state forget the peer; before the time nothing changes.
func TestSessionExpire(t *testing.T) {
	for _, c := range []struct {
		local, want State
	}{
		{StateDown, StateDown}, {StateInit, StateDown}, {StateUp, StateDown}, {StateAdminDown, StateAdminDown},
	} {
		t.Run(c.local.String(), func(t *testing.T) {
			s := sessionIn(t, c.local)
			if c.local == StateDown {
				s, _ = s.Receive(Packet{State: StateUp, DetectMult: 3, MyDiscr: 22, YourDiscr: 11, DesiredMinTx: time.Second, RequiredMinRx: time.Second}, t0)
			}
			detect := s.DetectAt()
			if c.local != StateAdminDown {
				if want := t0.Add(3 * time.Second); !detect.Equal(want) {
					t.Fatalf("detect at %v, want %v (3 x the peer's 1 s)", detect, want)
				}
				early, out := s.Expire(detect.Add(-time.Nanosecond))
				if out.Changed() || early != s {
					t.Fatalf("expired early: %+v", out)
				}
			}
			next, out := s.Expire(detect.Add(time.Millisecond))
			if next.State() != c.want || out.To != c.want {
				t.Fatalf("state %s, want %s", next.State(), c.want)
			}
			if c.local == StateInit || c.local == StateUp {
				if next.Diag() != DiagDetectExpired {
					t.Errorf("diag %s, want detection time expired", next.Diag())
				}
			}
			if next.RemoteDiscr() != 0 || !next.DetectAt().IsZero() {
				t.Errorf("peer not forgotten: discr %d detect %v", next.RemoteDiscr(), next.DetectAt())
			}
			if p := next.Packet(); p.YourDiscr != 0 || (c.local != StateAdminDown && p.DesiredMinTx != SlowTxInterval) {
				t.Errorf("next packet %+v: want your discr 0 and the slow interval", p)
			}
		})
	}
}

// TestSessionPoll: going Up lowers the announced interval from the slow one
// with a Poll Sequence; a peer's F ends it; a peer's P is answered with one
// F at once.
func TestSessionPoll(t *testing.T) {
	s := NewSession(fast, 11)
	if p := s.Packet(); p.DesiredMinTx != time.Second || p.RequiredMinRx != 100*time.Millisecond || p.State != StateDown || p.Poll {
		t.Fatalf("first packet %+v", p)
	}
	if s.TxInterval() != time.Second {
		t.Fatalf("tx interval while down %v", s.TxInterval())
	}
	peer := Packet{State: StateInit, DetectMult: 3, MyDiscr: 22, YourDiscr: 11, DesiredMinTx: time.Second, RequiredMinRx: 100 * time.Millisecond}
	s, _ = s.Receive(peer, t0)
	p := s.Packet()
	if s.State() != StateUp || !p.Poll || p.DesiredMinTx != 100*time.Millisecond {
		t.Fatalf("after Up: state %s packet %+v, want Poll with 100ms", s.State(), p)
	}
	if s.TxInterval() != 100*time.Millisecond {
		t.Errorf("tx interval %v", s.TxInterval())
	}
	if s.DetectionTime() != 3*time.Second {
		t.Errorf("detection time %v: the peer still announces 1 s", s.DetectionTime())
	}
	peer.State, peer.Final, peer.DesiredMinTx = StateUp, true, 100*time.Millisecond
	s, _ = s.Receive(peer, t0)
	if s.Packet().Poll {
		t.Error("F did not end the Poll Sequence")
	}
	if s.DetectionTime() != 300*time.Millisecond {
		t.Errorf("detection time %v, want 3 x 100ms", s.DetectionTime())
	}
	peer.Final, peer.Poll = false, true
	s, out := s.Receive(peer, t0)
	if !out.SendNow || !s.Packet().Final || s.Packet().Poll {
		t.Fatalf("Poll not answered: %+v %+v", out, s.Packet())
	}
	if s = s.Sent(); s.Packet().Final {
		t.Error("F sent twice")
	}
	peer.Poll, peer.RequiredMinRx = false, 0
	if s, _ = s.Receive(peer, t0); s.TxInterval() != 0 {
		t.Errorf("peer asked for no packets, tx interval %v", s.TxInterval())
	}
	peer.RequiredMinRx = 500 * time.Millisecond
	if s, _ = s.Receive(peer, t0); s.TxInterval() != 500*time.Millisecond {
		t.Errorf("tx interval %v, want the peer's 500ms", s.TxInterval())
	}
}

func TestSessionAdminDown(t *testing.T) {
	s := sessionIn(t, StateUp)
	s, out := s.SetAdminDown(true, t0)
	if out.To != StateAdminDown || s.Packet().State != StateAdminDown || s.Packet().Diag != DiagAdminDown {
		t.Fatalf("%+v %+v", out, s.Packet())
	}
	s, out = s.SetAdminDown(false, t0)
	if out.To != StateDown || s.Diag() != DiagNone {
		t.Fatalf("%+v diag %s", out, s.Diag())
	}
}

func TestJitter(t *testing.T) {
	for _, c := range []struct {
		mult   uint8
		r      float64
		lo, hi time.Duration
	}{
		{3, 0, 75 * time.Millisecond, 75 * time.Millisecond},
		{3, 0.999999, 99 * time.Millisecond, 100 * time.Millisecond},
		{1, 0, 75 * time.Millisecond, 75 * time.Millisecond},
		{1, 0.999999, 89 * time.Millisecond, 90 * time.Millisecond},
	} {
		if got := Jitter(100*time.Millisecond, c.mult, c.r); got < c.lo || got > c.hi {
			t.Errorf("Jitter(100ms, %d, %v) = %v, want in [%v, %v]", c.mult, c.r, got, c.lo, c.hi)
		}
	}
}
