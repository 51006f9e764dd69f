package healthcheck

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingServer answers /ok with 200, or 500 while failing is set, and
// records when each request came.
type countingServer struct {
	*httptest.Server
	failing atomic.Bool
	mu      sync.Mutex
	times   map[string][]time.Time
}

func newCountingServer(t *testing.T) *countingServer {
	cs := &countingServer{times: map[string][]time.Time{}}
	cs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cs.mu.Lock()
		cs.times[r.URL.Path] = append(cs.times[r.URL.Path], time.Now())
		cs.mu.Unlock()
		if cs.failing.Load() {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, "ok")
	}))
	t.Cleanup(cs.Close)
	return cs
}

func (cs *countingServer) hits(path string) []time.Time {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return append([]time.Time(nil), cs.times[path]...)
}

func (cs *countingServer) target(t *testing.T) netip.AddrPort { return addrPort(t, cs.URL) }

// recorder collects transitions.
type recorder struct {
	mu  sync.Mutex
	trs []Transition
	ch  chan Transition
}

func newRecorder() *recorder { return &recorder{ch: make(chan Transition, 1000)} }

func (r *recorder) on(tr Transition) {
	r.mu.Lock()
	r.trs = append(r.trs, tr)
	r.mu.Unlock()
	r.ch <- tr
}

func (r *recorder) next(t *testing.T, within time.Duration) Transition {
	t.Helper()
	select {
	case tr := <-r.ch:
		return tr
	case <-time.After(within):
		t.Fatalf("no transition within %v", within)
	}
	return Transition{}
}

func startScheduler(t *testing.T, opts Options) *Scheduler {
	t.Helper()
	s := NewScheduler(opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(hangAfter):
			t.Error("Run did not return after cancel")
		}
	})
	return s
}

// hangAfter bounds the wait for something that must happen (a check to
// run once its time has come, a cancelled attempt to close its socket, Run
// to return): past it the event is lost, not late. It is no latency
// expectation, so it is far above any scheduling delay of a busy machine.
const hangAfter = 10 * time.Second

// waitFor polls cond until it holds; the test fails when it has not after
// hangAfter.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(hangAfter); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: still not so after %v", what, hangAfter)
		}
	}
}

// statusOf returns the snapshot of the check with key, if it exists.
func statusOf(s *Scheduler, key string) (Status, bool) {
	for _, st := range s.Snapshot() {
		if st.Key == key {
			return st, true
		}
	}
	return Status{}, false
}

// waitChecks waits until the check with key has completed n attempts and
// is scheduled again (its result recorded, no attempt in flight).
func waitChecks(t *testing.T, s *Scheduler, key string, n uint64) Status {
	t.Helper()
	var st Status
	waitFor(t, fmt.Sprintf("check %s: %d attempts completed", key, n), func() bool {
		var ok bool
		st, ok = statusOf(s, key)
		return ok && st.Checks == n && !st.InFlight && !st.Next.IsZero()
	})
	return st
}

// okTimeout is the connect_timeout of checks that must pass: keepalived's
// default (5 s), what a check gets in production. A loopback answer slower
// than that under load would be a real failure, not a slow test.
const okTimeout = 5 * time.Second

