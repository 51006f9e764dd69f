package vrrp

import (
	"net/netip"
	"slices"
	"time"
)

// PeerMonitor is the seam of fast peer-failure detection (BFD): lbd gives
// an adapter of its one bfd.Runner, shared by its routers. Instances with
// a bfd section need one (Options.PeerMonitor).
type PeerMonitor interface {
	// Watch runs (or shares) a session from local to peer with cfg's
	// timing and calls fn, from the monitor's goroutine, on each of its
	// changes until stop is called. fn must not block for long.
	Watch(local, peer netip.Addr, cfg BFDConfig, fn func(PeerEvent)) (stop func())
}

// PeerEvent is a change of a peer's session.
type PeerEvent struct {
	Peer  netip.Addr
	State string // the session's new state (BFD: Down, Init, Up, AdminDown)
	Up    bool
	// Failed: the session left Up because the peer went silent (its
	// detection time expired). A peer that says it stops its session, or
	// that it no longer hears us, has not failed (RFC 5882 3.2).
	Failed bool
	At     time.Time
}

// PeerSession is an instance's view of one BFD session, for status.
type PeerSession struct {
	Peer  netip.Addr
	State string // "Down" until the monitor reports
	Since time.Time
	// Failures counts the times the session left Up by the peer's silence.
	Failures uint64
}

// bfdMsg is a peer event for an instance, posted to the loop.
type bfdMsg struct {
	in *instance
	ev PeerEvent
}

// bfdWatch is one peer an instance watches.
type bfdWatch struct {
	stop    func()
	learned bool // the master heard in its adverts, not a unicast peer
}

// startBFD watches the instance's unicast peers (the master's address is
// learned from its adverts, bfdLearn). r.mu must be held.
func (r *Router) startBFD(in *instance) {
	if in.cfg.BFD == nil {
		return
	}
	if r.opts.PeerMonitor == nil {
		r.log.Warn("vrrp: bfd configured but no BFD runs here: VRRP's timers alone detect the master's failure", "instance", in.cfg.Name)
		return
	}
	for _, p := range in.cfg.UnicastPeers {
		r.bfdWatch(in, p, false)
	}
}

func (r *Router) bfdWatch(in *instance, peer netip.Addr, learned bool) {
	if in.bfd == nil {
		in.bfd = map[netip.Addr]*bfdWatch{}
	}
	if _, ok := in.bfd[peer]; ok {
		return
	}
	w := &bfdWatch{learned: learned}
	in.bfd[peer] = w
	in.stats.BFD = append(in.stats.BFD, PeerSession{Peer: peer, State: "Down"})
	slices.SortFunc(in.stats.BFD, func(a, b PeerSession) int { return a.Peer.Compare(b.Peer) })
	w.stop = r.opts.PeerMonitor.Watch(in.src, peer, *in.cfg.BFD, func(ev PeerEvent) {
		r.post(bfdMsg{in, ev})
	})
	r.log.Info("vrrp: BFD session to a peer", "instance", in.cfg.Name, "peer", peer, "learned", learned)
}

// bfdLearn follows the master an instance hears: a session to it, and
// none any more to a master learned before. r.mu must be held.
func (r *Router) bfdLearn(in *instance, src netip.Addr) {
	if in.cfg.BFD == nil || r.opts.PeerMonitor == nil || len(in.cfg.UnicastPeers) > 0 || src == in.src {
		return
	}
	if _, ok := in.bfd[src]; ok {
		return
	}
	for p, w := range in.bfd {
		if w.learned {
			w.stop()
			delete(in.bfd, p)
			in.stats.BFD = slices.DeleteFunc(in.stats.BFD, func(s PeerSession) bool { return s.Peer == p })
		}
	}
	r.bfdWatch(in, src, true)
}

// bfdEvent records a peer's session change and, when the peer failed,
// feeds PeerDown to the machine (which acts only in BACKUP, for its
// master). r.mu must be held.
func (r *Router) bfdEvent(in *instance, ev PeerEvent) {
	if _, ok := in.bfd[ev.Peer]; !ok {
		return // stopped since
	}
	for i := range in.stats.BFD {
		if s := &in.stats.BFD[i]; s.Peer == ev.Peer {
			s.State, s.Since = ev.State, ev.At
			if ev.Failed {
				s.Failures++
			}
		}
	}
	if !ev.Failed || !in.started {
		return
	}
	before, wanted := in.m.State(), in.m.WantMaster()
	r.step(in, PeerDown{Peer: ev.Peer}, ev.At)
	if before == StateBackup && in.m.State() != StateBackup || !wanted && in.m.WantMaster() {
		in.stats.BFDTakeovers++
		r.log.Warn("vrrp: BFD says the master is down, taking over", "instance", in.cfg.Name, "master", ev.Peer)
	}
}

// stopBFD ends every session of the router's instances.
func (r *Router) stopBFD() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, in := range r.insts {
		for p, w := range in.bfd {
			w.stop()
			delete(in.bfd, p)
		}
	}
}
