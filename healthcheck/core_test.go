package healthcheck

import (
	"context"
	"net/netip"
	"reflect"
	"testing"
	"time"
)

type nopChecker struct{}

func (nopChecker) Check(context.Context) Result { return Result{} }

func nopFactory(created *int) func(Spec) (Checker, error) {
	return func(Spec) (Checker, error) {
		*created++
		return nopChecker{}, nil
	}
}

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func httpSpec(addr string) Spec {
	return Spec{Type: TypeHTTP, Target: netip.MustParseAddrPort(addr), URLs: []URL{{Path: "/"}}}
}

func halfJitter(max time.Duration) time.Duration { return max / 2 }

// drive runs a table with one check through results (true = pass) and
// returns the offsets from t0 at which each check ran and the transitions.
func drive(t *testing.T, tm Timing, results []bool) ([]time.Duration, []Transition) {
	t.Helper()
	created := 0
	tab := newTable(halfJitter)
	if _, _, err := tab.add("a", httpSpec("10.0.0.1:80"), tm, t0, nopFactory(&created)); err != nil {
		t.Fatal(err)
	}
	var at []time.Duration
	var trs []Transition
	for _, ok := range results {
		next, has := tab.nextAt()
		if !has {
			t.Fatal("nothing scheduled")
		}
		if d := tab.due(next.Add(-time.Nanosecond)); len(d) != 0 {
			t.Fatalf("due before its time: %v", d)
		}
		due := tab.due(next)
		if len(due) != 1 {
			t.Fatalf("due(%v) = %d runners, want 1", next, len(due))
		}
		if _, has := tab.nextAt(); has {
			t.Fatal("a runner in flight must not be scheduled")
		}
		at = append(at, next.Sub(t0))
		res := Result{OK: ok, Kind: KindOK}
		if !ok {
			res = Result{Kind: KindStatus, Reason: "status 500 not in 200-299"}
		}
		if tr, changed := tab.complete(due[0], res, next); changed {
			trs = append(trs, tr)
		}
	}
	return at, trs
}