// TestSchedulerDedup: checks with the same key share one runner, which runs
// once per delay_loop whatever the number of subscribers; it stops with its
// last subscriber. Time is a fake clock, the checks are real HTTP requests,
// so the counts are exact.
func TestSchedulerDedup(t *testing.T) {
	cs := newCountingServer(t)
	rec := newRecorder()
	clk := &fakeClock{now: t0, read: t0}
	s := startScheduler(t, Options{Clock: clk, OnTransition: rec.on})
	tm := Timing{DelayLoop: 100 * time.Millisecond, ConnectTimeout: okTimeout, Retry: 1, DelayBeforeRetry: 50 * time.Millisecond}
	shared := Spec{Type: TypeHTTP, Target: cs.target(t), URLs: []URL{{Path: "/shared", Digest: md5hex("ok")}}}
	// Two services with the same real server and check; a third service
	// checks another URL of the same server.
	for _, id := range []ID{"vs1/rs", "vs2/rs"} {
		if err := s.Add(id, shared, tm); err != nil {
			t.Fatal(err)
		}
	}
	other := Spec{Type: TypeHTTP, Target: cs.target(t), URLs: []URL{{Path: "/other"}}}
	if err := s.Add("vs3/rs", other, tm); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if tr := rec.next(t, hangAfter); !tr.Initial || !tr.Up || len(tr.IDs) != 1 {
			t.Errorf("want an initial up transition per subscription, got %+v", tr)
		}
	}
	sharedKey, otherKey := Key(shared, tm), Key(other, tm)
	// The first checks run at once (no warmup), then one per delay_loop.
	const intervals = 10
	for i := range uint64(intervals + 1) {
		if i > 0 {
			clk.Advance(tm.DelayLoop)
		}
		waitChecks(t, s, sharedKey, i+1)
		waitChecks(t, s, otherKey, i+1)
	}
	if n, o := len(cs.hits("/shared")), len(cs.hits("/other")); n != intervals+1 || o != intervals+1 {
		t.Errorf("%d requests for the shared check, %d for the other, over %d delay_loops: want %d each (one per interval, not one per service)",
			n, o, intervals, intervals+1)
	}
	sharedSt, _ := statusOf(s, sharedKey)
	if !reflect.DeepEqual(sharedSt.IDs, []ID{"vs1/rs", "vs2/rs"}) || !sharedSt.Up || sharedSt.Last.Reason != "GET /shared: status 200, digest ok" ||
		!sharedSt.Next.Equal(clk.Now().Add(tm.DelayLoop)) {
		t.Errorf("shared status = %+v", sharedSt)
	}
	if st := s.Stats(); st.Runners != 2 || st.Subscriptions != 3 || st.Checks != 2*(intervals+1) || st.Failures != 0 {
		t.Errorf("Stats = %+v, want 2 runners, 3 subscriptions, %d checks, no failure", st, 2*(intervals+1))
	}

	// Removing one subscriber keeps the check; removing the last stops it.
	if !s.Remove("vs1/rs") {
		t.Fatal("Remove vs1/rs")
	}
	clk.Advance(tm.DelayLoop)
	waitChecks(t, s, sharedKey, intervals+2)
	waitChecks(t, s, otherKey, intervals+2)
	s.Remove("vs2/rs")
	if _, ok := statusOf(s, sharedKey); ok {
		t.Error("the shared check is still listed after its last subscriber left")
	}
	for i := range uint64(3) {
		clk.Advance(tm.DelayLoop)
		waitChecks(t, s, otherKey, intervals+3+i)
	}
	if n := len(cs.hits("/shared")); n != intervals+2 {
		t.Errorf("shared check: %d requests, want %d: it ran after its last subscriber left", n, intervals+2)
	}
	if s.Remove("vs2/rs") {
		t.Error("second Remove should report false")
	}
}

// TestSchedulerRetryAndDelayLoop drives one check through a failure and a
// recovery on a fake clock: retry 2 means three failures delay_before_retry
// apart take it down, then it is checked every delay_loop until it passes.
func TestSchedulerRetryAndDelayLoop(t *testing.T) {
	cs := newCountingServer(t)
	rec := newRecorder()
	clk := &fakeClock{now: t0, read: t0}
	s := startScheduler(t, Options{Clock: clk, OnTransition: rec.on})
	tm := Timing{DelayLoop: 200 * time.Millisecond, ConnectTimeout: okTimeout, Retry: 2, DelayBeforeRetry: 20 * time.Millisecond}
	spec := Spec{Type: TypeHTTP, Target: cs.target(t), URLs: []URL{{Path: "/t"}}}
	for _, id := range []ID{"a", "b"} {
		if err := s.Add(id, spec, tm); err != nil {
			t.Fatal(err)
		}
		rec.next(t, hangAfter)
	}
	key := Key(spec, tm)
	// runNext advances the clock to the check's next time and waits for
	// its attempt; it returns when the attempt ran, from t0.
	var checks uint64 = 1
	ranAt := []time.Duration{waitChecks(t, s, key, checks).LastAt.Sub(t0)}
	runNext := func() {
		t.Helper()
		st, _ := statusOf(s, key)
		clk.Advance(st.Next.Sub(clk.Now()))
		checks++
		ranAt = append(ranAt, waitChecks(t, s, key, checks).LastAt.Sub(t0))
	}
	cs.failing.Store(true)
	for range 5 {
		runNext()
	}
	tr := rec.next(t, hangAfter)
	if tr.Up || tr.Initial || !reflect.DeepEqual(tr.IDs, []ID{"a", "b"}) || tr.Result.Kind != KindStatus ||
		tr.Result.Reason != "GET /t: status 500 not in 200-299" || !tr.At.Equal(t0.Add(240*time.Millisecond)) {
		t.Fatalf("down transition = %+v, want one for a and b at the third failure (240ms)", tr)
	}
	cs.failing.Store(false)
	runNext()
	tr = rec.next(t, hangAfter)
	if !tr.Up || tr.Result.Kind != KindOK || !tr.At.Equal(t0.Add(840*time.Millisecond)) {
		t.Errorf("up transition = %+v, want up at the first pass (840ms)", tr)
	}
	ms := time.Millisecond
	// A pass at 0; failures at 200 (delay_loop), 220 and 240 (retries,
	// delay_before_retry apart: down), 440 and 640 (delay_loop while down);
	// the pass at 840 brings it up.
	if want := []time.Duration{0, 200 * ms, 220 * ms, 240 * ms, 440 * ms, 640 * ms, 840 * ms}; !reflect.DeepEqual(ranAt, want) {
		t.Errorf("checks ran at %v, want %v", ranAt, want)
	}
	if n := len(cs.hits("/t")); n != len(ranAt) {
		t.Errorf("the server got %d requests for %d checks", n, len(ranAt))
	}
}

