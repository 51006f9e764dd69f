//go:build netns

package vrrp

import (
	"context"
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// niceAnnouncer records the nice value of the thread each announcement
// is made from (the event loop's).
type niceAnnouncer struct {
	mu    sync.Mutex
	nices []int
}

func (a *niceAnnouncer) Announce(string, []netip.Addr, int, time.Duration) error {
	p, err := unix.Getpriority(unix.PRIO_PROCESS, unix.Gettid())
	a.mu.Lock()
	defer a.mu.Unlock()
	if err == nil {
		a.nices = append(a.nices, 20-p)
	}
	return nil
}

func (a *niceAnnouncer) seen() []int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]int(nil), a.nices...)
}

// TestNetnsRouterLoopPriority (root: CAP_SYS_NICE): a takeover's advert,
// address add and gratuitous ARPs run on a thread of priority loopNice,
// so that the threads they wake do not come between them; after Run the
// thread is back to its nice value.
func TestNetnsRouterLoopPriority(t *testing.T) {
	lan := newFakeLAN()
	h := newFakeHost(lan, "10.0.0.1")
	ann := &niceAnnouncer{}
	env := h.env(lan)
	env.Announcer = ann
	r, err := New(Options{Instances: []Config{fastConfig("VI_1", 200)}, Env: env, Logger: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	after := make(chan int, 1)
	go func() {
		runtime.LockOSThread() // so that the thread's nice value can be read after Run
		defer runtime.UnlockOSThread()
		_ = r.Run(ctx)
		p, _ := unix.Getpriority(unix.PRIO_PROCESS, unix.Gettid())
		after <- 20 - p
	}()
	eventually(t, "a gratuitous ARP from the master", func() bool { return len(ann.seen()) > 0 })
	cancel()
	if got := <-after; got != 0 {
		t.Errorf("nice value after Run: %d, want 0", got)
	}
	for _, n := range ann.seen() {
		if n != loopNice {
			t.Errorf("gratuitous ARP sent from a thread of nice %d, want %d", n, loopNice)
		}
	}
}
