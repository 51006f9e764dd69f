package director

import (
	"context"
	"time"
)

// Slow start (HAProxy's slowstart): a real server that comes back (its
// checks recover, or the operator lifts a drain or a maintenance) gets its
// weight back in a few steps rather than at once, so a cold server is not
// flooded. Step k of N (k = 1..N) begins at (k-1) x D/(N-1) with the
// weight ceil(weight x k/N) (at least 1): with the default 4 steps and
// 30s, 25% at once, 50% at 10s, 75% at 20s and the full weight at 30s,
// one IPVS write each. The ramp is pure (SlowStart.At); the Manager keeps
// when each ramp began and a timer for the next step.

// DefaultSlowStartSteps is the number of steps of a ramp when not set.
const DefaultSlowStartSteps = 4

// SlowStart configures a real server's ramp; the zero value is none.
type SlowStart struct {
	Duration time.Duration
	// Steps is the number of weights of the ramp, the full one included
	// (0: DefaultSlowStartSteps; 1: no ramp).
	Steps int
}

// RampStep is a step of a ramp: Step of Steps.
type RampStep struct{ Step, Steps int }

// steps is the number of steps, the default applied.
func (s SlowStart) steps() int {
	if s.Steps == 0 {
		return DefaultSlowStartSteps
	}
	return s.Steps
}

// Enabled reports whether s ramps at all.
func (s SlowStart) Enabled() bool { return s.Duration > 0 && s.steps() > 1 }

// At returns the step of the ramp elapsed after its start and when
// (elapsed since the start) the next step begins; done is true once the
// full weight is reached (then step and next are zero).
func (s SlowStart) At(elapsed time.Duration) (step RampStep, next time.Duration, done bool) {
	n := s.steps()
	if !s.Enabled() {
		return RampStep{}, 0, true
	}
	elapsed = max(elapsed, 0)
	k := int(int64(elapsed)*int64(n-1)/int64(s.Duration)) + 1
	if k >= n {
		return RampStep{}, 0, true
	}
	next = time.Duration(int64(s.Duration) * int64(k) / int64(n-1))
	return RampStep{Step: k, Steps: n}, next, false
}

// Weight is w at this step: ceil(w x Step/Steps), at least 1 (0 stays 0).
func (r RampStep) Weight(w uint32) uint32 {
	if w == 0 || r.Steps <= 0 || r.Step >= r.Steps {
		return w
	}
	x := (uint64(w)*uint64(r.Step) + uint64(r.Steps) - 1) / uint64(r.Steps)
	return uint32(max(x, 1))
}

// startRamp begins id's slow start at now, if its spec has one. m.mu is
// held.
func (m *Manager) startRamp(id RealServerID, now time.Time) {
	if ss := m.slowStartOf(id); ss.Enabled() {
		m.ramps[id] = now
	}
}

// slowStartOf is id's slow start (zero when none or unknown). m.mu is held.
func (m *Manager) slowStartOf(id RealServerID) SlowStart {
	for _, s := range m.specs {
		if s.Service.Key() != id.Service {
			continue
		}
		for _, rs := range s.RealServers {
			if realServerID(s.Service, rs.Dest) == id {
				return rs.SlowStart
			}
		}
	}
	return SlowStart{}
}

// rampOf is the step of rs's ramp now, nil when it does not ramp. m.mu is
// held.
func (m *Manager) rampOf(id RealServerID, rs *RealServerSpec, now time.Time) *RampStep {
	start, ok := m.ramps[id]
	if !ok {
		return nil
	}
	step, _, done := rs.SlowStart.At(now.Sub(start))
	if done {
		return nil
	}
	return &step
}

// pruneRamps forgets the ramps that are over and returns when the next
// step of the others begins (zero: none). m.mu is held.
func (m *Manager) pruneRamps(now time.Time) time.Time {
	var next time.Time
	for id, start := range m.ramps {
		_, at, done := m.slowStartOf(id).At(now.Sub(start))
		if done {
			delete(m.ramps, id)
			continue
		}
		if t := start.Add(at); next.IsZero() || t.Before(next) {
			next = t
		}
	}
	return next
}

// scheduleRamp arms the timer for the next step of a ramp (outside the
// lock).
func (m *Manager) scheduleRamp() {
	m.mu.Lock()
	defer m.mu.Unlock()
	next := m.pruneRamps(m.now())
	if h := m.nextHoldEnd(); !h.IsZero() && (next.IsZero() || h.Before(next)) {
		next = h // quorumhold.go: the table follows the health again
	}
	if m.timer != nil {
		m.timer.Stop()
		m.timer = nil
	}
	if next.IsZero() || m.stopped {
		return
	}
	m.timer = m.afterFunc(max(next.Sub(m.now()), time.Millisecond), func() { m.Tick(context.Background()) })
}

// Tick moves the ramps to the step of now and applies the result (the
// timer calls it; tests call it with their clock).
func (m *Manager) Tick(ctx context.Context) (Result, error) {
	m.mu.Lock()
	if !m.built {
		m.mu.Unlock()
		return Result{Kind: "apply"}, nil
	}
	quorum := m.rebuild()
	m.mu.Unlock()
	m.quorumChanged(quorum)
	m.scheduleRamp()
	res, err := m.rec.ApplyLatest(ctx, m.latest)
	if err != nil {
		m.log.Warn("slow start step not applied", "err", err)
	}
	return res, err
}

// Stop stops the slow-start timer (the daemon closes IPVS after it).
func (m *Manager) Stop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stopped = true
	if m.timer != nil {
		m.timer.Stop()
		m.timer = nil
	}
}
