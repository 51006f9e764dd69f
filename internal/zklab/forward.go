package zklab

import (
	"io"
	"net"
	"sync"
	"time"
)

// Forwarder relays the TCP connections a listener accepts to a target
// address, both ways. The listener may live in another network namespace
// (netnslab's Namespace.Listen makes it there): a process in that
// namespace then reaches the ensemble on the host's 127.0.0.1. Pause cuts
// every relayed connection and refuses new ones, as a partition between
// the clients and the ensemble would (the servers then expire the clients'
// sessions); Resume lets them through again.
type Forwarder struct {
	l      net.Listener
	target string

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	paused bool
	closed bool
	wg     sync.WaitGroup
}

// Forward starts relaying l's connections to target (host:port); Close
// stops it.
func Forward(l net.Listener, target string) *Forwarder {
	f := &Forwarder{l: l, target: target, conns: map[net.Conn]struct{}{}}
	f.wg.Add(1)
	go f.serve()
	return f
}

// ForwardEnsemble forwards each of e's nodes from a listener listen
// returns (one call per node), and returns the forwarders, whose Addr
// are the addresses to give the clients.
func ForwardEnsemble(e *Ensemble, listen func() (net.Listener, error)) ([]*Forwarder, error) {
	var fs []*Forwarder
	for _, n := range e.Nodes {
		l, err := listen()
		if err != nil {
			for _, f := range fs {
				f.Close()
			}
			return nil, err
		}
		fs = append(fs, Forward(l, n.Client))
	}
	return fs, nil
}

// Addr is the listening address.
func (f *Forwarder) Addr() string { return f.l.Addr().String() }

func (f *Forwarder) serve() {
	defer f.wg.Done()
	for {
		c, err := f.l.Accept()
		if err != nil {
			return
		}
		f.mu.Lock()
		if f.paused || f.closed {
			f.mu.Unlock()
			c.Close()
			continue
		}
		f.conns[c] = struct{}{}
		f.wg.Add(1)
		f.mu.Unlock()
		go f.relay(c)
	}
}

func (f *Forwarder) relay(c net.Conn) {
	defer f.wg.Done()
	defer f.drop(c)
	up, err := net.DialTimeout("tcp", f.target, 5*time.Second)
	if err != nil {
		return
	}
	f.mu.Lock()
	if f.paused || f.closed {
		f.mu.Unlock()
		up.Close()
		return
	}
	f.conns[up] = struct{}{}
	f.mu.Unlock()
	defer f.drop(up)
	done := make(chan struct{}, 2)
	go func() { io.Copy(up, c); done <- struct{}{} }()
	go func() { io.Copy(c, up); done <- struct{}{} }()
	<-done // one way ended: end both
	c.Close()
	up.Close()
	<-done
}

func (f *Forwarder) drop(c net.Conn) {
	c.Close()
	f.mu.Lock()
	delete(f.conns, c)
	f.mu.Unlock()
}

// Pause closes every relayed connection and refuses new ones until
// Resume.
func (f *Forwarder) Pause() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.paused = true
	for c := range f.conns {
		c.Close()
	}
}

// Resume lets connections through again.
func (f *Forwarder) Resume() {
	f.mu.Lock()
	f.paused = false
	f.mu.Unlock()
}

// Close stops listening, cuts every relayed connection and waits for the
// relays to end.
func (f *Forwarder) Close() error {
	f.mu.Lock()
	f.closed = true
	for c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	err := f.l.Close()
	f.wg.Wait()
	return err
}
