package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
)

// burstResult is figure (a): members registering within a window.
type burstResult struct {
	members  int
	written  time.Duration // first create to the last create's return
	converge time.Duration // first create to the table holding every member
	floor    time.Duration // first create to the floor watcher listing every member
	inTable  int           // members in the table at the end
	writes   counts        // IPVS writes from the first create on
	floorOK  bool
}

// scene is one scenario's set-up: a base path, the director under test and
// the floor watcher on it, and client sessions registering members.
type scene struct {
	servers      []string
	path         string
	k            *probeKernel
	kRec, fRec   *recorder
	sessions     []*zk.Conn
	stop, stopFl func()
}

func newScene(ctx context.Context, servers []string, path string, start startTarget, sessions int) (*scene, error) {
	s := &scene{servers: servers, path: path, kRec: newRecorder(), fRec: newRecorder()}
	admin, err := session(servers, sessionTimeout)
	if err != nil {
		return nil, err
	}
	defer admin.Close()
	if _, err := admin.Create(path, nil, 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	s.k = kernelProbe(s.kRec)
	if s.stop, err = start(ctx, servers, path, s.k); err != nil {
		return nil, fmt.Errorf("the director under test: %w", err)
	}
	if s.stopFl, err = startFloor(ctx, servers, path, s.fRec); err != nil {
		s.close()
		return nil, fmt.Errorf("the floor watcher: %w", err)
	}
	for range sessions {
		c, err := session(servers, sessionTimeout)
		if err != nil {
			s.close()
			return nil, err
		}
		s.sessions = append(s.sessions, c)
	}
	for deadline := time.Now().Add(10 * time.Second); len(s.k.Table().Services) == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			s.close()
			return nil, errors.New("the virtual service never reached the table")
		}
	}
	return s, nil
}

// close stops the director and the floor first, then the sessions (whose
// members go with them).
func (s *scene) close() {
	if s.stop != nil {
		s.stop()
	}
	if s.stopFl != nil {
		s.stopFl()
	}
	for _, c := range s.sessions {
		c.Close()
	}
}

// register creates a member as the seed's AppServer does, on session i.
func (s *scene) register(i int, addr string) (string, error) {
	p, err := s.sessions[i%len(s.sessions)].Create(s.path+"/sub", []byte(addr), zk.FlagEphemeral|zk.FlagSequence, zk.WorldACL(zk.PermAll))
	if err != nil {
		return "", fmt.Errorf("register %s: %w", addr, err)
	}
	return p, nil
}

// inTable counts the service's destinations.
func (s *scene) inTable() int {
	ss := s.k.Table().Services
	if len(ss) == 0 {
		return 0
	}
	return len(ss[0].Destinations)
}

// runBurst registers n members paced evenly over window, from every
// session with perSession writers each.
func runBurst(ctx context.Context, servers []string, start startTarget, o options) (burstResult, error) {
	s, err := newScene(ctx, servers, "/sgroup", start, o.sessions)
	if err != nil {
		return burstResult{}, err
	}
	defer s.close()
	before := s.k.counts()
	n := o.members
	evs := make([]event, n)
	for i := range n {
		evs[i] = event{"create", memberAddr(1, i)}
	}
	first := time.Now()
	errs := make(chan error, n)
	var wg sync.WaitGroup
	writers := o.sessions * 8
	for w := range writers {
		wg.Go(func() {
			for i := w; i < n; i += writers {
				time.Sleep(time.Until(first.Add(o.window * time.Duration(i) / time.Duration(n))))
				if _, err := s.register(i, evs[i].addr); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	res := burstResult{members: n, written: time.Since(first)}
	close(errs)
	if err := <-errs; err != nil {
		return res, err
	}
	s.kRec.waitAll(evs, o.settle+30*time.Second)
	res.floorOK = s.fRec.waitAll(evs, 5*time.Second)
	time.Sleep(o.settle) // any write after the last member's is counted too
	last, _ := s.kRec.last(evs)
	res.converge = last.Sub(first)
	flast, _ := s.fRec.last(evs)
	res.floor = flast.Sub(first)
	res.inTable, res.writes = s.inTable(), s.k.counts().minus(before)
	return res, nil
}
