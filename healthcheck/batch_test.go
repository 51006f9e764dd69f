package healthcheck

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"
)

// TestDueWithin: checks due within the slack start together, each at
// most a twentieth of its shortest delay early.
func TestDueWithin(t *testing.T) {
	second := Timing{DelayLoop: time.Second, ConnectTimeout: time.Second, Warmup: time.Second}
	short := Timing{DelayLoop: 100 * time.Millisecond, ConnectTimeout: time.Second, Warmup: time.Second} // 5 ms early at most
	retry := Timing{DelayLoop: time.Second, DelayBeforeRetry: 200 * time.Millisecond, ConnectTimeout: time.Second, Warmup: time.Second}
	type check struct {
		id     string
		timing Timing
		in     time.Duration // due this long after t0
	}
	tests := []struct {
		name   string
		checks []check
		at     time.Duration
		slack  time.Duration
		want   []string
	}{
		{"no slack: only what is due", []check{{"a", second, 0}, {"b", second, time.Millisecond}}, 0, 0, []string{"a"}},
		{"within 50ms together", []check{{"a", second, 0}, {"b", second, 10 * time.Millisecond}, {"c", second, 50 * time.Millisecond}, {"d", second, 51 * time.Millisecond}},
			0, 50 * time.Millisecond, []string{"a", "b", "c"}},
		{"a short delay is not cut short", []check{{"a", second, 0}, {"b", short, 6 * time.Millisecond}}, 0, 50 * time.Millisecond, []string{"a"}},
		{"a short delay: 5ms early", []check{{"a", second, 0}, {"b", short, 5 * time.Millisecond}}, 0, 50 * time.Millisecond, []string{"a", "b"}},
		{"delay_before_retry bounds it too", []check{{"a", retry, 11 * time.Millisecond}}, 0, 50 * time.Millisecond, nil},
		{"delay_before_retry: 10ms early", []check{{"a", retry, 10 * time.Millisecond}}, 0, 50 * time.Millisecond, []string{"a"}},
		{"nothing due yet", []check{{"a", second, 60 * time.Millisecond}}, 0, 50 * time.Millisecond, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			offsets := map[string]time.Duration{}
			var next string
			tab := newTable(func(time.Duration) time.Duration { return offsets[next] })
			created := 0
			for i, c := range tc.checks {
				next = fmt.Sprint(c.id)
				offsets[next] = c.in
				if _, _, err := tab.add(ID(c.id), httpSpec(fmt.Sprintf("10.0.0.%d:80", i+1)), c.timing, t0, nopFactory(&created)); err != nil {
					t.Fatal(err)
				}
			}
			var got []string
			for _, r := range tab.dueWithin(t0.Add(tc.at), tc.slack) {
				got = append(got, string(r.ids()[0]))
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("due = %v, want %v", got, tc.want)
			}
		})
	}
}

// blockingChecker reports each call and holds it until ctx is done.
type blockingChecker struct{ calls chan string }

func (c blockingChecker) Check(ctx context.Context) Result {
	c.calls <- "called"
	<-ctx.Done()
	return Result{OK: true, Kind: KindOK, Reason: "fake"}
}

// TestSchedulerStartsNearbyChecksTogether: with the real clock, a check
// due 40 ms after another starts with it, in one batch (one wake-up of the
// loop and of one reactor), not 40 ms later on its own. On the old code
// (1 ms slack) the second was not yet in flight when the first started.
func TestSchedulerStartsNearbyChecksTogether(t *testing.T) {
	calls := make(chan string, 10)
	jitters := []time.Duration{100 * time.Millisecond, 140 * time.Millisecond}
	s := startScheduler(t, Options{
		NewChecker: func(Spec) (Checker, error) { return blockingChecker{calls}, nil },
		Jitter: func(time.Duration) time.Duration {
			d := jitters[0]
			jitters = jitters[1:]
			return d
		},
	})
	tm := Timing{DelayLoop: time.Second, ConnectTimeout: 10 * time.Second, Warmup: time.Second}
	for i, id := range []ID{"a", "b"} {
		if err := s.Add(id, httpSpec(fmt.Sprintf("10.0.0.%d:80", i+1)), tm); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-calls:
	case <-time.After(hangAfter):
		t.Fatal("no check ran")
	}
	// Both were taken from the queue in the same locked section, before
	// either attempt began.
	for _, st := range s.Snapshot() {
		if !st.InFlight {
			t.Errorf("%s is not in flight when the first check started: checks due 40 ms apart were not started together", st.IDs[0])
		}
	}
}

// TestSchedulerMixedBigBatch: one batch with a check the reactors cannot
// run (a script) ahead of more plain HTTP checks than one reactor's share
// (checks without warmup all start at once): every check completes and
// passes, whatever reactor each share went to.
func TestSchedulerMixedBigBatch(t *testing.T) {
	cs := newCountingServer(t)
	s := NewScheduler(Options{})
	s.reactorShare = 64 // the constant's thousands of sockets would not fit a test's descriptors
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	tm := Timing{DelayLoop: time.Hour, ConnectTimeout: 10 * time.Second}
	if err := s.Add("script", Spec{Type: TypeScript, Command: []string{"/bin/true"}}, tm); err != nil {
		t.Fatal(err)
	}
	n := 3*s.reactorShare + 1
	for i := range n {
		spec := Spec{Type: TypeHTTP, Target: cs.target(t), URLs: []URL{{Path: fmt.Sprintf("/c%d", i)}}}
		if err := s.Add(ID(fmt.Sprint(i)), spec, tm); err != nil {
			t.Fatal(err)
		}
	}
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(hangAfter):
			t.Error("Run did not return after cancel")
		}
	}()
	waitFor(t, "every check done", func() bool { return s.Stats().Checks == uint64(n+1) })
	if st := s.Stats(); st.Failures != 0 {
		t.Errorf("%d of %d checks failed", st.Failures, st.Checks)
	}
}