func TestTableHonoursTiming(t *testing.T) {
	s := time.Second
	tests := []struct {
		name    string
		tm      Timing
		results []bool
		wantAt  []time.Duration
		wantUp  []bool // Up of each transition
	}{
		{
			name:    "retry 2: retries every delay_before_retry, then delay_loop once down",
			tm:      Timing{DelayLoop: 10 * s, ConnectTimeout: s, Retry: 2, DelayBeforeRetry: 2 * s},
			results: []bool{false, false, false, false, true, true},
			wantAt:  []time.Duration{0, 2 * s, 4 * s, 14 * s, 24 * s, 34 * s},
			wantUp:  []bool{false, true},
		},
		{
			name:    "warmup: first check at the jittered offset",
			tm:      Timing{DelayLoop: 5 * s, ConnectTimeout: s, Retry: 1, DelayBeforeRetry: s, Warmup: 8 * s},
			results: []bool{true, false, true, false, false},
			wantAt:  []time.Duration{4 * s, 9 * s, 10 * s, 15 * s, 16 * s},
			wantUp:  []bool{false},
		},
		{
			name:    "alpha: starts down, its first failure reported (confirmed down), up after a pass",
			tm:      Timing{DelayLoop: 3 * s, ConnectTimeout: s, Retry: 1, DelayBeforeRetry: s, Alpha: true},
			results: []bool{false, true, true},
			wantAt:  []time.Duration{0, 3 * s, 6 * s},
			wantUp:  []bool{false, true},
		},
		{
			name:    "alpha: passes first, up at once, no down report before",
			tm:      Timing{DelayLoop: 3 * s, ConnectTimeout: s, Retry: 1, DelayBeforeRetry: s, Alpha: true},
			results: []bool{true, false, false},
			wantAt:  []time.Duration{0, 3 * s, 4 * s},
			wantUp:  []bool{true, false},
		},
		{
			name:    "alpha: only the first failure is reported while down",
			tm:      Timing{DelayLoop: 3 * s, ConnectTimeout: s, Retry: 1, DelayBeforeRetry: s, Alpha: true},
			results: []bool{false, false, false},
			wantAt:  []time.Duration{0, 3 * s, 6 * s},
			wantUp:  []bool{false},
		},
		{
			name:    "alpha rise 2: a pass short of rise reports nothing, the failure after it reports down",
			tm:      Timing{DelayLoop: 3 * s, ConnectTimeout: s, Retry: 1, DelayBeforeRetry: s, Alpha: true, Rise: 2},
			results: []bool{true, false, true, true},
			wantAt:  []time.Duration{0, 3 * s, 6 * s, 9 * s},
			wantUp:  []bool{false, true},
		},
		{
			name:    "no alpha: a first failure short of fall reports nothing",
			tm:      Timing{DelayLoop: 3 * s, ConnectTimeout: s, Retry: 1, DelayBeforeRetry: s},
			results: []bool{false, true},
			wantAt:  []time.Duration{0, s},
			wantUp:  nil,
		},
		{
			name:    "rise 2 fall 1",
			tm:      Timing{DelayLoop: 3 * s, ConnectTimeout: s, Retry: 5, DelayBeforeRetry: s, Rise: 2, Fall: 1},
			results: []bool{false, true, true},
			wantAt:  []time.Duration{0, 3 * s, 6 * s},
			wantUp:  []bool{false, true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at, trs := drive(t, tt.tm, tt.results)
			if !reflect.DeepEqual(at, tt.wantAt) {
				t.Errorf("checks at %v, want %v", at, tt.wantAt)
			}
			var ups []bool
			for _, tr := range trs {
				ups = append(ups, tr.Up)
				if tr.Initial || !reflect.DeepEqual(tr.IDs, []ID{"a"}) {
					t.Errorf("transition %+v: want IDs [a], not initial", tr)
				}
			}
			if !reflect.DeepEqual(ups, tt.wantUp) {
				t.Errorf("transitions up=%v, want %v", ups, tt.wantUp)
			}
		})
	}
}

func TestTableDedupAndRefcount(t *testing.T) {
	tm := Timing{DelayLoop: time.Second, ConnectTimeout: time.Second, Retry: 0}
	created := 0
	tab := newTable(halfJitter)
	f := nopFactory(&created)

	tr, ok, err := tab.add("vs1/rs1", httpSpec("10.0.0.1:80"), tm, t0, f)
	if err != nil || !ok || !tr.Initial || !tr.Up || !reflect.DeepEqual(tr.IDs, []ID{"vs1/rs1"}) {
		t.Fatalf("first add: %+v %t %v", tr, ok, err)
	}
	tr, ok, _ = tab.add("vs2/rs1", httpSpec("10.0.0.1:80"), tm, t0, f)
	if !ok || !reflect.DeepEqual(tr.IDs, []ID{"vs2/rs1"}) {
		t.Fatalf("second add: %+v", tr)
	}
	if _, ok, _ := tab.add("vs3/rs2", httpSpec("10.0.0.2:80"), tm, t0, f); !ok {
		t.Fatal("third add")
	}
	if created != 2 || len(tab.runners) != 2 || len(tab.heap) != 2 {
		t.Fatalf("created %d checkers, %d runners, heap %d; want 2, 2, 2", created, len(tab.runners), len(tab.heap))
	}
	// Re-adding the same subscription is a no-op.
	if _, ok, _ := tab.add("vs1/rs1", httpSpec("10.0.0.1:80"), tm, t0, f); ok || created != 2 {
		t.Fatal("re-add of the same check should be a no-op")
	}

	// One failure takes the shared check down: one transition, both IDs.
	due := tab.due(t0)
	if len(due) != 2 {
		t.Fatalf("due = %d, want 2", len(due))
	}
	for _, r := range due {
		tr, changed := tab.complete(r, Result{Kind: KindRefused, Reason: "connection refused"}, t0)
		if !changed || tr.Up {
			t.Fatalf("complete: %+v %t", tr, changed)
		}
		if r.spec.Target.Port() == 80 && r.spec.Target.Addr() == netip.MustParseAddr("10.0.0.1") {
			if !reflect.DeepEqual(tr.IDs, []ID{"vs1/rs1", "vs2/rs1"}) || tr.Result.Reason != "connection refused" {
				t.Errorf("shared transition = %+v", tr)
			}
		}
	}
	// A late subscriber gets the current (down) state at once.
	tr, _, _ = tab.add("vs4/rs1", httpSpec("10.0.0.1:80"), tm, t0, f)
	if tr.Up || tr.Result.Kind != KindRefused {
		t.Errorf("late subscriber initial = %+v, want down with the last result", tr)
	}

	for _, id := range []ID{"vs1/rs1", "vs2/rs1"} {
		if r, ok := tab.remove(id); !ok || r != nil {
			t.Fatalf("remove %s: runner %v ok %t; runner must survive", id, r, ok)
		}
	}
	r, ok := tab.remove("vs4/rs1")
	if !ok || r == nil || !r.removed {
		t.Fatalf("last remove should stop the runner: %v %t", r, ok)
	}
	if len(tab.runners) != 1 || len(tab.heap) != 1 {
		t.Fatalf("%d runners, heap %d after removal; want 1, 1", len(tab.runners), len(tab.heap))
	}
	if _, ok := tab.remove("nope"); ok {
		t.Error("remove of unknown id should say so")
	}
}

