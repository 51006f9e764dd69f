package vrrp

import "time"

// Draining a router (lbd's drain-director): every instance's effective
// priority drops to DrainPriority, below any peer's, and a master hands
// its addresses over gracefully: it sends a priority 0 advert (the backup
// takes over after its skew time alone, preempt or not) and pauses its own
// adverts for the handoff wait, keeping the addresses until the new
// master's first advert makes it step down (a higher priority). If no
// router takes over, it resumes advertising at DrainPriority and keeps
// the addresses: a drained router never leaves them unserved. As BACKUP it
// stays there while another router is master, and takes over only when
// none is. Undraining restores the tracked priority; a higher one then
// preempts as usual.

// DrainPriority is the effective priority of a drained router's
// instances: above 0 (it still takes over when no router is master),
// below any other router's.
const DrainPriority = 1

// drainMsg asks the loop to drain or undrain every instance.
type drainMsg struct{ drained bool }

// SetDrained drains (or undrains) the router's instances; before Run it
// sets the state the instances start with. It returns at once (the
// handoff happens in the loop); the state changes arrive through
// OnStateChange.
func (r *Router) SetDrained(drained bool) {
	r.mu.Lock()
	if !r.running.Load() {
		r.drained = drained
		r.mu.Unlock()
		return
	}
	r.mu.Unlock()
	r.post(drainMsg{drained})
}

// Drained reports whether the router is drained.
func (r *Router) Drained() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.drained
}

// setDrained is drainMsg's handling in the loop (r.mu held).
func (r *Router) setDrained(drained bool) {
	if r.drained == drained {
		return
	}
	r.drained = drained
	r.log.Info("vrrp: drain changed", "drained", drained)
	now := time.Now()
	for _, in := range r.insts {
		if !in.started {
			continue
		}
		master := in.m.State() == StateMaster
		r.retrack(in, now)
		if drained && master && in.m.State() == StateMaster {
			// The handoff: the backup takes over after its skew time; our
			// next advert waits for the handoff wait, by which time the
			// new master's advert has made us BACKUP.
			r.execute(in, []Action{SendAdvert{0}, SetTimer{TimerAdvert, r.handoffWait(&in.cfg)}}, now)
		}
	}
}

// drainCap caps a tracked priority while drained. r.mu is held.
func (r *Router) drainCap(prio uint8) uint8 {
	if r.drained && prio > DrainPriority {
		return DrainPriority
	}
	return prio
}
