package bfd

import (
	"context"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// Change is a session's state change, as its watchers get it.
type Change struct {
	Local, Peer netip.Addr
	From, To    State
	// Diag says why a session left Up: DiagDetectExpired when the peer went
	// silent (its failure), DiagNeighborDown when it said so itself (it
	// stopped its session or stopped hearing us: RFC 5882 3.2, not a
	// failure of the peer).
	Diag Diag
	At   time.Time
}

// SessionStatus is a snapshot of one session.
type SessionStatus struct {
	Local, Peer             netip.Addr
	State, RemoteState      State
	Diag                    Diag
	LocalDiscr, RemoteDiscr uint32
	// Passive: no watcher asked for it; the peer started it and we answer.
	Passive       bool
	DetectionTime time.Duration // zero until the peer was heard
	TxInterval    time.Duration
	LastChange    time.Time
	Ups, Downs    uint64
	PacketsIn     uint64
	PacketsOut    uint64
	SendErrors    uint64
}

// RunnerOptions configure a Runner.
type RunnerOptions struct {
	Logger *slog.Logger // default slog.Default()
	// Passive, when its Interval is set, makes the runner answer peers it
	// has no session for (a session they start, RFC 5880 6.1's passive
	// role) with that timing. SetPassive changes it.
	Passive Timing
	// Rand returns uniform numbers in [0, 1) for the jitter; default
	// math/rand/v2.
	Rand func() float64
}

// passiveLinger is how long a passive session stays Down without a packet
// before it is forgotten; maxPassive bounds the sessions peers may start
// (a host on the link cannot make the runner grow without bound).
const (
	passiveLinger = 10 * time.Second
	maxPassive    = 256
)

// Runner runs the BFD sessions of a process over one Conn: it sends each
// session's packets on its jittered schedule, feeds received ones to their
// session, runs the detection timers and tells the watchers of every state
// change. Its methods are safe for concurrent use.
type Runner struct {
	conn Conn
	log  *slog.Logger
	rnd  func() float64
	wake chan struct{}

	mu        sync.Mutex
	peers     map[netip.Addr]*entry
	byDiscr   map[uint32]*entry
	lastDiscr uint32
	lastWatch uint64
	passive   Timing
	drops     map[DropReason]uint64
	out       []delivery // changes collected under mu, delivered after
}

type entry struct {
	s           Session
	local, peer netip.Addr
	watchers    map[uint64]func(Change)
	nextTx      time.Time
	lastRx      time.Time
	st          SessionStatus // counters and last change
}

type delivery struct {
	fns []func(Change)
	c   Change
}

// NewRunner returns a runner over conn; nothing is sent before Run.
func NewRunner(conn Conn, opts RunnerOptions) *Runner {
	r := &Runner{
		conn: conn, log: opts.Logger, rnd: opts.Rand, wake: make(chan struct{}, 1),
		peers: map[netip.Addr]*entry{}, byDiscr: map[uint32]*entry{}, passive: opts.Passive,
		drops: map[DropReason]uint64{},
	}
	if r.log == nil {
		r.log = slog.Default()
	}
	if r.rnd == nil {
		r.rnd = rand.Float64
	}
	return r
}

// SetPassive changes the timing of the sessions peers start (zero
// Interval: refuse them).
func (r *Runner) SetPassive(t Timing) {
	r.mu.Lock()
	r.passive = t
	r.mu.Unlock()
}

// Watch asks for a session from local to peer with timing t (the first
// watcher's timing holds while the session lives) and calls fn, from the
// runner's goroutine, on each of its state changes until stop is called.
// fn must not block for long. Several watchers share one session per peer.
func (r *Runner) Watch(local, peer netip.Addr, t Timing, fn func(Change)) (stop func()) {
	r.mu.Lock()
	e := r.peers[peer]
	if e == nil {
		e = r.newEntry(local, peer, t)
	}
	r.lastWatch++
	id := r.lastWatch
	e.watchers[id] = fn
	e.st.Passive = false
	r.mu.Unlock()
	r.poke()
	return func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		delete(e.watchers, id)
		if len(e.watchers) == 0 && r.peers[peer] == e {
			// Nobody asks for it any more: it answers as a passive one
			// would, or goes.
			e.st.Passive = true
			if r.passive.Interval == 0 {
				r.remove(e)
			}
		}
	}
}

// newEntry makes a session in Down to send at once. r.mu must be held.
func (r *Runner) newEntry(local, peer netip.Addr, t Timing) *entry {
	for {
		r.lastDiscr++
		if r.lastDiscr != 0 && r.byDiscr[r.lastDiscr] == nil {
			break
		}
	}
	e := &entry{s: NewSession(t, r.lastDiscr), local: local, peer: peer, watchers: map[uint64]func(Change){}}
	e.st.Local, e.st.Peer = local, peer
	r.peers[peer] = e
	r.byDiscr[r.lastDiscr] = e
	return e
}

func (r *Runner) remove(e *entry) {
	delete(r.peers, e.peer)
	delete(r.byDiscr, e.s.LocalDiscr())
}

func (r *Runner) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Sessions returns a snapshot of every session, by peer address.
func (r *Runner) Sessions() []SessionStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]SessionStatus, 0, len(r.peers))
	for _, e := range r.peers {
		st := e.st
		st.State, st.RemoteState, st.Diag = e.s.State(), e.s.RemoteState(), e.s.Diag()
		st.LocalDiscr, st.RemoteDiscr = e.s.LocalDiscr(), e.s.RemoteDiscr()
		st.DetectionTime, st.TxInterval = e.s.DetectionTime(), e.s.TxInterval()
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b SessionStatus) int { return a.Peer.Compare(b.Peer) })
	return out
}