func TestTableRemoveInFlight(t *testing.T) {
	tm := Timing{DelayLoop: time.Second, ConnectTimeout: time.Second}
	created := 0
	tab := newTable(halfJitter)
	_, _, _ = tab.add("a", httpSpec("10.0.0.1:80"), tm, t0, nopFactory(&created))
	due := tab.due(t0)
	if r, _ := tab.remove("a"); r != due[0] {
		t.Fatal("remove should return the in-flight runner")
	}
	if _, changed := tab.complete(due[0], Result{Kind: KindTimeout}, t0); changed {
		t.Error("a removed runner reports nothing")
	}
	if _, has := tab.nextAt(); has || len(tab.runners) != 0 {
		t.Error("a removed runner must not be rescheduled")
	}
}

func TestTableMoveSubscription(t *testing.T) {
	tm := Timing{DelayLoop: time.Second, ConnectTimeout: time.Second}
	created := 0
	tab := newTable(halfJitter)
	f := nopFactory(&created)
	_, _, _ = tab.add("a", httpSpec("10.0.0.1:80"), tm, t0, f)
	tr, ok, _ := tab.add("a", httpSpec("10.0.0.1:8080"), tm, t0, f)
	if !ok || tr.Target.Port() != 8080 || len(tab.runners) != 1 {
		t.Fatalf("move: %+v, %d runners", tr, len(tab.runners))
	}
}

func TestTableDynamicWeight(t *testing.T) {
	tm := Timing{DelayLoop: time.Second, ConnectTimeout: time.Second}
	created := 0
	tab := newTable(halfJitter)
	_, _, _ = tab.add("a", Spec{Type: TypeScript, Command: []string{"x"}, Dynamic: true}, tm, t0, nopFactory(&created))
	w := func(n int) *int { return &n }
	steps := []struct {
		res         Result
		wantChanged bool
		wantWeight  *int
	}{
		{Result{OK: true, Weight: w(5)}, true, w(5)},
		{Result{OK: true, Weight: w(5)}, false, nil},
		{Result{OK: true}, false, nil}, // exit 0 keeps the weight
		{Result{OK: true, Weight: w(7)}, true, w(7)},
	}
	now := t0
	for i, st := range steps {
		due := tab.due(now)
		if len(due) != 1 {
			t.Fatalf("step %d: due %d", i, len(due))
		}
		tr, changed := tab.complete(due[0], st.res, now)
		if changed != st.wantChanged || (changed && (tr.Weight == nil || *tr.Weight != *st.wantWeight || !tr.Up)) {
			t.Errorf("step %d: changed=%t tr=%+v, want changed=%t weight %v", i, changed, tr, st.wantChanged, st.wantWeight)
		}
		now = now.Add(time.Second)
	}
}

