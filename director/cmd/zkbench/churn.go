package main

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// churnResult is figure (b): joins and leaves at a steady rate.
type churnResult struct {
	pool            int
	joins, leaves   int
	took            time.Duration // the churn itself (its rate is changes/took)
	lags, floorLags []time.Duration
	over            []time.Duration // per change: the table's time minus the floor's
	missed          int             // changes never seen in the table
	floorMissed     int
	writes          counts
}

func (r churnResult) changes() int { return r.joins + r.leaves }

// churner makes the changes: joins create a new member, leaves delete the
// oldest one; each change's time is the client call's return.
type churner struct {
	s      *scene
	mu     sync.Mutex
	next   int      // the next member's number
	live   []string // znode paths, oldest first
	addrOf map[string]string
	done   map[event]time.Time
	err    error
}

func (c *churner) join() {
	c.mu.Lock()
	n := c.next
	c.next++
	c.mu.Unlock()
	addr := memberAddr(2, n)
	p, err := c.s.register(n, addr)
	at := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.err = err
		return
	}
	c.live = append(c.live, p)
	c.addrOf[p] = addr
	c.done[event{"create", addr}] = at
}

func (c *churner) leave(i int) {
	c.mu.Lock()
	if len(c.live) == 0 {
		c.mu.Unlock()
		return
	}
	p := c.live[0]
	c.live = c.live[1:]
	c.mu.Unlock()
	err := c.s.sessions[i%len(c.s.sessions)].Delete(p, -1)
	at := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.err = fmt.Errorf("delete %s: %w", p, err)
		return
	}
	c.done[event{"remove", c.addrOf[p]}] = at
}

// runChurn registers a pool, then for the duration makes rate changes per
// second, joins and leaves alternating (the pool keeps its size), each by
// one of a few writers.
func runChurn(ctx context.Context, servers []string, start startTarget, o options) (churnResult, error) {
	s, err := newScene(ctx, servers, "/sgroup-churn", start, o.sessions)
	if err != nil {
		return churnResult{}, err
	}
	defer s.close()
	c := &churner{s: s, addrOf: map[string]string{}, done: map[event]time.Time{}}
	for range o.pool {
		c.join()
	}
	if c.err != nil {
		return churnResult{}, c.err
	}
	pool := c.events()
	if !s.kRec.waitAll(pool, 30*time.Second) {
		return churnResult{}, fmt.Errorf("the pool of %d never reached the table (%d there)", o.pool, s.inTable())
	}
	time.Sleep(o.settle)
	before := s.k.counts()
	c.done = map[event]time.Time{}
	took := c.drive(o)
	if c.err != nil {
		return churnResult{}, c.err
	}
	res := churnResult{pool: o.pool, took: took}
	evs := c.events()
	s.kRec.waitAll(evs, 10*time.Second)
	s.fRec.waitAll(evs, time.Second)
	time.Sleep(o.settle)
	res.writes = s.k.counts().minus(before)
	for _, ev := range evs {
		if ev.verb == "create" {
			res.joins++
		} else {
			res.leaves++
		}
		at := c.done[ev]
		kt, kok := s.kRec.at(ev)
		ft, fok := s.fRec.at(ev)
		if kok {
			res.lags = append(res.lags, kt.Sub(at))
		} else {
			res.missed++
		}
		if fok {
			res.floorLags = append(res.floorLags, ft.Sub(at))
		} else {
			res.floorMissed++
		}
		if kok && fok {
			res.over = append(res.over, kt.Sub(ft))
		}
	}
	return res, nil
}

// events returns the changes made (and returned) so far.
func (c *churner) events() []event {
	c.mu.Lock()
	defer c.mu.Unlock()
	evs := make([]event, 0, len(c.done))
	for ev := range c.done {
		evs = append(evs, ev)
	}
	return evs
}

// drive makes the changes at o.rate for o.duration through a few writers
// (a slow call delays only its writer); it returns how long it took.
func (c *churner) drive(o options) time.Duration {
	work := make(chan int, 64)
	var wg sync.WaitGroup
	for range 2 * len(c.s.sessions) {
		wg.Go(func() {
			for i := range work {
				if i%2 == 0 {
					c.join()
				} else {
					c.leave(i)
				}
			}
		})
	}
	n := int(o.duration.Seconds() * o.rate)
	every := time.Duration(float64(time.Second) / o.rate)
	first := time.Now()
	for i := range n {
		time.Sleep(time.Until(first.Add(every * time.Duration(i))))
		work <- i
	}
	close(work)
	wg.Wait()
	return time.Since(first)
}