// Drops returns the count of received packets dropped, by reason.
func (r *Runner) Drops() map[DropReason]uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.drops)
}

// Run runs the sessions until ctx is done, then tells every peer it goes
// AdminDown (a stop is not a failure: RFC 5882 3.2) and closes the Conn.
func (r *Runner) Run(ctx context.Context) error {
	rx := make(chan Datagram, 64)
	done := make(chan struct{})
	go r.read(rx, done)
	defer func() {
		r.stopAll(time.Now())
		r.conn.Close()
		<-done
	}()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		r.mu.Lock()
		next := r.tick(time.Now())
		r.mu.Unlock()
		r.deliver()
		timer.Reset(time.Until(next))
		select {
		case <-ctx.Done():
			return nil
		case d := <-rx:
			r.mu.Lock()
			r.receive(d, time.Now())
			r.mu.Unlock()
			r.deliver()
		case <-r.wake:
		case <-timer.C:
		}
	}
}

func (r *Runner) read(rx chan<- Datagram, done chan<- struct{}) {
	defer close(done)
	for {
		buf := make([]byte, 512)
		d, err := r.conn.Read(buf)
		if err != nil {
			return
		}
		rx <- d
	}
}

func (r *Runner) stopAll(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.peers {
		e.s, _ = e.s.SetAdminDown(true, now)
		r.send(e)
	}
}

// tick expires detection timers, sends what is due and returns when it
// must run again. r.mu must be held.
func (r *Runner) tick(now time.Time) time.Time {
	next := now.Add(time.Second)
	for _, e := range r.peers {
		var out Output
		e.s, out = e.s.Expire(now)
		r.changed(e, out, now)
		if e.st.Passive && e.s.State() == StateDown && now.Sub(e.lastRx) > passiveLinger {
			r.remove(e)
			continue
		}
		if iv := e.s.TxInterval(); iv > 0 {
			if !now.Before(e.nextTx) {
				r.send(e)
				e.nextTx = now.Add(Jitter(iv, e.s.timing.DetectMult, r.rnd()))
			}
			next = earliest(next, e.nextTx)
		}
		if d := e.s.DetectAt(); !d.IsZero() {
			next = earliest(next, d)
		}
	}
	return next
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func (r *Runner) send(e *entry) {
	b := e.s.Packet().Append(nil)
	e.s = e.s.Sent()
	if err := r.conn.Send(b, e.local, e.peer); err != nil {
		e.st.SendErrors++
		r.log.Debug("bfd: send failed", "peer", e.peer, "err", err)
		return
	}
	e.st.PacketsOut++
}

// receive validates a datagram, finds its session (by Your Discriminator,
// else by source address; a new passive one if allowed) and feeds it.
// r.mu must be held.
func (r *Runner) receive(d Datagram, now time.Time) {
	if d.TTL != TTL {
		r.drops[DropTTL]++
		return
	}
	p, err := Decode(d.Payload)
	if err != nil {
		r.drops[err.(*DecodeError).Reason]++
		return
	}
	e := r.lookup(p, d)
	if e == nil {
		return
	}
	var out Output
	e.s, out = e.s.Receive(p, now)
	if out.Dropped != "" {
		r.drops[out.Dropped]++
		return
	}
	e.lastRx = now
	e.st.PacketsIn++
	r.changed(e, out, now)
	if out.SendNow {
		r.send(e)
	}
	if iv := e.s.TxInterval(); iv > 0 {
		if soon := now.Add(Jitter(iv, e.s.timing.DetectMult, r.rnd())); e.nextTx.After(soon) {
			e.nextTx = soon
		}
	}
}

func (r *Runner) lookup(p Packet, d Datagram) *entry {
	if p.YourDiscr != 0 {
		e := r.byDiscr[p.YourDiscr]
		if e == nil || e.peer != d.Src {
			r.drops[DropNoSession]++
			return nil
		}
		return e
	}
	if e := r.peers[d.Src]; e != nil {
		return e
	}
	if r.passive.Interval == 0 || !d.Src.IsValid() {
		r.drops[DropUnknownSrc]++
		return nil
	}
	if r.passiveCount() >= maxPassive {
		r.drops[DropTooMany]++
		return nil
	}
	e := r.newEntry(d.Dst, d.Src, r.passive)
	e.st.Passive = true
	r.log.Info("bfd: answering a session a peer started", "peer", d.Src, "local", d.Dst)
	return e
}

func (r *Runner) passiveCount() int {
	n := 0
	for _, e := range r.peers {
		if e.st.Passive {
			n++
		}
	}
	return n
}

// changed records a state change and queues it for the watchers. r.mu
// must be held.
func (r *Runner) changed(e *entry, out Output, now time.Time) {
	if !out.Changed() {
		return
	}
	e.st.LastChange = now
	switch {
	case out.To == StateUp:
		e.st.Ups++
	case out.From == StateUp:
		e.st.Downs++
	}
	c := Change{Local: e.local, Peer: e.peer, From: out.From, To: out.To, Diag: e.s.Diag(), At: now}
	r.log.Info("bfd: session state changed", "peer", e.peer, "from", out.From, "to", out.To, "diag", c.Diag)
	if len(e.watchers) > 0 {
		r.out = append(r.out, delivery{fns: slices.Collect(maps.Values(e.watchers)), c: c})
	}
}

func (r *Runner) deliver() {
	r.mu.Lock()
	out := r.out
	r.out = nil
	r.mu.Unlock()
	for _, d := range out {
		for _, fn := range d.fns {
			fn(d.c)
		}
	}
}
