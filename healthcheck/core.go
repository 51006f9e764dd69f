package healthcheck

import (
	"container/heap"
	"context"
	"crypto/sha256"
	"log/slog"
	"net/netip"
	"slices"
	"time"
)

// ID is a subscriber's name for one subscription, chosen by the caller
// (the director uses one per virtual service, real server and check).
type ID string

// Transition reports a check's state to its subscribers: once per
// subscription when it is added (Initial), then on every change of Up or of
// the dynamic weight. A check that starts down (alpha) also reports its
// first failure before any other report: down, confirmed by a check.
type Transition struct {
	// IDs are the subscriptions fed by this check, sorted.
	IDs []ID
	// Key is the check's dedup key; Type and Target describe it.
	Key    string
	Type   CheckType
	Target netip.AddrPort
	// Up is the state now.
	Up bool
	// Initial marks the first event of a new subscription: the current
	// state, which may come from checks run for earlier subscribers.
	Initial bool
	// Pending marks an Initial event of a check that has reported nothing
	// yet: Up is only its starting state (down with alpha), no check's
	// verdict.
	Pending bool
	// Weight is the last weight set by a dynamic script (nil: none yet).
	Weight *int
	// Result is the result that caused the change (zero in an Initial
	// event before any check ran).
	Result Result
	// At is when the result was taken (or when the subscription was added).
	At time.Time
}

// runner is one deduplicated check and its schedule.
type runner struct {
	// key is the hash of the check's Key (the Key itself, some 170 bytes
	// a check, is made again when asked for: Key).
	key     keyHash
	spec    Spec
	conns   int // connections one attempt makes (connections(spec))
	timing  Timing
	checker Checker
	// subs are the subscriptions, sorted: most checks have one, and a map
	// per check cost 10,000 maps at 1,000 x 10.
	subs []ID

	health Health
	weight *int
	last   Result
	lastAt time.Time
	since  time.Time // last change of Up (or the start)
	checks uint64
	fails  uint64
	// reported: a check's result has been reported (a transition from
	// complete); until then an Initial event is Pending.
	reported bool

	next     time.Time
	due      time.Time // when the attempt in flight was due
	index    int       // in the heap; -1 when not
	inflight bool
	removed  bool
	cancel   context.CancelFunc // of the attempt in flight
}

// keyHash identifies a check by the SHA-256 of its Key, cut to 128 bits.
type keyHash [16]byte

func hashKey(key string) keyHash {
	sum := sha256.Sum256([]byte(key))
	return keyHash(sum[:16])
}

// Key is the check's Key.
func (r *runner) Key() string { return Key(r.spec, r.timing) }

// LogValue makes a runner log as its Key, computed only when logged.
func (r *runner) LogValue() slog.Value { return slog.StringValue(r.Key()) }

func (r *runner) ids() []ID {
	return slices.Clone(r.subs)
}

func (r *runner) transition(initial bool, at time.Time) Transition {
	return Transition{
		IDs: r.ids(), Key: r.Key(), Type: r.spec.Type, Target: r.spec.Target,
		Up: r.health.Up, Initial: initial, Pending: initial && !r.reported, Weight: r.weight, Result: r.last, At: at,
	}
}

// A runner is ordered by its next check time.
func (r *runner) heapTime() time.Time { return r.next }
func (r *runner) setHeapIndex(i int)  { r.index = i }

// table is the scheduler's pure core: subscriptions, deduplicated runners,
// their health and their schedule. It takes the time as an argument and
// never blocks; the Scheduler drives it under its lock.
type table struct {
	runners map[keyHash]*runner
	subs    map[ID]*runner
	heap    timeHeap[*runner]
	// jitter returns a random duration in [0, max) for the warmup.
	jitter func(max time.Duration) time.Duration
}

func newTable(jitter func(time.Duration) time.Duration) *table {
	return &table{runners: map[keyHash]*runner{}, subs: map[ID]*runner{}, jitter: jitter}
}

