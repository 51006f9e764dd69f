package healthcheck

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"sync"
	"time"

	"github.com/lvsd/lb/internal/runas"
)

// Options configure a Scheduler. Every field is optional.
type Options struct {
	// OnTransition receives every Transition, in order, from a single
	// goroutine started by Run. It may call Add and Remove. A slow
	// callback delays later transitions, never the checks.
	OnTransition func(Transition)
	// Logger gets a debug line per failed check; nil discards.
	Logger *slog.Logger
	// Clock defaults to the real clock.
	Clock Clock
	// NewChecker builds checkers; default: the package's checkers.
	NewChecker func(Spec) (Checker, error)
	// Jitter returns a random duration in [0, max) for the warmup;
	// default: uniform.
	Jitter func(max time.Duration) time.Duration
	// NoReactor runs every attempt on its own goroutine through the net
	// package. By default (on Linux, with the package's checkers) plain
	// HTTP and TCP attempts run on epoll loops instead (one per usable
	// CPU, at most 4), which costs less CPU per check; HTTPS, scripts and
	// DNS always use goroutines.
	NoReactor bool
	// Exec runs the script checks (as script_user or the check's user,
	// under enable_script_security); nil: runas's zero policy.
	Exec *runas.Runner
}

// batchSlack is how far ahead the real-clock Scheduler looks for checks to
// start together.
const batchSlack = 50 * time.Millisecond

// reactorShare is the least number of checks of a batch handed to one
// reactor: a batch of thousands (checks without warmup all start at once,
// and stay together) is shared by all of them.
const reactorShare = 2048

// Scheduler runs deduplicated checks on their timing and reports
// transitions. Add and Remove may be called before and during Run.
//
// Each attempt runs with a deadline of ConnectTimeout (times the number
// of URLs), on its own goroutine or as non-blocking sockets on an epoll
// loop, and a check has at most one attempt in flight, so a hung server
// costs its own check one timeout and never delays any other check.
//
// A check runs every DelayLoop counted from when the previous one was due
// (no drift), or from its end when it took longer; after a failure while
// still up, DelayBeforeRetry replaces DelayLoop (see Health.Step).
type Scheduler struct {
	opts       Options
	clock      Clock
	newChecker func(Spec) (Checker, error)
	log        *slog.Logger
	res        *resources // nil with Options.NewChecker: no reactor

	mu      sync.Mutex
	tab     *table
	armed   time.Time // when the loop's timer fires; zero: not armed
	running bool
	events  []Transition
	total   Stats

	// slack starts checks due within it together (each at most a
	// twentieth of its delay early), sparing the loop and the reactors a
	// wake-up per check when thousands are spread over a second. On this
	// kind of load most of a checker's CPU is the kernel's, and a
	// connection that wakes an idle server (and its answer an idle
	// checker) costs far more than one that finds it running: keepalived's
	// checks run in bursts for the same reason.
	slack time.Duration
	// reactorShare: see the constant (tests lower it).
	reactorShare int

	wake    chan struct{} // the loop should look at the table again
	evWake  chan struct{} // events are queued
	pending sync.WaitGroup
}

// Stats are the Scheduler's counters.
type Stats struct {
	// Checks and Failures count completed attempts since NewScheduler.
	Checks, Failures uint64
	// Checks deduplicated (runners), subscriptions, attempts in flight.
	Runners, Subscriptions, InFlight int
}

// Status is one check's state, for status displays.
type Status struct {
	Key    string
	Type   CheckType
	Target netip.AddrPort
	Spec   Spec
	IDs    []ID
	Timing Timing
	Up     bool
	// Fails and Passes in a row.
	Fails, Passes int
	Weight        *int
	// Checks and Failures run so far.
	Checks, Failures uint64
	Last             Result
	LastAt           time.Time
	// Since is when Up last changed (or the check started).
	Since    time.Time
	Next     time.Time
	InFlight bool
}

