package main

import (
	"slices"
	"sync"
	"time"
)

// event is one membership change as seen somewhere: a destination
// created or removed ("create", "remove") for a member's address.
type event struct{ verb, addr string }

// recorder keeps when each event was first seen.
type recorder struct {
	mu   sync.Mutex
	seen map[event]time.Time
}

func newRecorder() *recorder { return &recorder{seen: map[event]time.Time{}} }

func (r *recorder) note(ev event, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.seen[ev]; !ok {
		r.seen[ev] = at
	}
}

// at returns when ev was seen.
func (r *recorder) at(ev event) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.seen[ev]
	return t, ok
}

// last returns when the last of evs was seen, and how many were.
func (r *recorder) last(evs []event) (time.Time, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var last time.Time
	n := 0
	for _, ev := range evs {
		if t, ok := r.seen[ev]; ok {
			n++
			if t.After(last) {
				last = t
			}
		}
	}
	return last, n
}

// waitAll waits until every event of evs was seen (true) or the timeout.
func (r *recorder) waitAll(evs []event, timeout time.Duration) bool {
	for deadline := time.Now().Add(timeout); ; time.Sleep(5 * time.Millisecond) {
		if _, n := r.last(evs); n == len(evs) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// quantile returns the q-quantile (0..1) of ds by nearest rank; 0 for none.
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(ds))
	i := int(q*float64(len(s))+0.999999) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
