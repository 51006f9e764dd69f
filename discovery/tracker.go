package discovery

import (
	"fmt"
	"time"
)

// DefaultHoldShare is the share of a pool a single update may remove
// before it is held: more than half is held.
const DefaultHoldShare = 0.5

// Policy is a pool's hold rule.
type Policy struct {
	// HoldShare: an update that removes more than this share of the pool
	// is held until confirmed. 0 means DefaultHoldShare; 1 never holds.
	HoldShare float64
	// Static is the number of the pool's static members: they count in
	// the pool's size (they are never removed by discovery).
	Static int
}

// Validate refuses a share outside [0, 1] and a negative static count.
func (p Policy) Validate() error {
	if !(p.HoldShare >= 0 && p.HoldShare <= 1) {
		return fmt.Errorf("hold share %v: want a number from 0 to 1", p.HoldShare)
	}
	if p.Static < 0 {
		return fmt.Errorf("static members %d: want 0 or more", p.Static)
	}
	return nil
}

func (p Policy) share() float64 {
	if p.HoldShare == 0 {
		return DefaultHoldShare
	}
	return p.HoldShare
}

// Tracker is one pool's discovery state: the members last applied, an
// update held by the hold rule, and whether the registry is stale. It is
// pure (time is given) and not safe for concurrent use.
type Tracker struct {
	policy     Policy
	applied    Set
	held       Set
	holding    bool
	heldSince  time.Time
	stale      bool
	staleSince time.Time
}

// NewTracker returns a tracker with nothing applied (the first update is
// never held: it removes nothing).
func NewTracker(p Policy) (*Tracker, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &Tracker{policy: p}, nil
}

// Result is what an update does: Apply is the change to make now (empty
// when nothing changes or the update is held).
type Result struct {
	Apply Change
	Held  bool // the update removes too much: kept until Confirm
}

// Update offers the registry's current list. Within the hold rule it
// becomes the applied set and its diff is returned; beyond it, it is held
// (replacing an older held update) and nothing changes. An update within
// the rule drops any held one.
func (t *Tracker) Update(now time.Time, next Set) Result {
	c := Diff(t.applied, next)
	if t.exceeds(len(c.Removed)) {
		if !t.holding {
			t.heldSince = now
		}
		t.held, t.holding = next, true
		return Result{Held: true}
	}
	t.applied, t.held, t.holding = next, nil, false
	return Result{Apply: c}
}

// exceeds reports whether removing n members breaks the hold rule.
func (t *Tracker) exceeds(n int) bool {
	pool := len(t.applied) + t.policy.Static
	return n > 0 && float64(n) > t.policy.share()*float64(pool)
}

// Confirm applies the held update (health checks or an operator agreed)
// and returns its change; ok is false when nothing is held.
func (t *Tracker) Confirm() (c Change, ok bool) {
	if !t.holding {
		return Change{}, false
	}
	c = Diff(t.applied, t.held)
	t.applied, t.held, t.holding = t.held, nil, false
	return c, true
}

// Lost records that the registry is unreachable or the session is gone:
// the applied members stay; the state is stale from the first loss.
func (t *Tracker) Lost(now time.Time) {
	if !t.stale {
		t.stale, t.staleSince = true, now
	}
}

// Fresh records a complete re-list after a loss (its Update done).
func (t *Tracker) Fresh() { t.stale, t.staleSince = false, time.Time{} }

// Status is a tracker's state for status and metrics.
type Status struct {
	Applied    Set
	Held       Set // the held update's members, when Holding
	Holding    bool
	HeldSince  time.Time
	Stale      bool
	StaleSince time.Time
}

// Status returns the state (the sets are shared: do not modify them).
func (t *Tracker) Status() Status {
	return Status{Applied: t.applied, Held: t.held, Holding: t.holding, HeldSince: t.heldSince,
		Stale: t.stale, StaleSince: t.staleSince}
}
