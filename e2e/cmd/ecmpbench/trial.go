package main

import (
	"context"
	"fmt"
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
	at := time.Now()
	if err := s.lbctl(v, "drain-director"); err != nil {
		return outcome{}, err
	}
	gone, err := l.waitHopsSince(at, others(v), 20*time.Second)
	if err != nil {
		return outcome{}, err
	}
	fs.waitSettled(at.Add(gone), settleLimit)
	res := measure(fs.records(), carried, at)
	res.routeGone = gone
	fs.close()
	if err := s.lbctl(v, "drain-director", "--undo"); err != nil {
		return res, err
	}
	if _, err := l.waitHops(all(), 30*time.Second); err != nil {
		return res, fmt.Errorf("after the drain's undo: %w", err)
	}
	return res, nil
}

// killTrial cuts director v's link and kills its lbd (kill -9): the router
// notices only by the hold time or BFD. Then it restores the link and
// restarts lbd.
func (l *lab) killTrial(s *lbdStack, o options, v, base int) (outcome, error) {
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
	if err := d.Link.Cut(); err != nil {
		return outcome{}, err
	}
	at := time.Now()
	s.ds[v-1].kill()
	gone, err := l.waitHopsSince(at, others(v), 20*time.Second)
	if err != nil {
		return outcome{}, err
	}
	fs.waitSettled(at, settleLimit)
	res := measure(fs.records(), carried, at)
	res.routeGone = gone
	fs.close()
	if err := d.Link.Restore(); err != nil {
		return res, err
	}
	if err := s.start(v); err != nil {
		return res, err
	}
	if _, err := l.waitHops(all(), 60*time.Second); err != nil {
		return res, fmt.Errorf("after d%d's restart: %w\n%s", v, err, s.logs())
	}
	return res, nil
}

// errSetup is a trial that failed before its fault (the client's flows
// could not be opened).
type errSetup struct{ error }

func (e errSetup) Unwrap() error { return e.error }

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n") + "\n"
}
