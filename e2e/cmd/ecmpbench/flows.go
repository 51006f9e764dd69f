package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/lvsd/lb/e2e/ecmplab"
)

// flow is one long-lived TCP connection from a fixed source port carrying
// a trickle: a line every interval, answered by the real server's name.
// It stops at its first error (a reset, an EOF, no answer in readLimit).
type flow struct {
	port int
	c    *net.TCPConn
	br   *bufio.Reader
	mu   sync.Mutex
	rec  flowRecord
}

// readLimit is how long a flow waits for an answer before it counts as
// broken: longer than any takeover measured (a VRRP takeover plus TCP's
// retransmission back-off).
const readLimit = 20 * time.Second

// flowSet is the client's flows of one trial.
type flowSet struct {
	flows []*flow
	stop  chan struct{}
	wg    sync.WaitGroup
}

// openFlows opens n flows from source ports base.. with one exchange each,
// then starts their trickle (every interval).
func openFlows(tp *ecmplab.Topology, base, n int, every time.Duration) (*flowSet, error) {
	fs := &flowSet{stop: make(chan struct{})}
	for p := base; p < base+n; p++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, err := tp.Dial(ctx, p)
		cancel()
		if err != nil {
			fs.close()
			return nil, err
		}
		f := &flow{port: p, c: c, br: bufio.NewReader(c), rec: flowRecord{port: p}}
		fs.flows = append(fs.flows, f)
		if err := f.exchange(); err != nil {
			fs.close()
			return nil, fmt.Errorf("first exchange from port %d: %w", p, err)
		}
	}
	for _, f := range fs.flows {
		fs.wg.Add(1)
		go func() {
			defer fs.wg.Done()
			f.trickle(fs.stop, every)
		}()
	}
	return fs, nil
}

// exchange sends one line and reads the answer, recording its time or the
// error.
func (f *flow) exchange() error {
	_ = f.c.SetDeadline(time.Now().Add(readLimit))
	_, err := f.c.Write([]byte("ping\n"))
	if err == nil {
		_, err = f.br.ReadString('\n')
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err != nil {
		f.rec.err = err
		return err
	}
	f.rec.answers = append(f.rec.answers, time.Now())
	return nil
}

func (f *flow) trickle(stop <-chan struct{}, every time.Duration) {
	for {
		select {
		case <-stop:
			return
		case <-time.After(every):
		}
		if f.exchange() != nil {
			return
		}
	}
}

// records returns a copy of every flow's record.
func (fs *flowSet) records() []flowRecord {
	var out []flowRecord
	for _, f := range fs.flows {
		f.mu.Lock()
		r := f.rec
		r.answers = slices.Clone(r.answers)
		f.mu.Unlock()
		out = append(out, r)
	}
	return out
}

// settled reports whether every flow was answered after at or broke.
func (fs *flowSet) settled(at time.Time) bool {
	for _, r := range fs.records() {
		if _, ok := firstAfter(r.answers, at); !ok && r.err == nil {
			return false
		}
	}
	return true
}

// waitSettled waits until every flow was answered after at or broke, then
// a little longer (a flow answered once may still be reset), up to limit.
func (fs *flowSet) waitSettled(at time.Time, limit time.Duration) {
	deadline := at.Add(limit)
	for !fs.settled(at) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(time.Second)
}

// close stops the trickle and resets every connection (linger 0: no
// TIME_WAIT keeps a port, and the directors drop their entries).
func (fs *flowSet) close() {
	select {
	case <-fs.stop:
	default:
		close(fs.stop)
	}
	for _, f := range fs.flows {
		_ = f.c.SetLinger(0)
		_ = f.c.Close()
	}
	fs.wg.Wait()
}
