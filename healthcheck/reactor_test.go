//go:build linux

package healthcheck

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestHeadEnd(t *testing.T) {
	tests := []struct {
		in   string
		from int
		want int
	}{
		{"HTTP/1.0 200 OK\r\n\r\nbody", 0, 19},
		{"HTTP/1.0 200 OK\n\nbody", 0, 17},
		{"HTTP/1.0 200 OK\r\nA: b\r\n\r\n", 0, 25},
		{"HTTP/1.0 200 OK\r\nA: b\r\n", 0, -1},
		{"HTTP/1.0 200 OK\r\n\r", 0, -1},
		{"HTTP/1.0 200 OK\r\n\r\n", 15, 19},
	}
	for _, tt := range tests {
		if got := headEnd([]byte(tt.in), tt.from); got != tt.want {
			t.Errorf("headEnd(%q, %d) = %d, want %d", tt.in, tt.from, got, tt.want)
		}
	}
}

// TestFragmentedResponse sends the response a few bytes at a time, so that
// the head and the body arrive split across many reads.
func TestFragmentedResponse(t *testing.T) {
	body := "fragmented body\n"
	resp := fmt.Sprintf("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = c.Read(make([]byte, 1024))
				for i := 0; i < len(resp); i += 3 {
					_, _ = c.Write([]byte(resp[i:min(i+3, len(resp))]))
					time.Sleep(time.Millisecond)
				}
			}()
		}
	}()
	target := netip.MustParseAddrPort(l.Addr().String())
	r := check(t, Spec{Type: TypeHTTP, Target: target, URLs: []URL{{Path: "/a", Digest: md5hex(body)}, {Path: "/b"}}}, okTimeout)
	if !r.OK || r.Reason != "GET /b: status 200" {
		t.Errorf("Check = %+v", r)
	}
	r = check(t, Spec{Type: TypeHTTP, Target: target, URLs: []URL{{Path: "/a", Digest: md5hex("other")}}}, okTimeout)
	if r.OK || r.Kind != KindDigest {
		t.Errorf("Check = %+v, want a digest mismatch", r)
	}
}

// TestReactorWakeAfterStop: a wake-up that comes after the loop has
// stopped (context.AfterFunc runs it on its own goroutine, and stop does not
// wait for it; start and cancel can race the stop too) must not write to
// the eventfd's old descriptor number, which by then may be another
// socket's: an HTTPS check's, whose peer then read 8 stray bytes.
func TestReactorWakeAfterStop(t *testing.T) {
	rc, err := newReactor(newResources())
	if err != nil {
		t.Fatal(err)
	}
	old := rc.evfd
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rc.run(ctx) // returns at once: ctx is done

	// Take the old number back (the kernel hands out the lowest free
	// one), as a new socket would.
	var mine []int
	defer func() {
		for _, fd := range mine {
			unix.Close(fd)
		}
	}()
	r := -1
	for len(mine) < 1024 && r < 0 {
		var p [2]int
		if err := unix.Pipe2(p[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
			t.Fatal(err)
		}
		mine = append(mine, p[0], p[1])
		if p[1] == old {
			r = p[0]
		}
	}
	if r < 0 {
		t.Fatalf("descriptor %d never came back", old)
	}

	rc.wake()                                               // a late AfterFunc
	rc.start(&tcpChecker{}, time.Second, func(Result) {})() // a late start, then its cancel
	var b [16]byte
	if n, err := unix.Read(r, b[:]); !errors.Is(err, unix.EAGAIN) {
		t.Errorf("the stopped reactor wrote %d bytes %x to descriptor %d, now another file's (read err %v)", n, b[:max(n, 0)], old, err)
	}
}

// TestReactorWaitsOnThePoller: the loop's wait parks on Go's network
// poller (no thread held in epoll_wait), returns at its deadline with no
// event, and at once when woken.
func TestReactorWaitsOnThePoller(t *testing.T) {
	rc, err := newReactor(newResources())
	if err != nil {
		t.Fatalf("newReactor: %v", err)
	}
	defer rc.epf.Close()
	defer unix.Close(rc.evfd)
	if rc.epraw == nil {
		t.Fatalf("the epoll descriptor was not registered with the poller")
	}
	events := make([]unix.EpollEvent, 8)
	start := time.Now()
	n, err := rc.wait(events, start.Add(50*time.Millisecond))
	if err != nil || n != 0 {
		t.Fatalf("idle wait = %d, %v; want 0, nil", n, err)
	}
	if took := time.Since(start); took < 50*time.Millisecond {
		t.Errorf("idle wait returned after %v, before its deadline", took)
	}
	go func() {
		time.Sleep(20 * time.Millisecond)
		rc.wake()
	}()
	start = time.Now()
	n, err = rc.wait(events, start.Add(time.Minute))
	if err != nil || n != 1 || int(events[0].Fd) != rc.evfd {
		t.Fatalf("woken wait = %d (%v), %v; want the eventfd", n, events[:max(n, 0)], err)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("the wake-up took %v", took)
	}
}

// TestReactorHarvestsBeforeTimeouts: a loop that fell behind (a starved
// machine) takes every event already there before it fails checks past
// their deadline: connections that completed while it was away are
// successes, not timeouts. Before, it read one batch of events and then
// failed the rest as timed out.
func TestReactorHarvestsBeforeTimeouts(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	target := netip.MustParseAddrPort(l.Addr().String())
	rc, err := newReactor(newResources())
	if err != nil {
		t.Fatal(err)
	}
	rc.batch = 2
	first := true
	rc.beforeWait = func() {
		if first && len(rc.conns) > 0 {
			first = false
			time.Sleep(400 * time.Millisecond) // past every deadline; the connects complete meanwhile
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const n = 8
	results := make(chan Result, n)
	for range n {
		rc.start(newTCPChecker(Spec{Type: TypeTCP, Target: target}), 200*time.Millisecond, func(r Result) { results <- r })
	}
	go rc.run(ctx)
	for i := range n {
		select {
		case r := <-results:
			if !r.OK {
				t.Errorf("check %d: %+v, want connected: its connection completed before the loop looked", i, r)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("check %d never ended", i)
		}
	}
}
