package bfd

import "time"

// SlowTxInterval is the least Desired Min TX Interval a session announces
// while it is not Up (RFC 5880 6.8.3).
const SlowTxInterval = time.Second

// Timing is a session's configuration: what it asks of its peer.
type Timing struct {
	// Interval is both the Desired Min TX Interval announced once Up and
	// the Required Min RX Interval.
	Interval time.Duration
	// DetectMult is the Detect Mult announced: the peer declares the
	// session down after this many of our intervals without a packet.
	DetectMult uint8
}

// Session is one BFD session's state machine (RFC 5880 6.2, 6.8). It is a
// value: its methods take the time as an input and return the next
// session and what the caller must do; it never sends nor sleeps.
type Session struct {
	timing      Timing
	state       State
	diag        Diag
	localDiscr  uint32
	remoteDiscr uint32
	remoteState State
	// Values the peer last announced.
	remoteMinRx     time.Duration // bfd.RemoteMinRxInterval
	remoteDesiredTx time.Duration
	remoteMult      uint8
	txDesired       time.Duration // the Desired Min TX Interval we announce now
	poll            bool          // a Poll Sequence is running: send P until an F comes
	final           bool          // the next packet answers a Poll with F
	detectAt        time.Time     // zero: no detection timer
}

// Output says what a step did.
type Output struct {
	From, To State // equal when the state did not change
	// SendNow asks for a packet at once, outside the periodic schedule
	// (the answer with F to a Poll, RFC 5880 6.8.7).
	SendNow bool
	// Dropped is set when the packet was discarded (an AdminDown session
	// discards everything).
	Dropped DropReason
}

// Changed reports whether the state changed.
func (o Output) Changed() bool { return o.From != o.To }

// NewSession returns a session in Down with the local discriminator discr
// (non-zero, unique among the caller's sessions).
func NewSession(t Timing, discr uint32) Session {
	return Session{
		timing: t, state: StateDown, localDiscr: discr, remoteState: StateDown,
		remoteMinRx: time.Microsecond, txDesired: max(t.Interval, SlowTxInterval),
	}
}

// State returns the session state.
func (s Session) State() State { return s.state }

// RemoteState returns the state the peer last announced.
func (s Session) RemoteState() State { return s.remoteState }

// Diag returns the local diagnostic: why the session last went down.
func (s Session) Diag() Diag { return s.diag }

// LocalDiscr returns the local discriminator.
func (s Session) LocalDiscr() uint32 { return s.localDiscr }

// RemoteDiscr returns the peer's discriminator (zero until heard, and
// again after a detection time without packets).
func (s Session) RemoteDiscr() uint32 { return s.remoteDiscr }

// DetectAt returns when the session goes down without a packet (zero: no
// detection timer runs).
func (s Session) DetectAt() time.Time { return s.detectAt }

// DetectionTime is the peer's Detect Mult times the agreed interval of the
// peer's transmissions: the greater of our Required Min RX Interval and
// the peer's last Desired Min TX Interval (RFC 5880 6.8.4).
func (s Session) DetectionTime() time.Duration {
	return time.Duration(s.remoteMult) * max(s.timing.Interval, s.remoteDesiredTx)
}

// TxInterval is the interval between periodic packets before jitter: the
// greater of our Desired Min TX Interval and the peer's Required Min RX
// Interval. Zero means do not send periodically: the peer asked for no
// packets (Required Min RX Interval 0).
func (s Session) TxInterval() time.Duration {
	if s.remoteMinRx == 0 {
		return 0
	}
	return max(s.txDesired, s.remoteMinRx)
}

// Packet returns the next control packet to send.
func (s Session) Packet() Packet {
	return Packet{
		Diag: s.diag, State: s.state, Poll: s.poll && !s.final, Final: s.final,
		DetectMult: s.timing.DetectMult, MyDiscr: s.localDiscr, YourDiscr: s.remoteDiscr,
		DesiredMinTx: s.txDesired, RequiredMinRx: s.timing.Interval,
	}
}