// TestSchedulerNeverBlocked: 50 checks whose server accepts and never
// answers stay in flight, one attempt each, while another check keeps
// running on its delay_loop; removing a hung check cancels its attempt.
func TestSchedulerNeverBlocked(t *testing.T) {
	for _, noReactor := range []bool{false, true} {
		t.Run(fmt.Sprintf("noReactor=%t", noReactor), func(t *testing.T) { testNeverBlocked(t, noReactor) })
	}
}

func testNeverBlocked(t *testing.T, noReactor bool) {
	// A server that accepts and never answers.
	hung, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hung.Close()
	var open, maxOpen atomic.Int64
	go func() {
		for {
			c, err := hung.Accept()
			if err != nil {
				return
			}
			n := open.Add(1)
			for {
				m := maxOpen.Load()
				if n <= m || maxOpen.CompareAndSwap(m, n) {
					break
				}
			}
			go func() {
				_, _ = io.Copy(io.Discard, c) // until the checker gives up
				open.Add(-1)
				c.Close()
			}()
		}
	}()
	cs := newCountingServer(t)
	clk := &fakeClock{now: t0, read: t0}
	s := startScheduler(t, Options{Clock: clk, NoReactor: noReactor})
	// The hung attempts' own deadline (a real one) is far beyond the
	// test: a connection that closes was closed by a cancel.
	slow := Timing{DelayLoop: 50 * time.Millisecond, ConnectTimeout: time.Hour, Retry: 0}
	for i := range 50 {
		spec := Spec{Type: TypeHTTP, Target: netip.MustParseAddrPort(hung.Addr().String()), URLs: []URL{{Path: fmt.Sprintf("/%d", i)}}}
		if err := s.Add(ID(fmt.Sprint("hung", i)), spec, slow); err != nil {
			t.Fatal(err)
		}
	}
	fast := Timing{DelayLoop: 20 * time.Millisecond, ConnectTimeout: okTimeout}
	fastSpec := Spec{Type: TypeHTTP, Target: cs.target(t), URLs: []URL{{Path: "/fast"}}}
	if err := s.Add("fast", fastSpec, fast); err != nil {
		t.Fatal(err)
	}
	fastKey := Key(fastSpec, fast)
	waitFor(t, "50 hung checks connected", func() bool { return open.Load() == 50 })
	// 20 delay_loops of the fast check, 8 of the hung ones: the fast check
	// runs each time, and no hung check starts a second attempt.
	waitChecks(t, s, fastKey, 1)
	for i := range uint64(20) {
		clk.Advance(fast.DelayLoop)
		waitChecks(t, s, fastKey, i+2)
	}
	if n := len(cs.hits("/fast")); n != 21 {
		t.Errorf("fast check: %d requests over 20 delay_loops beside 50 hung checks, want 21", n)
	}
	if st := s.Stats(); st.InFlight != 50 {
		t.Errorf("in flight = %d, want the 50 hung checks", st.InFlight)
	}
	// One attempt in flight per check: no pile-up on a hung server.
	if m := maxOpen.Load(); m != 50 {
		t.Errorf("%d connections open at once to the hung server, want 50 (one per hung check)", m)
	}
	// Removing a hung check cancels its attempt: its connection closes
	// long before its own deadline (an hour).
	for i := range 10 {
		s.Remove(ID(fmt.Sprint("hung", i)))
	}
	waitFor(t, "the removed checks' connections closed", func() bool { return open.Load() == 40 })
}

func TestSchedulerAddErrors(t *testing.T) {
	s := NewScheduler(Options{})
	good := Spec{Type: TypeTCP, Target: netip.MustParseAddrPort("127.0.0.1:1")}
	if err := s.Add("x", good, Timing{}); err == nil {
		t.Error("Add with zero timing should fail")
	}
	if err := s.Add("x", Spec{Type: TypeTCP}, DefaultTiming()); err == nil {
		t.Error("Add with no target should fail")
	}
	if st := s.Stats(); st.Subscriptions != 0 {
		t.Errorf("failed adds left %d subscriptions", st.Subscriptions)
	}
}

