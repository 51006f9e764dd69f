package vrrp

import (
	"context"
	"testing"
	"time"
)

// startDrained is start with the router drained before Run (lbd starting
// with drain-director in force).
func startDrained(t *testing.T, lan *fakeLAN, h *fakeHost, opts Options) *running {
	t.Helper()
	run := &running{host: h, done: make(chan error, 1)}
	opts.Env = h.env(lan)
	opts.Logger = quietLog()
	r, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	r.SetDrained(true)
	ctx, cancel := context.WithCancel(context.Background())
	run.r, run.cancel = r, cancel
	go func() { run.done <- r.Run(ctx) }()
	t.Cleanup(func() { run.stop(t) })
	return run
}

// A drained master hands over: the peer takes over first (a priority 0
// advert; preempt or not), the master keeps the VIP until then, and stays
// BACKUP at priority 1 until undrained, when it preempts again.
func TestRouterDrainHandsOver(t *testing.T) {
	const vip = "192.168.56.90/32"
	for _, tc := range []struct {
		name      string
		noPreempt bool // the peer's
	}{
		{name: "peer preempts"},
		{name: "peer nopreempt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lan := newFakeLAN()
			a := start(t, lan, newFakeHost(lan, "10.0.0.1"), Options{Instances: []Config{fastConfig("VI_1", 200)}})
			cb := fastConfig("VI_1", 100)
			cb.NoPreempt = tc.noPreempt
			b := start(t, lan, newFakeHost(lan, "10.0.0.2"), Options{Instances: []Config{cb}})
			waitState(t, a, "VI_1", StateMaster)
			waitState(t, b, "VI_1", StateBackup)
			bRec := recordChanges(t, b)
			a.r.SetDrained(true)
			waitState(t, b, "VI_1", StateMaster)
			waitState(t, a, "VI_1", StateBackup)
			took := bRec.to(StateMaster)
			removed := a.host.addrs.removedAt(vip)
			if len(took) == 0 || removed.IsZero() || removed.Before(took[0].At) {
				t.Fatalf("the drained master released the VIP at %v, the peer took over at %v: it must release after", removed, took)
			}
			as := a.r.Stats().Instances[0]
			if as.PriorityZeroSent != 1 || as.Priority != DrainPriority || !a.r.Drained() {
				t.Fatalf("drained router: %d priority 0 adverts (want 1), priority %d (want %d)", as.PriorityZeroSent, as.Priority, DrainPriority)
			}
			// It stays BACKUP over many adverts of the lower priority peer.
			time.Sleep(10 * fastAdvert)
			if s := a.state("VI_1"); s != StateBackup {
				t.Fatalf("drained router is %v", s)
			}
			a.r.SetDrained(false)
			waitState(t, a, "VI_1", StateMaster)
			if p := a.r.Stats().Instances[0].Priority; p != 200 {
				t.Fatalf("undrained priority %d", p)
			}
		})
	}
}

// Without a peer a drained master keeps its addresses (at priority 1):
// drain never leaves them unserved.
func TestRouterDrainWithoutPeerKeepsMastership(t *testing.T) {
	lan := newFakeLAN()
	a := start(t, lan, newFakeHost(lan, "10.0.0.1"), Options{Instances: []Config{fastConfig("VI_1", 200)}})
	waitState(t, a, "VI_1", StateMaster)
	a.r.SetDrained(true)
	eventually(t, "priority 1", func() bool { return a.r.Stats().Instances[0].Priority == DrainPriority })
	time.Sleep(10 * fastAdvert)
	if s := a.state("VI_1"); s != StateMaster || !a.host.addrs.has("192.168.56.90/32") {
		t.Fatalf("alone and drained: %v, VIP held %v", s, a.host.addrs.has("192.168.56.90/32"))
	}
}

// A router started drained (lbd restarting with drain-director in force)
// comes up BACKUP under a lower priority master.
func TestRouterStartsDrained(t *testing.T) {
	lan := newFakeLAN()
	b := start(t, lan, newFakeHost(lan, "10.0.0.2"), Options{Instances: []Config{fastConfig("VI_1", 100)}})
	waitState(t, b, "VI_1", StateMaster)
	a := startDrained(t, lan, newFakeHost(lan, "10.0.0.1"), Options{Instances: []Config{fastConfig("VI_1", 200)}})
	waitState(t, a, "VI_1", StateBackup)
	time.Sleep(masterDown(1) + 5*fastAdvert)
	if s := a.state("VI_1"); s != StateBackup {
		t.Fatalf("started drained: %v", s)
	}
	if s := b.state("VI_1"); s != StateMaster {
		t.Fatalf("the peer: %v", s)
	}
}
