package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lvsd/lb/e2e/ecmplab"
)

// settleLimit bounds the wait for every flow to be answered again after a
// fault.
const settleLimit = 30 * time.Second

// carriedBy returns the ports of fs's flows that director i's IPVS table
// holds ESTABLISHED.
func carriedBy(d *ecmplab.Director, fs *flowSet) (map[int]bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conns, err := d.Conns(ctx)
	if err != nil {
		return nil, err
	}
	out := map[int]bool{}
	for _, f := range fs.flows {
		if c, ok := conns[f.port]; ok && c.State == "ESTABLISHED" {
			out[f.port] = true
		}
	}
	return out, nil
}

// openTrialFlows opens the trial's flows and lets them trickle a while.
func (l *lab) openTrialFlows(o options, base int) (*flowSet, error) {
	fs, err := openFlows(l.tp, base, o.flows, o.every)
	if err != nil {
		return nil, errSetup{err}
	}
	time.Sleep(10 * o.every)
	return fs, nil
}

// drainTrial drains director v (lbctl drain-director: BGP withdraw) under
// the client's flows, measures, and announces it again.
func (l *lab) drainTrial(s *lbdStack, o options, v, base int) (outcome, error) {
	fs, err := l.openTrialFlows(o, base)
	if err != nil {
		return outcome{}, err
	}
	defer fs.close()
	carried, err := carriedBy(l.tp.Directors[v-1], fs)
	if err != nil {
		return outcome{}, err
	}
	if err := l.requireAll(); err != nil {
		return outcome{}, err
	}
	// lbctl runs while the route is polled: under a starved VM its own
	// start takes a second or more, which the route change includes.
	at := time.Now()
	lbctl := make(chan error, 1)
	var took time.Duration
	go func() { err := s.lbctl(v, "drain-director"); took = time.Since(at); lbctl <- err }()
	gone, err := l.waitHopsSince(at, others(v), 20*time.Second)
	if lerr := <-lbctl; lerr != nil || err != nil {
		return outcome{}, errors.Join(lerr, err)
	}
	// Served again counts from the route change: until then the drained
	// director still forwards.
	fs.waitSettled(at.Add(gone), settleLimit)
	res := measure(fs.records(), carried, at.Add(gone))
	res.routeGone, res.command = gone, took
	fs.close()
	if err := s.lbctl(v, "drain-director", "--undo"); err != nil {
		return res, errRestore{err}
	}
	if _, err := l.waitHops(all(), 60*time.Second); err != nil {
		return res, errRestore{fmt.Errorf("after the drain's undo: %w", err)}
	}
	return res, nil
}

// stack is the daemons announcing the VIP on the three directors: lbd,
// or bird2 (the anchor).
type stack interface {
	kill(v int)        // kill -9 director v's daemon
	start(v int) error // start it again
	logs() string
}

// killTrial cuts director v's link and kills its daemon (kill -9): the
// router notices only by the hold time or BFD. Then it restores the link
// and restarts the daemon.
func (l *lab) killTrial(s stack, o options, v, base int) (outcome, error) {
	fs, err := l.openTrialFlows(o, base)
	if err != nil {
		return outcome{}, err
	}
	defer fs.close()
	d := l.tp.Directors[v-1]
	carried, err := carriedBy(d, fs)
	if err != nil {
		return outcome{}, err
	}
	if err := l.requireAll(); err != nil {
		return outcome{}, err
	}
	if err := d.Link.Cut(); err != nil {
		return outcome{}, err
	}
	at := time.Now()
	s.kill(v)
	l.kills++
	gone, err := l.waitHopsSince(at, others(v), 20*time.Second)
	if err != nil {
		return outcome{}, err
	}
	fs.waitSettled(at, settleLimit)
	res := measure(fs.records(), carried, at)
	res.routeGone = gone
	fs.close()
	if err := d.Link.Restore(); err != nil {
		return res, errRestore{err}
	}
	if err := s.start(v); err != nil {
		return res, errRestore{err}
	}
	if _, err := l.waitHops(all(), 60*time.Second); err != nil {
		return res, errRestore{fmt.Errorf("after d%d's restart: %w\n%s", v, err, s.logs())}
	}
	return res, nil
}

// errRestore is a trial measured whose lab could not be put back as it
// was (the director not back in the route within a minute: a starved VM's
// sessions flapping): the trial counts, and the next one waits for the
// route (requireAll) or is not measured.
type errRestore struct{ error }

func (e errRestore) Unwrap() error { return e.error }

// requireAll waits, right before a fault, until the router's route has
// every director and, with BFD, its BFD session with each is up (a session
// that flapped under a starved VM would make the route change look instant,
// or leave only the hold time to notice): after 30 s, a set-up failure,
// tried again.
func (l *lab) requireAll() error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		why, err := l.notAll()
		if err != nil || why == "" {
			return err
		}
		if time.Now().After(deadline) {
			return errSetup{fmt.Errorf("before the fault: %s", why)}
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (l *lab) notAll() (string, error) {
	hops, err := l.tp.NextHops()
	if err != nil {
		return "", err
	}
	if !slices.Equal(hops, all()) {
		return fmt.Sprintf("the router's next hops are directors %v, want %v", hops, all()), nil
	}
	if !l.routerBFD {
		return "", nil
	}
	out, err := runIn(l.tp.Router, "birdc", "-s", l.routerSock, "show", "bfd", "sessions")
	if err != nil {
		return "", err
	}
	if up := bfdUp(out); !slices.Equal(up, all()) {
		return fmt.Sprintf("the router's BFD sessions up are with directors %v, want %v:\n%s", up, all(), strings.TrimSpace(out)), nil
	}
	return "", nil
}

// bfdUp reads birdc's "show bfd sessions" and returns the directors whose
// session is up, sorted.
func bfdUp(out string) []int {
	var ids []int
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || f[2] != "Up" || !strings.HasPrefix(f[0], "10.9.0.") {
			continue
		}
		if id, err := strconv.Atoi(strings.TrimPrefix(f[0], "10.9.0.")); err == nil {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// errSetup is a trial that failed before its fault (the client's flows
// could not be opened, a director's route missing): it is tried again.
type errSetup struct{ error }

func (e errSetup) Unwrap() error { return e.error }

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n") + "\n"
}
