package events

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func emitN(l *Log, from, n int) {
	for i := from; i < from+n; i++ {
		l.Emit(Event{Kind: KindCheck, Message: fmt.Sprint(i)})
	}
}

func TestReadOrderAndGap(t *testing.T) {
	tests := []struct {
		name      string
		capacity  int
		emitted   int
		after     uint64
		max       int
		wantFirst uint64 // seq of the first non-gap event; 0: none
		wantN     int    // non-gap events
		wantGap   uint64 // missed; 0: no gap marker
	}{
		{name: "empty", capacity: 10, emitted: 0},
		{name: "all", capacity: 10, emitted: 5, wantFirst: 1, wantN: 5},
		{name: "since", capacity: 10, emitted: 5, after: 3, wantFirst: 4, wantN: 2},
		{name: "up to date", capacity: 10, emitted: 5, after: 5},
		{name: "ahead", capacity: 10, emitted: 5, after: 9},
		{name: "max", capacity: 10, emitted: 8, after: 2, max: 3, wantFirst: 3, wantN: 3},
		{name: "wrapped, all held", capacity: 10, emitted: 25, after: 15, wantFirst: 16, wantN: 10},
		{name: "wrapped, fell behind", capacity: 10, emitted: 25, after: 3, wantFirst: 16, wantN: 10, wantGap: 12},
		{name: "wrapped, from the start", capacity: 10, emitted: 25, wantFirst: 16, wantN: 10, wantGap: 15},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := New(tt.capacity, nil)
			emitN(l, 1, tt.emitted)
			evs := l.Read(tt.after, tt.max)
			var gap uint64
			if len(evs) > 0 && evs[0].Kind == KindGap {
				gap = evs[0].Missed
				if evs[0].Seq != tt.after+gap {
					t.Errorf("gap marker seq %d, want %d (the last missed)", evs[0].Seq, tt.after+gap)
				}
				evs = evs[1:]
			}
			if gap != tt.wantGap {
				t.Errorf("gap %d, want %d", gap, tt.wantGap)
			}
			if len(evs) != tt.wantN {
				t.Fatalf("%d events, want %d", len(evs), tt.wantN)
			}
			for i, e := range evs {
				if want := tt.wantFirst + uint64(i); e.Seq != want || e.Message != fmt.Sprint(want) {
					t.Errorf("event %d: seq %d %q, want %d", i, e.Seq, e.Message, want)
				}
			}
		})
	}
}

func TestEmitBoundsTexts(t *testing.T) {
	l := New(2, nil)
	e := l.Emit(Event{Message: strings.Repeat("é", 2000), Fields: map[string]string{"reason": strings.Repeat("x", 5000)}})
	if len(e.Message) > maxText+len("…") || len(e.Fields["reason"]) > maxText+len("…") || !strings.HasSuffix(e.Message, "…") {
		t.Errorf("not bounded: %d, %d bytes", len(e.Message), len(e.Fields["reason"]))
	}
	if e.Seq != 1 || e.Time.IsZero() {
		t.Errorf("seq %d time %v", e.Seq, e.Time)
	}
	var nilLog *Log
	nilLog.Emit(Event{}) // no panic
}

// Readers that keep up see the same sequence, every event, in order,
// while the writer never waits for them.
func TestWaitersSeeTheSameSequence(t *testing.T) {
	const n = 20000
	l := New(DefaultCapacity, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	got := make([][]uint64, 3)
	progress := make([]atomic.Uint64, len(got))
	for r := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var after uint64
			for after < n {
				evs, err := l.Wait(ctx, after, 100)
				if err != nil {
					t.Errorf("reader %d: %v after %d", r, err, after)
					return
				}
				for _, e := range evs {
					got[r] = append(got[r], e.Seq)
					after = e.Seq
				}
				progress[r].Store(after)
			}
		}()
	}
	for i := 1; i <= n; i++ {
		l.Emit(Event{Kind: KindIPVS, Message: fmt.Sprint(i)})
		if i%1000 == 0 { // the readers keep up: within half the ring of the writer
			for r := range progress {
				for progress[r].Load()+DefaultCapacity/2 < uint64(i) && ctx.Err() == nil {
					time.Sleep(time.Millisecond)
				}
			}
		}
	}
	wg.Wait()
	for r, seqs := range got {
		if len(seqs) != n {
			t.Fatalf("reader %d got %d events, want %d", r, len(seqs), n)
		}
		for i, s := range seqs {
			if s != uint64(i+1) {
				t.Fatalf("reader %d: event %d has seq %d", r, i, s)
			}
		}
	}
}

func TestWaitEndsWithContext(t *testing.T) {
	l := New(10, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := l.Wait(ctx, 0, 0); done <- err }()
	cancel()
	select {
	case err := <-done:
		if err == nil {
			t.Error("Wait returned no error")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Wait did not end with its context")
	}
}
