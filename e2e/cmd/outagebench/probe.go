package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/lvsd/lb/internal/netnslab"
)

// probeResult is one request of the prober.
type probeResult struct {
	start, end time.Time
	ok         bool
}

// prober sends a GET to the VIP every interval from the client, each over
// a new connection, and keeps every result.
type prober struct {
	ns      *netnslab.Namespace
	every   time.Duration
	timeout time.Duration

	mu      sync.Mutex
	results []probeResult
	stopped chan struct{}
	once    sync.Once
	wg      sync.WaitGroup
}

func startProber(ns *netnslab.Namespace, every, timeout time.Duration) *prober {
	p := &prober{ns: ns, every: every, timeout: timeout, stopped: make(chan struct{})}
	p.wg.Add(1)
	go p.loop()
	return p
}

func (p *prober) loop() {
	defer p.wg.Done()
	tick := time.NewTicker(p.every)
	defer tick.Stop()
	for {
		select {
		case <-p.stopped:
			return
		case <-tick.C:
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			start := time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), p.timeout)
			_, err := get(ctx, p.ns, vipAddr)
			cancel()
			p.mu.Lock()
			p.results = append(p.results, probeResult{start: start, end: time.Now(), ok: err == nil})
			p.mu.Unlock()
		}()
	}
}

// stop ends the prober and waits for its requests.
func (p *prober) stop() {
	p.once.Do(func() { close(p.stopped) })
	p.wg.Wait()
}

// snapshot returns the results so far, by end time.
func (p *prober) snapshot() []probeResult {
	p.mu.Lock()
	out := slices.Clone(p.results)
	p.mu.Unlock()
	slices.SortFunc(out, func(a, b probeResult) int { return a.end.Compare(b.end) })
	return out
}

// waitServing waits until the last n requests ended all succeeded.
func (p *prober) waitServing(n int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		rs := p.snapshot()
		if len(rs) >= n && !slices.ContainsFunc(rs[len(rs)-n:], func(r probeResult) bool { return !r.ok }) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the client was not served %d times in a row within %v (%d requests)", n, limit, len(rs))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitRecovered waits until a request started after fault succeeded and
// then settle more, at most limit after fault.
func (p *prober) waitRecovered(fault time.Time, settle, limit time.Duration) error {
	for {
		rs := p.snapshot()
		if i := slices.IndexFunc(rs, func(r probeResult) bool { return r.ok && r.start.After(fault) }); i >= 0 {
			time.Sleep(settle)
			return nil
		}
		if time.Since(fault) > limit {
			return fmt.Errorf("the client was not served again within %v of the fault", limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// outcome is what the client saw around a fault.
type outcome struct {
	outage time.Duration // longest gap between two successful answers around the fault
	again  time.Duration // fault -> end of the first successful request started after it
	failed int           // requests that failed
	total  int
}

// measureOutcome computes the outcome from the results (by end time).
// The gaps considered are those ending after the fault.
func measureOutcome(rs []probeResult, fault time.Time) (outcome, error) {
	var o outcome
	var prev time.Time
	seenAgain := false
	for _, r := range rs {
		o.total++
		if !r.ok {
			o.failed++
			continue
		}
		if !prev.IsZero() && r.end.After(fault) {
			o.outage = max(o.outage, r.end.Sub(prev))
		}
		prev = r.end
		if !seenAgain && r.start.After(fault) {
			o.again, seenAgain = r.end.Sub(fault), true
		}
	}
	if !seenAgain {
		return o, errors.New("no request started after the fault succeeded")
	}
	return o, nil
}

// sniffer records when the client sees VRRP adverts from d1 (a packet
// socket on its eth0: the bridge floods the multicast adverts to it).
type sniffer struct {
	fd   int
	src  netip.Addr
	mu   sync.Mutex
	seen []time.Time
	done chan struct{}
}

func startSniffer(ns *netnslab.Namespace, src netip.Addr) (*sniffer, error) {
	s := &sniffer{src: src, fd: -1, done: make(chan struct{})}
	err := ns.Do(func() error {
		fd, err := syscall.Socket(syscall.AF_PACKET, syscall.SOCK_DGRAM, int(htons(syscall.ETH_P_IP)))
		if err != nil {
			return fmt.Errorf("packet socket: %w", err)
		}
		s.fd = fd
		return syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &syscall.Timeval{Usec: 100000})
	})
	if err != nil {
		if s.fd >= 0 {
			syscall.Close(s.fd)
		}
		return nil, err
	}
	go s.loop()
	return s, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func (s *sniffer) loop() {
	buf := make([]byte, 2048)
	for {
		select {
		case <-s.done:
			return
		default:
		}
		n, _, err := syscall.Recvfrom(s.fd, buf, 0)
		if err != nil || n < 20 {
			continue
		}
		at := time.Now()
		if buf[9] == 112 && netip.AddrFrom4([4]byte(buf[12:16])) == s.src {
			s.mu.Lock()
			s.seen = append(s.seen, at)
			s.mu.Unlock()
		}
	}
}

// next waits for an advert seen after t, at most limit.
func (s *sniffer) next(t time.Time, limit time.Duration) (time.Time, error) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		for _, at := range s.seen {
			if at.After(t) {
				s.mu.Unlock()
				return at, nil
			}
		}
		s.mu.Unlock()
		time.Sleep(2 * time.Millisecond)
	}
	return time.Time{}, fmt.Errorf("no advert from %s within %v", s.src, limit)
}

func (s *sniffer) close() {
	close(s.done)
	time.Sleep(150 * time.Millisecond) // the loop's read timeout
	syscall.Close(s.fd)
}