// add subscribes id to the check (spec, timing), creating its runner with
// newChecker if no identical check exists. Re-adding an id with the same
// key is a no-op (ok false); with another key it moves the subscription.
// It returns the Initial transition for id and the runner removed by a
// move, if any (its attempt must be cancelled).
func (t *table) add(id ID, spec Spec, timing Timing, now time.Time, newChecker func(Spec) (Checker, error)) (tr Transition, ok bool, err error) {
	key := hashKey(Key(spec, timing))
	if old, exists := t.subs[id]; exists {
		if old.key == key {
			return Transition{}, false, nil
		}
		t.remove(id)
	}
	r := t.runners[key]
	if r == nil {
		c, err := newChecker(spec)
		if err != nil {
			return Transition{}, false, err
		}
		r = &runner{
			key: key, spec: spec, conns: connections(spec), timing: timing, checker: c,
			health: InitialHealth(timing), since: now, index: -1,
		}
		r.next = now
		if timing.Warmup > 0 {
			r.next = now.Add(t.jitter(timing.Warmup))
		}
		t.runners[key] = r
		heap.Push(&t.heap, r)
	}
	if i, found := slices.BinarySearch(r.subs, id); !found {
		r.subs = slices.Insert(r.subs, i, id)
	}
	t.subs[id] = r
	tr = r.transition(true, now)
	tr.IDs = []ID{id}
	return tr, true, nil
}

// remove drops a subscription; when it was the runner's last, the runner
// is stopped and returned (so its attempt in flight can be cancelled).
func (t *table) remove(id ID) (stopped *runner, ok bool) {
	r, exists := t.subs[id]
	if !exists {
		return nil, false
	}
	delete(t.subs, id)
	if i, found := slices.BinarySearch(r.subs, id); found {
		r.subs = slices.Delete(r.subs, i, i+1)
	}
	if len(r.subs) > 0 {
		return nil, true
	}
	delete(t.runners, r.key)
	if r.index >= 0 {
		heap.Remove(&t.heap, r.index)
	}
	r.removed = true
	return r, true
}

// due pops the runners whose time has come and marks them in flight; they
// are not rescheduled until complete.
func (t *table) due(now time.Time) []*runner { return t.dueWithin(now, 0) }

// dueWithin is due, also taking the checks due within slack after now,
// each at most a twentieth of its delay early (so a short delay_loop is
// not cut short): checks started together cost the loop and the reactor
// one wake-up for the batch instead of one each.
func (t *table) dueWithin(now time.Time, slack time.Duration) []*runner {
	var out []*runner
	for len(t.heap) > 0 && !t.heap[0].next.After(now.Add(min(slack, t.heap[0].timing.earliness()))) {
		r := heap.Pop(&t.heap).(*runner)
		r.inflight = true
		r.due = r.next
		out = append(out, r)
	}
	return out
}

// nextAt is the earliest scheduled check, if any.
func (t *table) nextAt() (time.Time, bool) {
	if len(t.heap) == 0 {
		return time.Time{}, false
	}
	return t.heap[0].next, true
}

// complete records an attempt's result at now, advances the runner's
// health, reschedules it, and returns the transition to report, if any.
//
// The next check is due the step's delay (delay_loop or
// delay_before_retry) after this one was due, so that a check runs every
// delay_loop without drifting by its own duration; when the attempt took
// longer than the delay, the delay counts from its end instead (as
// keepalived does), so a slow server is never checked back to back.
func (t *table) complete(r *runner, res Result, now time.Time) (Transition, bool) {
	r.inflight = false
	r.cancel = nil
	if r.removed {
		return Transition{}, false
	}
	r.checks++
	if !res.OK {
		r.fails++
	}
	r.last, r.lastAt = res, now
	next, changed, delay := r.health.Step(r.timing, res.OK)
	r.health = next
	weightChanged := false
	if res.OK && res.Weight != nil && (r.weight == nil || *r.weight != *res.Weight) {
		w := *res.Weight
		r.weight = &w
		weightChanged = true
	}
	r.next = r.due.Add(delay)
	if !r.next.After(now) {
		r.next = now.Add(delay)
	}
	heap.Push(&t.heap, r)
	if changed {
		r.since = now
	}
	// A check that started down (alpha) and has reported nothing yet
	// reports its failure: down is then a check's verdict, not its start.
	confirmed := !r.reported && !res.OK && !next.Up
	if !changed && !weightChanged && !confirmed {
		return Transition{}, false
	}
	r.reported = true
	return r.transition(false, now), true
}

func sortStatus(st []Status) {
	slices.SortFunc(st, func(a, b Status) int {
		switch {
		case a.Key < b.Key:
			return -1
		case a.Key > b.Key:
			return 1
		}
		return 0
	})
}
