package vrrp

import (
	"net/netip"
	"sync"
	"testing"
	"time"
)

// fakeMonitor is a PeerMonitor whose sessions the test drives.
type fakeMonitor struct {
	mu      sync.Mutex
	watches map[netip.Addr]*fakeWatch
}

type fakeWatch struct {
	local   netip.Addr
	cfg     BFDConfig
	fn      func(PeerEvent)
	stopped bool
}

func newFakeMonitor() *fakeMonitor { return &fakeMonitor{watches: map[netip.Addr]*fakeWatch{}} }

func (m *fakeMonitor) Watch(local, peer netip.Addr, cfg BFDConfig, fn func(PeerEvent)) func() {
	m.mu.Lock()
	defer m.mu.Unlock()
	w := &fakeWatch{local: local, cfg: cfg, fn: fn}
	m.watches[peer] = w
	return func() {
		m.mu.Lock()
		w.stopped = true
		m.mu.Unlock()
	}
}

func (m *fakeMonitor) watching(peer string) *fakeWatch {
	m.mu.Lock()
	defer m.mu.Unlock()
	if w := m.watches[netip.MustParseAddr(peer)]; w != nil && !w.stopped {
		return w
	}
	return nil
}

func (m *fakeMonitor) fire(peer, state string, failed bool) {
	w := m.watching(peer)
	w.fn(PeerEvent{Peer: netip.MustParseAddr(peer), State: state, Up: state == "Up", Failed: failed, At: time.Now()})
}

func bfdConfig(name string, prio int) Config {
	c := fastConfig(name, prio)
	c.AdvertInterval = time.Second // Master_Down_Interval 3.6 s: BFD must beat it
	c.BFD = &BFDConfig{Interval: 100 * time.Millisecond, Multiplier: 3}
	return c
}

// TestRouterBFDTakeover: a backup with bfd watches the master it hears
// (from its own address); the master's session failing by silence makes it
// MASTER at once, long before Master_Down_Interval; a session that ends
// by the peer's word (AdminDown) does not; when the old master speaks
// again with its higher priority the backup steps back: one master.
func TestRouterBFDTakeover(t *testing.T) {
	lan := newFakeLAN()
	a := start(t, lan, newFakeHost(lan, "10.0.0.1"), Options{Instances: []Config{bfdConfig("VI_1", 200)}})
	mon := newFakeMonitor()
	b := start(t, lan, newFakeHost(lan, "10.0.0.2"), Options{Instances: []Config{bfdConfig("VI_1", 100)}, PeerMonitor: mon})
	waitState(t, a, "VI_1", StateMaster)
	waitState(t, b, "VI_1", StateBackup)
	eventually(t, "a session to the master", func() bool { return mon.watching("10.0.0.1") != nil })
	if w := mon.watching("10.0.0.1"); w.local != netip.MustParseAddr("10.0.0.2") || w.cfg.Interval != 100*time.Millisecond || w.cfg.Multiplier != 3 {
		t.Fatalf("watch %+v", w)
	}
	mon.fire("10.0.0.1", "Up", false)
	mon.fire("10.0.0.1", "Down", false) // the master said AdminDown: not a failure
	time.Sleep(100 * time.Millisecond)
	if s := b.state("VI_1"); s != StateBackup {
		t.Fatalf("a peer's AdminDown made the backup %v", s)
	}
	mon.fire("10.0.0.1", "Up", false)

	lan.setCut(netip.MustParseAddr("10.0.0.1"), true)
	fired := time.Now()
	mon.fire("10.0.0.1", "Down", true)
	waitState(t, b, "VI_1", StateMaster)
	if took := time.Since(fired); took > 2*time.Second {
		t.Errorf("took over %v after the BFD failure; Master_Down_Interval is 3.6s", took)
	}
	st := b.r.Stats().Instances[0]
	if st.BFDTakeovers != 1 || len(st.BFD) != 1 || st.BFD[0].State != "Down" || st.BFD[0].Failures != 1 {
		t.Errorf("stats: takeovers %d, sessions %+v", st.BFDTakeovers, st.BFD)
	}
	// As MASTER, a failure is only counted.
	mon.fire("10.0.0.1", "Up", false)
	mon.fire("10.0.0.1", "Down", true)
	time.Sleep(50 * time.Millisecond)
	if s := b.state("VI_1"); s != StateMaster {
		t.Fatalf("master went %v on a BFD failure", s)
	}
	lan.setCut(netip.MustParseAddr("10.0.0.1"), false)
	waitState(t, b, "VI_1", StateBackup)
	waitState(t, a, "VI_1", StateMaster)
	if n := b.r.Stats().Instances[0].BFDTakeovers; n != 1 {
		t.Errorf("takeovers %d, want 1", n)
	}
}

// TestRouterBFDUnicastPeers: with unicast_peers the sessions are to the
// peers from the start, whatever the state; without a monitor the
// instance runs on VRRP's timers alone.
func TestRouterBFDUnicastPeers(t *testing.T) {
	lan := newFakeLAN()
	c := bfdConfig("VI_1", 100)
	c.UnicastPeers = []netip.Addr{netip.MustParseAddr("10.0.0.7"), netip.MustParseAddr("10.0.0.8")}
	mon := newFakeMonitor()
	b := start(t, lan, newFakeHost(lan, "10.0.0.2"), Options{Instances: []Config{c}, PeerMonitor: mon})
	started(t, b)
	eventually(t, "sessions to both peers", func() bool {
		return mon.watching("10.0.0.7") != nil && mon.watching("10.0.0.8") != nil
	})
	b.stop(t)
	if mon.watching("10.0.0.7") != nil || mon.watching("10.0.0.8") != nil {
		t.Error("sessions not stopped with the router")
	}
	lone := start(t, lan, newFakeHost(lan, "10.0.0.3"), Options{Instances: []Config{c}})
	started(t, lone)
}
