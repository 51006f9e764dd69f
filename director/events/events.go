// Package events is lbd's event history (issue 17): an ordered, numbered,
// bounded record of what happened (VRRP transitions, check transitions,
// IPVS applies, reloads, discovery changes, and later drains and BGP),
// read by lbctl events, the status page and its live updates.
//
// The history is a ring of the last Capacity events, each with a sequence
// number one more than the one before (the first is 1). Emit never waits
// for a reader: readers keep their own position (the last sequence number
// they saw) and read the ring from there; one that falls so far behind
// that the events it has not read have left the ring gets a gap marker
// saying how many it missed, then goes on from the oldest event still
// held. Two readers that keep up see the same sequence, none lost.
package events

import (
	"context"
	"sync"
	"time"
	"unicode/utf8"
)

// Kinds of events.
const (
	KindVRRP      = "vrrp"      // a VRRP instance changed state
	KindCheck     = "check"     // a health check changed state
	KindHealth    = "health"    // a real server's verdict changed
	KindIPVS      = "ipvs"      // an apply wrote the IPVS table (summary)
	KindReload    = "reload"    // a reload and its result
	KindDiscovery = "discovery" // a discovery update applied, held, or the registry lost
	KindDrain     = "drain"     // a drain, undrain, maintenance (issue 17 items 1, 2)
	KindBGP       = "bgp"       // a BGP session or route change (issue 16)
	KindDaemon    = "daemon"    // lbd started or is stopping
	// KindGap is the marker a reader gets in place of the events it
	// missed (they left the ring before it read them).
	KindGap = "gap"
)

// Event is one thing that happened.
type Event struct {
	// Seq numbers the events in order, from 1; a gap marker carries the
	// sequence number of the last event it stands for.
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"`
	Kind string    `json:"kind"`
	// Subject is what the event is about: an instance ("VI_1"), a real
	// server ("TCP 192.0.2.10:80 10.0.0.11:80"), a check, a file.
	Subject string `json:"subject,omitempty"`
	// Message says what happened, in words.
	Message string `json:"message"`
	// Fields add details (from, to, reason, writes...), for filters.
	Fields map[string]string `json:"fields,omitempty"`
	// Missed is, on a gap marker, how many events the reader missed.
	Missed uint64 `json:"missed,omitempty"`
}

// DefaultCapacity is how many events lbd keeps.
const DefaultCapacity = 10000

// maxText bounds an event's message, subject and each field value (bytes).
const maxText = 1024

// Log is the history. Its methods are safe for concurrent use.
type Log struct {
	now func() time.Time

	mu      sync.Mutex
	ring    []Event
	head    int    // index of the oldest event in ring
	n       int    // events held
	last    uint64 // sequence number of the newest event (0: none yet)
	changed chan struct{}
}

// New returns an empty history of capacity events (DefaultCapacity if
// capacity <= 0); now is the clock (nil: time.Now).
func New(capacity int, now func() time.Time) *Log {
	if capacity <= 0 {
		capacity = DefaultCapacity
	}
	if now == nil {
		now = time.Now
	}
	return &Log{now: now, ring: make([]Event, capacity), changed: make(chan struct{})}
}

// Emit records e (its Seq and, if zero, its Time are set; texts are
// bounded) and wakes the readers waiting; it never waits for them. It
// returns the event as recorded. A nil Log ignores it.
func (l *Log) Emit(e Event) Event {
	if l == nil {
		return e
	}
	e.Message, e.Subject = bound(e.Message), bound(e.Subject)
	if len(e.Fields) > 0 {
		f := make(map[string]string, len(e.Fields))
		for k, v := range e.Fields {
			f[bound(k)] = bound(v)
		}
		e.Fields = f
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if e.Time.IsZero() {
		e.Time = l.now()
	}
	l.last++
	e.Seq, e.Missed = l.last, 0
	i := (l.head + l.n) % len(l.ring)
	if l.n == len(l.ring) {
		l.head = (l.head + 1) % len(l.ring)
	} else {
		l.n++
	}
	l.ring[i] = e
	close(l.changed)
	l.changed = make(chan struct{})
	return e
}

// bound cuts s to maxText bytes, on a rune boundary.
func bound(s string) string {
	if len(s) <= maxText {
		return s
	}
	s = s[:maxText]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "…"
}

// Last is the sequence number of the newest event (0: none yet).
func (l *Log) Last() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last
}

// Read returns up to max events (all held if max <= 0) after sequence
// number after, oldest first. When events after it have left the ring,
// the first is a gap marker (Kind KindGap) counting them.
func (l *Log) Read(after uint64, max int) []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.read(after, max)
}

func (l *Log) read(after uint64, max int) []Event {
	if after >= l.last {
		return nil
	}
	oldest := l.last - uint64(l.n) + 1
	var out []Event
	if after+1 < oldest {
		missed := oldest - after - 1
		out = append(out, Event{Seq: oldest - 1, Time: l.now(), Kind: KindGap, Missed: missed,
			Message: "events missed: this reader fell behind the history"})
		after = oldest - 1
	}
	count := int(l.last - after)
	if max > 0 && count > max {
		count = max
	}
	start := int(after+1-oldest) + l.head
	for i := 0; i < count; i++ {
		out = append(out, l.ring[(start+i)%len(l.ring)])
	}
	return out
}

// Wait returns the events after sequence number after (at most max, see
// Read), waiting until there is one or ctx ends (then ctx's error).
func (l *Log) Wait(ctx context.Context, after uint64, max int) ([]Event, error) {
	for {
		l.mu.Lock()
		evs := l.read(after, max)
		ch := l.changed
		l.mu.Unlock()
		if len(evs) > 0 {
			return evs, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-ch:
		}
	}
}