// fakeClock is a manual clock for the Run loop.
//
// A timer armed with Reset(d) fires d after the time its caller last read
// with Now, as a real timer fires d after the moment the wait was computed:
// the Run loop reads Now, computes its wait, then arms its timer, and a test
// that advances the clock in between must not push the wake-up further.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	read   time.Time // what Now last returned
	timers []*fakeTimer
}

type fakeTimer struct {
	c  *fakeClock
	ch chan time.Time
	at time.Time
	on bool
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.read = f.now
	return f.now
}

func (f *fakeClock) NewTimer(d time.Duration) Timer {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := &fakeTimer{c: f, ch: make(chan time.Time, 1), at: f.now.Add(d), on: true}
	f.timers = append(f.timers, t)
	return t
}

func (f *fakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
	for _, t := range f.timers {
		if t.on && !t.at.After(f.now) {
			t.on = false
			select {
			case t.ch <- f.now:
			default:
			}
		}
	}
}

func (t *fakeTimer) C() <-chan time.Time { return t.ch }
func (t *fakeTimer) Reset(d time.Duration) {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	t.at, t.on = t.c.read.Add(d), true
	if !t.at.After(t.c.now) {
		t.on = false
		select {
		case t.ch <- t.c.now:
		default:
		}
	}
}
func (t *fakeTimer) Stop() {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	t.on = false
}

// chanChecker reports each call and passes.
type chanChecker struct{ calls chan struct{} }

func (c chanChecker) Check(context.Context) Result {
	c.calls <- struct{}{}
	return Result{OK: true, Kind: KindOK, Reason: "fake"}
}

func TestSchedulerFakeClock(t *testing.T) {
	clk := &fakeClock{now: t0, read: t0}
	calls := make(chan struct{}, 10)
	s := startScheduler(t, Options{
		Clock:      clk,
		NewChecker: func(Spec) (Checker, error) { return chanChecker{calls}, nil },
		Jitter:     func(max time.Duration) time.Duration { return max * 4 / 10 },
	})
	tm := Timing{DelayLoop: 10 * time.Second, ConnectTimeout: time.Second, Warmup: 10 * time.Second}
	if err := s.Add("a", httpSpec("10.0.0.1:80"), tm); err != nil {
		t.Fatal(err)
	}
	noCall := func(when string) {
		t.Helper()
		select {
		case <-calls:
			t.Fatalf("check ran %s", when)
		case <-time.After(50 * time.Millisecond):
		}
	}
	call := func(when string) {
		t.Helper()
		select {
		case <-calls:
		case <-time.After(hangAfter):
			t.Fatalf("check did not run %s", when)
		}
		// Wait until the result is recorded and the next check scheduled.
		waitFor(t, "result recorded", func() bool {
			st := s.Snapshot()
			return len(st) == 1 && !st[0].InFlight && !st[0].Next.IsZero()
		})
	}
	noCall("before the warmup jitter (4s) elapsed")
	clk.Advance(3999 * time.Millisecond)
	noCall("at 3.999s")
	clk.Advance(time.Millisecond)
	call("at 4s, the warmup jitter")
	clk.Advance(9 * time.Second)
	noCall("9s after the first check")
	clk.Advance(time.Second)
	call("delay_loop after the first")
	if st := s.Snapshot()[0]; st.Checks != 2 || !st.Next.Equal(t0.Add(24*time.Second)) || !st.LastAt.Equal(t0.Add(14*time.Second)) {
		t.Errorf("status = %+v, want 2 checks, last at 14s, next at 24s", st)
	}
}

// TestSchedulerShutdown stops Run at arbitrary points while hundreds of
// attempts are in flight, through both engines: Run must always return.
func TestSchedulerShutdown(t *testing.T) {
	cs := newCountingServer(t)
	for _, noReactor := range []bool{false, true} {
		for i := range 15 {
			s := NewScheduler(Options{NoReactor: noReactor})
			tm := Timing{DelayLoop: 5 * time.Millisecond, ConnectTimeout: time.Second, Warmup: 5 * time.Millisecond}
			for j := range 200 {
				spec := Spec{Type: TypeHTTP, Target: cs.target(t), URLs: []URL{{Path: fmt.Sprintf("/s%d", j)}}}
				if err := s.Add(ID(fmt.Sprint(j)), spec, tm); err != nil {
					t.Fatal(err)
				}
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error)
			go func() { done <- s.Run(ctx) }()
			time.Sleep(time.Duration(i*3) * time.Millisecond)
			cancel()
			select {
			case <-done:
			case <-time.After(hangAfter):
				t.Fatalf("noReactor=%t round %d: Run did not return after cancel", noReactor, i)
			}
		}
	}
}
