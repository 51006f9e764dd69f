package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
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
	dialed     time.Time // the connection established (zero: never)
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
			_, dialed, err := getTimed(ctx, p.ns, vipAddr)
			cancel()
			p.mu.Lock()
			p.results = append(p.results, probeResult{start: start, end: time.Now(), dialed: dialed, ok: err == nil})
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

// waitRecovered waits until the backup has taken over (newMaster reports
// it holds the VIP) and a request sent after that was answered, then
// settle more, at most limit after fault. (Requests sent just after the
// fault can still be answered by the old master: the cut takes effect a
// little later, and a stopping master serves until it drops the VIP.)
func (p *prober) waitRecovered(fault time.Time, newMaster func() bool, settle, limit time.Duration) error {
	var took time.Time
	for {
		if took.IsZero() && newMaster() {
			took = time.Now()
		}
		if !took.IsZero() {
			rs := p.snapshot()
			if slices.ContainsFunc(rs, func(r probeResult) bool { return r.ok && r.start.After(took) }) {
				time.Sleep(settle)
				return nil
			}
		}
		if time.Since(fault) > limit {
			if took.IsZero() {
				return fmt.Errorf("d2 did not take the VIP within %v of the fault", limit)
			}
			return fmt.Errorf("the client was not served again within %v of the fault (d2 took the VIP %.3fs after it)", limit, took.Sub(fault).Seconds())
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

// event is one frame the client saw: a VRRP advert, an ARP for the VIP,
// or one of its own SYNs to the VIP.
type event struct {
	at   time.Time
	kind string // "advert", "arp", "syn"
	src  netip.Addr
	mac  net.HardwareAddr // advert, arp: the sender's; syn: the destination's
	prio int              // advert
}

// sniffer records the frames of interest on the client's eth0 (a packet
// socket; the bridge floods adverts and broadcasts to it, and it sees the
// client's own SYNs).
type sniffer struct {
	fd   int
	mu   sync.Mutex
	evs  []event
	done chan struct{}
}

func startSniffer(ns *netnslab.Namespace) (*sniffer, error) {
	s := &sniffer{fd: -1, done: make(chan struct{})}
	err := ns.Do(func() error {
		fd, err := syscall.Socket(syscall.AF_PACKET, syscall.SOCK_RAW, int(htons(syscall.ETH_P_ALL)))
		if err != nil {
			return fmt.Errorf("packet socket: %w", err)
		}
		s.fd = fd
		// The kernel's receive time: on a loaded VM this loop reads
		// frames hundreds of ms late, in bursts that would share a time.
		if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1); err != nil {
			return fmt.Errorf("SO_TIMESTAMPNS: %w", err)
		}
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
	buf, oob := make([]byte, 2048), make([]byte, 128)
	for {
		select {
		case <-s.done:
			return
		default:
		}
		n, oobn, _, _, err := syscall.Recvmsg(s.fd, buf, oob, 0)
		if err != nil {
			continue
		}
		if ev, ok := parseFrame(buf[:n]); ok {
			ev.at = rxTime(oob[:oobn])
			s.mu.Lock()
			s.evs = append(s.evs, ev)
			s.mu.Unlock()
		}
	}
}

// rxTime is the kernel's receive time in a packet's control messages
// (SO_TIMESTAMPNS), or now without one.
func rxTime(oob []byte) time.Time {
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err == nil {
		for _, m := range msgs {
			if m.Header.Level == syscall.SOL_SOCKET && m.Header.Type == syscall.SO_TIMESTAMPNS && len(m.Data) >= 16 {
				sec := int64(binary.NativeEndian.Uint64(m.Data[0:8]))
				nsec := int64(binary.NativeEndian.Uint64(m.Data[8:16]))
				return time.Unix(sec, nsec)
			}
		}
	}
	return time.Now()
}

var vip4 = netip.MustParseAddr(vipAddr)

// parseFrame picks the frames of interest out of an Ethernet frame.
func parseFrame(f []byte) (event, bool) {
	if len(f) < 14 {
		return event{}, false
	}
	dst, src, typ, p := net.HardwareAddr(slices.Clone(f[0:6])), net.HardwareAddr(slices.Clone(f[6:12])), uint16(f[12])<<8|uint16(f[13]), f[14:]
	switch {
	case typ == 0x0806 && len(p) >= 28:
		tpa := netip.AddrFrom4([4]byte(p[24:28]))
		if tpa != vip4 {
			return event{}, false
		}
		return event{kind: "arp", src: netip.AddrFrom4([4]byte(p[14:18])), mac: net.HardwareAddr(slices.Clone(p[8:14]))}, true
	case typ == 0x0800 && len(p) >= 20:
		ihl := int(p[0]&0x0f) * 4
		from, to := netip.AddrFrom4([4]byte(p[12:16])), netip.AddrFrom4([4]byte(p[16:20]))
		switch {
		case p[9] == 112 && len(p) >= ihl+3:
			return event{kind: "advert", src: from, mac: src, prio: int(p[ihl+2])}, true
		case p[9] == 6 && len(p) >= ihl+14 && to == vip4 && p[ihl+13]&0x12 == 0x02: // SYN without ACK
			return event{kind: "syn", src: from, mac: dst}, true
		}
	}
	return event{}, false
}

// nextAdvert waits for an advert from src seen after t, at most limit.
func (s *sniffer) nextAdvert(src netip.Addr, t time.Time, limit time.Duration) (time.Time, error) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		for _, e := range s.evs {
			if e.kind == "advert" && e.src == src && e.at.After(t) {
				s.mu.Unlock()
				return e.at, nil
			}
		}
		s.mu.Unlock()
		time.Sleep(2 * time.Millisecond)
	}
	return time.Time{}, fmt.Errorf("no advert from %s within %v", src, limit)
}

func (s *sniffer) events() []event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.evs)
}

func (s *sniffer) close() {
	close(s.done)
	time.Sleep(150 * time.Millisecond) // the loop's read timeout
	syscall.Close(s.fd)
}