// Sent records that the packet of Packet went out (an F is sent once).
func (s Session) Sent() Session {
	s.final = false
	return s
}

// Receive processes a packet that passed Decode and was matched to this
// session (RFC 5880 6.8.6).
func (s Session) Receive(p Packet, now time.Time) (Session, Output) {
	out := Output{From: s.state, To: s.state}
	if s.state == StateAdminDown {
		out.Dropped = DropSessionAdmn
		return s, out
	}
	s.remoteDiscr = p.MyDiscr
	s.remoteState = p.State
	s.remoteMinRx = p.RequiredMinRx
	s.remoteDesiredTx = p.DesiredMinTx
	s.remoteMult = p.DetectMult
	if p.Final {
		s.poll = false
	}
	if p.Poll {
		s.final = true
		out.SendNow = true
	}
	s.detectAt = now.Add(s.DetectionTime())
	next := s.state
	switch {
	case p.State == StateAdminDown:
		if s.state != StateDown {
			next, s.diag = StateDown, DiagNeighborDown
		}
	case s.state == StateDown && p.State == StateDown:
		next = StateInit
	case s.state == StateDown && p.State == StateInit:
		next = StateUp
	case s.state == StateInit && (p.State == StateInit || p.State == StateUp):
		next = StateUp
	case s.state == StateUp && p.State == StateDown:
		next, s.diag = StateDown, DiagNeighborDown
	}
	s = s.enter(next)
	out.To = s.state
	return s, out
}

// Expire processes the detection timer at now: a session in Init or Up
// that heard nothing for a detection time goes Down (diag 1); in any state
// the peer's discriminator is forgotten (RFC 5880 6.8.1).
func (s Session) Expire(now time.Time) (Session, Output) {
	out := Output{From: s.state, To: s.state}
	if s.detectAt.IsZero() || now.Before(s.detectAt) || s.state == StateAdminDown {
		return s, out
	}
	s.detectAt = time.Time{}
	s.remoteDiscr = 0
	s.remoteState = StateDown
	s.remoteMinRx = time.Microsecond
	if s.state == StateInit || s.state == StateUp {
		s.diag = DiagDetectExpired
		s = s.enter(StateDown)
	}
	out.To = s.state
	return s, out
}

// SetAdminDown takes the session administratively down (true) or back to
// Down (false).
func (s Session) SetAdminDown(down bool, now time.Time) (Session, Output) {
	out := Output{From: s.state}
	switch {
	case down && s.state != StateAdminDown:
		s.diag = DiagAdminDown
		s = s.enter(StateAdminDown)
		s.detectAt = time.Time{}
	case !down && s.state == StateAdminDown:
		s.diag = DiagNone
		s = s.enter(StateDown)
	}
	out.To = s.state
	return s, out
}

// enter moves to next and sets the announced interval: the configured one
// once Up (a Poll Sequence announces the change, RFC 5880 6.8.3), at least
// SlowTxInterval otherwise.
func (s Session) enter(next State) Session {
	if next == s.state {
		return s
	}
	s.state = next
	want := max(s.timing.Interval, SlowTxInterval)
	if next == StateUp {
		want = s.timing.Interval
	}
	if want != s.txDesired {
		s.txDesired = want
		s.poll = next == StateUp
	}
	if next != StateUp {
		s.poll = false
	}
	return s
}

// Jitter is the interval to the next periodic packet (RFC 5880 6.8.7):
// interval reduced by 0 to 25% (10 to 25% when Detect Mult is 1); r is a
// uniform random number in [0, 1).
func Jitter(interval time.Duration, detectMult uint8, r float64) time.Duration {
	lo, span := 0.75, 0.25
	if detectMult == 1 {
		span = 0.15
	}
	return time.Duration(float64(interval) * (lo + span*r))
}
