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
		case <-time.After(5 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	return s
}

func TestSchedulerDedup(t *testing.T) {
	cs := newCountingServer(t)
	rec := newRecorder()
	s := startScheduler(t, Options{OnTransition: rec.on})
	tm := Timing{DelayLoop: 100 * time.Millisecond, ConnectTimeout: time.Second, Retry: 1, DelayBeforeRetry: 50 * time.Millisecond}
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
		if tr := rec.next(t, time.Second); !tr.Initial || !tr.Up || len(tr.IDs) != 1 {
			t.Errorf("want an initial up transition per subscription, got %+v", tr)
		}
	}
	time.Sleep(1050 * time.Millisecond)
	n, o := len(cs.hits("/shared")), len(cs.hits("/other"))
	// 0, 100, ..., 1000 ms: 11 checks, whatever the number of subscribers.
	if n < 8 || n > 12 {
		t.Errorf("shared check: %d requests in 1.05s at delay_loop 100ms, want ~11 (one per interval, not one per service)", n)
	}
	if o < 8 || o > 12 {
		t.Errorf("other check: %d requests, want ~11", o)
	}
	snap := s.Snapshot()
	if len(snap) != 2 {
		t.Fatalf("Snapshot has %d checks, want 2", len(snap))
	}
	var sharedSt Status
	for _, st := range snap {
		if st.Key == Key(shared, tm) {
			sharedSt = st
		}
	}
	if !reflect.DeepEqual(sharedSt.IDs, []ID{"vs1/rs", "vs2/rs"}) || !sharedSt.Up || sharedSt.Checks < 8 || sharedSt.Last.Reason != "GET /shared: status 200, digest ok" {
		t.Errorf("shared status = %+v", sharedSt)
	}
	if st := s.Stats(); st.Runners != 2 || st.Subscriptions != 3 || st.Checks < 16 || st.Failures != 0 {
		t.Errorf("Stats = %+v", st)
	}

	// Removing one subscriber keeps the check; removing the last stops it.
	if !s.Remove("vs1/rs") {
		t.Fatal("Remove vs1/rs")
	}
	time.Sleep(250 * time.Millisecond)
	if len(cs.hits("/shared")) <= n {
		t.Error("check stopped while vs2 still subscribes")
	}
	s.Remove("vs2/rs")
	time.Sleep(50 * time.Millisecond)
	n = len(cs.hits("/shared"))
	time.Sleep(300 * time.Millisecond)
	if m := len(cs.hits("/shared")); m != n {
		t.Errorf("check still running after its last subscriber left: %d -> %d", n, m)
	}
	if s.Remove("vs2/rs") {
		t.Error("second Remove should report false")
	}
}

func TestSchedulerTransitionsAndTiming(t *testing.T) {
	cs := newCountingServer(t)
	rec := newRecorder()
	s := startScheduler(t, Options{OnTransition: rec.on})
	tm := Timing{DelayLoop: 200 * time.Millisecond, ConnectTimeout: time.Second, Retry: 2, DelayBeforeRetry: 20 * time.Millisecond}
	spec := Spec{Type: TypeHTTP, Target: cs.target(t), URLs: []URL{{Path: "/t"}}}
	for _, id := range []ID{"a", "b"} {
		if err := s.Add(id, spec, tm); err != nil {
			t.Fatal(err)
		}
		rec.next(t, time.Second)
	}
	time.Sleep(100 * time.Millisecond) // first check passed at ~0
	cs.failing.Store(true)
	failFrom := time.Now()
	tr := rec.next(t, 2*time.Second)
	if tr.Up || tr.Initial || !reflect.DeepEqual(tr.IDs, []ID{"a", "b"}) || tr.Result.Kind != KindStatus || tr.Result.Reason != "GET /t: status 500 not in 200-299" {
		t.Fatalf("down transition = %+v", tr)
	}
	// retry 2: three failures in a row, 20ms apart, then delay_loop.
	var fails []time.Time
	for _, h := range cs.hits("/t") {
		if h.After(failFrom) {
			fails = append(fails, h)
		}
	}
	if len(fails) != 3 {
		t.Fatalf("%d failed requests before down, want retry+1 = 3", len(fails))
	}
	for i := 1; i < 3; i++ {
		if gap := fails[i].Sub(fails[i-1]); gap < 15*time.Millisecond || gap > 120*time.Millisecond {
			t.Errorf("retry gap %v, want delay_before_retry 20ms", gap)
		}
	}
	time.Sleep(450 * time.Millisecond)
	var down []time.Time
	for _, h := range cs.hits("/t") {
		if h.After(fails[2]) {
			down = append(down, h)
		}
	}
	// Once down, checks follow delay_loop (200ms), with no retries.
	if len(down) < 1 || len(down) > 3 {
		t.Errorf("%d checks in 450ms while down, want ~2 at delay_loop", len(down))
	}
	for i := 1; i < len(down); i++ {
		if gap := down[i].Sub(down[i-1]); gap < 180*time.Millisecond {
			t.Errorf("gap %v while down, want delay_loop 200ms", gap)
		}
	}
	cs.failing.Store(false)
	tr = rec.next(t, time.Second)
	if !tr.Up || tr.Result.Kind != KindOK {
		t.Errorf("up transition = %+v", tr)
	}
}

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
	s := startScheduler(t, Options{NoReactor: noReactor})
	slow := Timing{DelayLoop: 50 * time.Millisecond, ConnectTimeout: 2 * time.Second, Retry: 0}
	for i := range 50 {
		spec := Spec{Type: TypeHTTP, Target: netip.MustParseAddrPort(hung.Addr().String()), URLs: []URL{{Path: fmt.Sprintf("/%d", i)}}}
		if err := s.Add(ID(fmt.Sprint("hung", i)), spec, slow); err != nil {
			t.Fatal(err)
		}
	}
	fast := Timing{DelayLoop: 20 * time.Millisecond, ConnectTimeout: time.Second}
	if err := s.Add("fast", Spec{Type: TypeHTTP, Target: cs.target(t), URLs: []URL{{Path: "/fast"}}}, fast); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if n := len(cs.hits("/fast")); n < 15 {
		t.Errorf("fast check ran %d times in 500ms beside 50 hung ones, want >= 15", n)
	}
	if st := s.Stats(); st.InFlight < 50 {
		t.Errorf("in flight = %d, want the 50 hung checks", st.InFlight)
	}
	// One attempt in flight per check: no pile-up on a hung server.
	if m := maxOpen.Load(); m > 50 {
		t.Errorf("%d connections open at once to the hung server, want <= 50", m)
	}
	// Removing a hung check cancels its attempt at once.
	before := open.Load()
	for i := range 10 {
		s.Remove(ID(fmt.Sprint("hung", i)))
	}
	deadline := time.Now().Add(time.Second)
	for open.Load() > before-10 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := open.Load(); n > before-10 {
		t.Errorf("open connections %d -> %d after removing 10 hung checks", before, n)
	}
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
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
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
	t.at, t.on = t.c.now.Add(d), true
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
	clk := &fakeClock{now: t0}
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
		case <-time.After(2 * time.Second):
			t.Fatalf("check did not run %s", when)
		}
		// Wait until the result is recorded and the next check scheduled.
		for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(time.Millisecond) {
			if st := s.Snapshot(); len(st) == 1 && !st[0].InFlight && !st[0].Next.IsZero() {
				return
			}
			if time.Now().After(deadline) {
				t.Fatal("result not recorded")
			}
		}
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
			case <-time.After(5 * time.Second):
				t.Fatalf("noReactor=%t round %d: Run did not return after cancel", noReactor, i)
			}
		}
	}
}