// NewScheduler returns a Scheduler; call Run to start checking.
func NewScheduler(opts Options) *Scheduler {
	s := &Scheduler{
		opts:       opts,
		clock:      opts.Clock,
		newChecker: opts.NewChecker,
		log:        opts.Logger,
		wake:       make(chan struct{}, 1),
		evWake:     make(chan struct{}, 1),

		reactorShare: reactorShare,
	}
	if opts.Clock == nil {
		s.slack = batchSlack
	}
	if s.clock == nil {
		s.clock = realClock{}
	}
	if s.newChecker == nil {
		res := newResources()
		res.exec = opts.Exec
		s.newChecker = func(sp Spec) (Checker, error) { return newChecker(sp, res) }
		if !opts.NoReactor {
			s.res = res
		}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	jitter := opts.Jitter
	if jitter == nil {
		jitter = func(max time.Duration) time.Duration { return rand.N(max) }
	}
	s.tab = newTable(jitter)
	return s
}

// Add subscribes id to the check (spec, timing). Identical checks (same
// Key) share one runner. An Initial transition for id follows through
// OnTransition. Adding an existing id with the same check is a no-op (its
// state is kept, as on a keepalived reload); with another check it
// replaces the subscription.
func (s *Scheduler) Add(id ID, spec Spec, timing Timing) error {
	if err := timing.Validate(); err != nil {
		return fmt.Errorf("add check %s: %w", id, err)
	}
	if err := spec.Validate(); err != nil {
		return fmt.Errorf("add check %s: %w", id, err)
	}
	s.mu.Lock()
	tr, ok, err := s.tab.add(id, spec, timing, s.clock.Now(), s.newChecker)
	if err != nil {
		s.mu.Unlock()
		return fmt.Errorf("add check %s: %w", id, err)
	}
	if ok {
		s.events = append(s.events, tr)
	}
	s.mu.Unlock()
	if ok {
		poke(s.evWake)
		poke(s.wake)
	}
	return nil
}

// Remove drops a subscription and reports whether it existed. The check
// stops (and an attempt in flight is cancelled) when no subscriber is left.
func (s *Scheduler) Remove(id ID) bool {
	s.mu.Lock()
	r, ok := s.tab.remove(id)
	var cancel context.CancelFunc
	if r != nil {
		cancel = r.cancel
	}
	s.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	return ok
}

// Run checks until ctx is done, then waits for attempts in flight and
// returns nil. It may be called once.
func (s *Scheduler) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.running {
		s.mu.Unlock()
		return errors.New("scheduler: Run called twice")
	}
	s.running = true
	s.mu.Unlock()

	var deliver sync.WaitGroup
	deliver.Add(1)
	go func() { defer deliver.Done(); s.deliver(ctx) }()
	defer deliver.Wait()
	// One epoll loop per CPU the runtime may use (at most 4): each is
	// single-threaded, so several keep up when the CPUs are contended.
	var reactors []*reactor
	if s.res != nil {
		var loops sync.WaitGroup
		defer loops.Wait()
		for range min(runtime.GOMAXPROCS(0), 4) {
			rc, err := newReactor(s.res)
			if err != nil {
				s.log.Warn("health checks fall back to one goroutine per check", "error", err)
				break
			}
			reactors = append(reactors, rc)
			loops.Add(1)
			go func() { defer loops.Done(); rc.run(ctx) }()
		}
	}
	next := 0
	defer s.pending.Wait()

	timer := s.clock.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		s.mu.Lock()
		now := s.clock.Now()
		due := s.tab.dueWithin(now, s.slack)
		// A batch goes to one reactor (one wake-up, not one per reactor),
		// a big one in even shares of at least reactorShare to each.
		var rc *reactor
		share := s.reactorShare
		if len(reactors) > 0 {
			share = max(share, (len(due)+len(reactors)-1)/len(reactors))
		}
		for i, r := range due {
			timeout := s.attemptTimeout(r)
			s.pending.Add(1)
			if len(reactors) > 0 && reactors[0].canRun(r.checker) {
				if rc == nil || i%share == 0 {
					rc = reactors[next%len(reactors)]
					next++
				}
				r.cancel = rc.start(r.checker, timeout, func(res Result) { s.finish(r, res) })
				continue
			}
			actx, cancel := context.WithTimeout(ctx, timeout)
			r.cancel = cancel
			go s.attempt(actx, cancel, r)
		}
		next, ok := s.tab.nextAt()
		wait := time.Hour
		if ok {
			wait = max(next.Sub(now), 0)
			s.armed = next
		} else {
			s.armed = time.Time{}
		}
		s.mu.Unlock()

		timer.Stop()
		drain(timer.C())
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C():
		case <-s.wake:
		}
	}
}

func (s *Scheduler) attemptTimeout(r *runner) time.Duration {
	return r.timing.ConnectTimeout * time.Duration(r.conns)
}

// attempt runs one check on its own goroutine and records its result.
func (s *Scheduler) attempt(ctx context.Context, cancel context.CancelFunc, r *runner) {
	res := r.checker.Check(ctx)
	cancel()
	s.finish(r, res)
}

// finish records an attempt's result.
func (s *Scheduler) finish(r *runner, res Result) {
	defer s.pending.Done()
	if !res.OK {
		s.log.Debug("check failed", "check", r, "kind", res.Kind, "reason", res.Reason)
	}
	s.mu.Lock()
	tr, changed := s.tab.complete(r, res, s.clock.Now())
	if !r.removed {
		s.total.Checks++
		if !res.OK {
			s.total.Failures++
		}
	}
	if changed {
		s.events = append(s.events, tr)
	}
	wake := !r.removed && (s.armed.IsZero() || r.next.Before(s.armed))
	s.mu.Unlock()
	if changed {
		poke(s.evWake)
	}
	if wake {
		poke(s.wake)
	}
}

// deliver hands queued transitions to OnTransition, in order.
func (s *Scheduler) deliver(ctx context.Context) {
	for {
		s.mu.Lock()
		batch := s.events
		s.events = nil
		s.mu.Unlock()
		for _, tr := range batch {
			if s.opts.OnTransition != nil {
				s.opts.OnTransition(tr)
			}
		}
		if len(batch) > 0 {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-s.evWake:
		}
	}
}

// Snapshot returns every check's state, sorted by key.
func (s *Scheduler) Snapshot() []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Status, 0, len(s.tab.runners))
	for _, r := range s.tab.runners {
		st := Status{
			Key: r.Key(), Type: r.spec.Type, Target: r.spec.Target, Spec: r.spec, IDs: r.ids(), Timing: r.timing,
			Up: r.health.Up, Fails: r.health.Fails, Passes: r.health.Passes,
			Checks: r.checks, Failures: r.fails, Last: r.last, LastAt: r.lastAt,
			Since: r.since, InFlight: r.inflight,
		}
		if r.weight != nil {
			w := *r.weight
			st.Weight = &w
		}
		if !r.inflight {
			st.Next = r.next
		}
		out = append(out, st)
	}
	sortStatus(out)
	return out
}

// Stats returns the counters.
func (s *Scheduler) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.total
	st.Runners = len(s.tab.runners)
	st.Subscriptions = len(s.tab.subs)
	st.InFlight = len(s.tab.runners) - len(s.tab.heap)
	return st
}

func poke(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

func drain(c <-chan time.Time) {
	select {
	case <-c:
	default:
	}
}
