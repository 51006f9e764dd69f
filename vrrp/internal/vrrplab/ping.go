package vrrplab

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// Pinger sends ICMP echo requests to an address at a fixed rate from a
// host and records when replies arrive (kernel receive timestamps): the
// client's view of a VIP. Below 2 ms the pace is kept with nanosleep(2),
// Go's timers being millisecond-grained.
type Pinger struct {
	conn    *net.IPConn
	pc      *ipv4.PacketConn
	id      int
	mu      sync.Mutex
	replies []time.Time
	stop    chan struct{}
	wg      sync.WaitGroup
}

// Ping starts pinging dst from h every interval.
func (l *Lab) Ping(h *Host, dst netip.Addr, every time.Duration) (*Pinger, error) {
	p := &Pinger{id: rand.IntN(0xffff), stop: make(chan struct{})}
	err := h.NS.Do(func() error {
		c, err := net.ListenPacket("ip4:icmp", "0.0.0.0")
		if err != nil {
			return err
		}
		p.conn = c.(*net.IPConn)
		sc, err := p.conn.SyscallConn()
		if err != nil {
			return err
		}
		var serr error
		if err := sc.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
		}); err != nil {
			return err
		}
		return serr
	})
	if err != nil {
		if p.conn != nil {
			p.conn.Close()
		}
		return nil, fmt.Errorf("opening ICMP socket on %s: %w", h.Name, err)
	}
	p.pc = ipv4.NewPacketConn(p.conn)
	p.wg.Add(2)
	go p.send(dst, every)
	go p.recv()
	return p, nil
}

func (p *Pinger) send(dst netip.Addr, every time.Duration) {
	defer p.wg.Done()
	precise := every < 2*time.Millisecond
	if precise {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
	}
	to := &net.IPAddr{IP: dst.AsSlice()}
	next := time.Now()
	for seq := 0; ; seq++ {
		m := icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &icmp.Echo{ID: p.id, Seq: seq & 0xffff, Data: []byte("vrrplab")}}
		b, _ := m.Marshal(nil)
		p.conn.WriteTo(b, to)
		select {
		case <-p.stop:
			return
		default:
		}
		next = next.Add(every)
		if d := time.Until(next); d > 0 {
			if precise {
				ts := unix.NsecToTimespec(int64(d))
				unix.Nanosleep(&ts, nil)
			} else {
				time.Sleep(d)
			}
		} else {
			next = time.Now()
		}
	}
}

func (p *Pinger) recv() {
	defer p.wg.Done()
	buf := make([]byte, 1500)
	oob := make([]byte, 256)
	for {
		ms := []ipv4.Message{{Buffers: [][]byte{buf}, OOB: oob}}
		if _, err := p.pc.ReadBatch(ms, 0); err != nil {
			return
		}
		at := time.Now()
		if msgs, err := unix.ParseSocketControlMessage(oob[:ms[0].NN]); err == nil {
			for _, m := range msgs {
				if m.Header.Level == syscall.SOL_SOCKET && m.Header.Type == unix.SO_TIMESTAMPNS && len(m.Data) >= 16 {
					at = time.Unix(int64(binary.NativeEndian.Uint64(m.Data[0:8])), int64(binary.NativeEndian.Uint64(m.Data[8:16])))
				}
			}
		}
		b := buf[:ms[0].N]
		if len(b) < 20 {
			continue
		}
		ihl := int(b[0]&0x0f) * 4
		if ihl > len(b) {
			continue
		}
		m, err := icmp.ParseMessage(1, b[ihl:])
		if err != nil || m.Type != ipv4.ICMPTypeEchoReply {
			continue
		}
		if e, ok := m.Body.(*icmp.Echo); !ok || e.ID != p.id {
			continue
		}
		p.mu.Lock()
		if len(p.replies) >= 1<<20 { // keep the last few minutes
			p.replies = append(p.replies[:0], p.replies[len(p.replies)/2:]...)
		}
		p.replies = append(p.replies, at)
		p.mu.Unlock()
	}
}

// FirstReplyAfter returns the first reply received after t.
func (p *Pinger) FirstReplyAfter(t time.Time) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range p.replies {
		if r.After(t) {
			return r, true
		}
	}
	return time.Time{}, false
}

// WaitReplyAfter waits up to timeout for a reply after t.
func (p *Pinger) WaitReplyAfter(t time.Time, timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	for {
		if r, ok := p.FirstReplyAfter(t); ok {
			return r, nil
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("no echo reply within %v", timeout)
		}
		time.Sleep(time.Millisecond)
	}
}

// LongestGap returns the longest time without a reply between from and
// the last reply: the outage a client saw.
func (p *Pinger) LongestGap(from time.Time) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	var gap time.Duration
	prev := from
	for _, r := range p.replies {
		if r.Before(from) {
			continue
		}
		if d := r.Sub(prev); d > gap {
			gap = d
		}
		prev = r
	}
	return gap
}

// Close stops the pinger.
func (p *Pinger) Close() {
	close(p.stop)
	p.conn.Close()
	p.wg.Wait()
}