func TestTableNextCheckTime(t *testing.T) {
	tm := Timing{DelayLoop: time.Second, ConnectTimeout: 5 * time.Second, Retry: 1, DelayBeforeRetry: 3 * time.Second}
	tests := []struct {
		name     string
		ok       bool
		took     time.Duration
		wantNext time.Duration // from the attempt's due time
	}{
		{"fast pass: delay_loop after it was due, no drift", true, 300 * time.Millisecond, time.Second},
		{"pass slower than delay_loop: delay_loop after its end", true, 1500 * time.Millisecond, 2500 * time.Millisecond},
		{"failure while up: delay_before_retry after it was due", false, 100 * time.Millisecond, 3 * time.Second},
		{"timeout longer than delay_before_retry: after its end", false, 5 * time.Second, 8 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			created := 0
			tab := newTable(halfJitter)
			_, _, _ = tab.add("a", httpSpec("10.0.0.1:80"), tm, t0, nopFactory(&created))
			r := tab.due(t0.Add(time.Millisecond))[0] // started a little late
			tab.complete(r, Result{OK: tt.ok}, t0.Add(tt.took))
			if next, _ := tab.nextAt(); !next.Equal(t0.Add(tt.wantNext)) {
				t.Errorf("next check at %v, want %v", next.Sub(t0), tt.wantNext)
			}
		})
	}
}

// TestTableInitialPending: an Initial event is Pending until the check has
// reported a result; a subscriber added after that gets the check's verdict.
func TestTableInitialPending(t *testing.T) {
	s := time.Second
	for _, tt := range []struct {
		name        string
		tm          Timing
		results     []bool
		wantPending bool
		wantUp      bool
	}{
		{"alpha, not checked yet", Timing{DelayLoop: s, ConnectTimeout: s, Alpha: true}, nil, true, false},
		{"alpha, a pass short of rise", Timing{DelayLoop: s, ConnectTimeout: s, Alpha: true, Rise: 2}, []bool{true}, true, false},
		{"alpha, confirmed down", Timing{DelayLoop: s, ConnectTimeout: s, Alpha: true}, []bool{false}, false, false},
		{"alpha, up", Timing{DelayLoop: s, ConnectTimeout: s, Alpha: true}, []bool{true}, false, true},
		{"no alpha, not checked yet", Timing{DelayLoop: s, ConnectTimeout: s, Retry: 1}, nil, true, true},
		{"no alpha, down", Timing{DelayLoop: s, ConnectTimeout: s}, []bool{false}, false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			created := 0
			tab := newTable(halfJitter)
			tr, _, err := tab.add("a", httpSpec("10.0.0.1:80"), tt.tm, t0, nopFactory(&created))
			if err != nil || !tr.Pending || tr.Up != !tt.tm.Alpha {
				t.Fatalf("first subscriber's initial event %+v (%v): want pending, up %v", tr, err, !tt.tm.Alpha)
			}
			now := t0
			for _, ok := range tt.results {
				due := tab.due(now)
				if len(due) != 1 {
					t.Fatalf("due at %v: %d runners", now, len(due))
				}
				res := Result{OK: ok, Kind: KindOK}
				if !ok {
					res = Result{Kind: KindRefused, Reason: "connection refused"}
				}
				tab.complete(due[0], res, now)
				now = now.Add(time.Hour)
			}
			tr, _, err = tab.add("b", httpSpec("10.0.0.1:80"), tt.tm, now, nopFactory(&created))
			if err != nil || !tr.Initial || tr.Pending != tt.wantPending || tr.Up != tt.wantUp {
				t.Errorf("second subscriber's initial event %+v (%v): want pending %v, up %v", tr, err, tt.wantPending, tt.wantUp)
			}
		})
	}
}
