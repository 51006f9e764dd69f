package vrrp

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

const fastAdvert = 40 * time.Millisecond

// fastConfig is a VRRPv3 instance with 40 ms adverts: quick enough for unit
// tests that run real timers.
func fastConfig(name string, prio int) Config {
	return Config{
		Name: name, Interface: "eth0", VRID: 51, Version: 3, Priority: prio, AdvertInterval: fastAdvert,
		VIPs:   []VIP{{Prefix: netip.MustParsePrefix("192.168.56.90/32"), Label: "eth0:0"}},
		GARP:   DefaultGARPConfig(),
		Notify: Notify{Master: []string{"/bin/notify-master"}, Any: []string{"/bin/notify", "x"}},
	}
}

type running struct {
	r      *Router
	host   *fakeHost
	cancel context.CancelFunc
	done   chan error

	mu      sync.Mutex
	changes []StateChange // every OnStateChange, in order
}

// changesSoFar returns the state changes seen so far.
func (run *running) changesSoFar() []StateChange {
	run.mu.Lock()
	defer run.mu.Unlock()
	return slices.Clone(run.changes)
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func start(t *testing.T, lan *fakeLAN, h *fakeHost, opts Options) *running {
	t.Helper()
	run := &running{host: h, done: make(chan error, 1)}
	opts.Env = h.env(lan)
	opts.Logger = quietLog()
	next := opts.OnStateChange
	opts.OnStateChange = func(c StateChange) {
		run.mu.Lock()
		run.changes = append(run.changes, c)
		run.mu.Unlock()
		if next != nil {
			next(c)
		}
	}
	r, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	run.r, run.cancel = r, cancel
	go func() { run.done <- r.Run(ctx) }()
	t.Cleanup(func() { run.stop(t) })
	return run
}

func (run *running) stop(t *testing.T) {
	t.Helper()
	run.cancel()
	select {
	case err := <-run.done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
		run.done <- nil
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
}

func (run *running) state(name string) State {
	for _, i := range run.r.Stats().Instances {
		if i.Name == name {
			return i.State
		}
	}
	return StateInit
}

func eventually(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func waitState(t *testing.T, run *running, name string, s State) {
	t.Helper()
	eventually(t, fmt.Sprintf("%s to be %v (is %v)", name, s, run.state(name)), func() bool { return run.state(name) == s })
}

// started waits until VI_1 has left INIT: its router handles adverts.
func started(t *testing.T, run *running) {
	t.Helper()
	eventually(t, "VI_1 started", func() bool { return run.state("VI_1") != StateInit })
}

// masterDown is a v3 backup's Master_Down_Interval under a master
// advertising every fastAdvert: 3 x interval + (256 - prio) x interval / 256.
func masterDown(prio uint8) time.Duration {
	return 3*fastAdvert + time.Duration(256-int(prio))*fastAdvert/256
}

// changes is a router's state changes from a point on.
type changes struct {
	run  *running
	from int
}

// recordChanges returns the router's state changes from now on.
func recordChanges(t *testing.T, run *running) *changes {
	return &changes{run: run, from: len(run.changesSoFar())}
}

func (c *changes) to(s State) []StateChange {
	var out []StateChange
	for _, sc := range c.run.changesSoFar()[c.from:] {
		if sc.To == s {
			out = append(out, sc)
		}
	}
	return out
}

// holdsBackup lets n more adverts from master reach backup (counted, not
// timed) or waits for its first takeover, then checks every takeover backup
// made against the
// rule of the protocol, which holds however busy the machine is: a backup
// takes over when its Master_Down_Timer fires, Master_Down_Interval after
// the last advert it handled; so at the takeover (the transition's time,
// the timer's) no advert the master sent in the interval before may have
// been queued to the router yet (the timer's message is queued at that
// time or later, so such an advert was handled first and pushed the timer
// on). A takeover after adverts that were sent late (master starved) or
// queued late (backup starved) is the protocol at work on a busy machine,
// not a fault. It returns how many takeovers there were.
func holdsBackup(t *testing.T, lan *fakeLAN, backup, master *running, prio uint8, n uint64) int {
	t.Helper()
	rec := recordChanges(t, backup)
	stats := func() InstanceStats { return backup.r.Stats().Instances[0] }
	base, before := stats().AdvertsReceived, stats().BecameMaster
	eventually(t, fmt.Sprintf("%d more adverts received by the backup, or a takeover", n), func() bool {
		s := stats()
		return s.AdvertsReceived >= base+n || s.BecameMaster > before
	})
	took := int(stats().BecameMaster - before)
	eventually(t, "the takeovers recorded", func() bool { return len(rec.to(StateMaster)) >= took })
	mdi := masterDown(prio)
	heard := lan.port(backup.host.addr).heardFrom(master.host.addr)
	bad := 0
	for _, sc := range rec.to(StateMaster) {
		for _, h := range heard {
			if h.sent.After(sc.At.Add(-mdi)) && h.sent.Before(sc.At) && !h.queued.IsZero() && h.queued.Before(sc.At) {
				t.Errorf("the backup took over at %v though an advert sent %v before was queued to it %v before: Master_Down_Interval is %v",
					sc.At.Format("15:04:05.000000"), sc.At.Sub(h.sent), sc.At.Sub(h.queued), mdi)
				bad++
				break
			}
		}
	}
	if took > 0 && bad == 0 {
		t.Logf("the backup took over %d times, each after the master's adverts stopped reaching it for Master_Down_Interval (a busy machine)", took)
	}
	return took
}

func TestRouterElectionAndGracefulStop(t *testing.T) {
	lan := newFakeLAN()
	a := start(t, lan, newFakeHost(lan, "10.0.0.1"), Options{Instances: []Config{fastConfig("VI_1", 200)}})
	b := start(t, lan, newFakeHost(lan, "10.0.0.2"), Options{Instances: []Config{fastConfig("VI_1", 100)}})
	waitState(t, a, "VI_1", StateMaster)
	waitState(t, b, "VI_1", StateBackup)
	// Ten adverts: b stays backup (and a takeover forced by a stall ends
	// as a preempts).
	holdsBackup(t, lan, b, a, 100, 10)
	waitState(t, a, "VI_1", StateMaster)
	waitState(t, b, "VI_1", StateBackup)
	eventually(t, "the VIP on the master alone", func() bool {
		return a.host.addrs.has("192.168.56.90/32") && !b.host.addrs.has("192.168.56.90/32")
	})
	if a.host.ann.count() == 0 {
		t.Fatal("no gratuitous ARP from the new master")
	}

	bs := b.r.Stats().Instances[0]
	if bs.AdvertsReceived == 0 || bs.Master != netip.MustParseAddr("10.0.0.1") {
		t.Fatalf("backup stats: %+v", bs)
	}

	// Graceful stop: a priority 0 advert hands over after the skew time.
	a.stop(t)
	if a.host.addrs.has("192.168.56.90/32") {
		t.Fatal("stopped master kept the VIP")
	}
	as := a.r.Stats().Instances[0]
	if as.PriorityZeroSent != 1 || as.State != StateStopped {
		t.Fatalf("stopped master stats: %+v", as)
	}
	waitState(t, b, "VI_1", StateMaster)
	if b.r.Stats().Instances[0].PriorityZeroReceived != 1 {
		t.Fatal("backup did not count the priority 0 advert")
	}
	// Notify commands, keepalived's arguments.
	want := []string{"/bin/notify x INSTANCE VI_1 BACKUP 200", "/bin/notify-master", "/bin/notify x INSTANCE VI_1 MASTER 200"}
	got := a.host.runner.commands()
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("notify %q not run; ran %q", w, got)
		}
	}
	if !slices.Contains(got, "/bin/notify x INSTANCE VI_1 STOP 200") {
		t.Errorf("no STOP notify; ran %q", got)
	}
}

func TestRouterStateChangesInOrder(t *testing.T) {
	lan := newFakeLAN()
	a := start(t, lan, newFakeHost(lan, "10.0.0.1"), Options{Instances: []Config{fastConfig("VI_1", 200)}})
	waitState(t, a, "VI_1", StateMaster)
	a.stop(t)
	var got []string
	for _, c := range a.changesSoFar() {
		got = append(got, c.From.String()+">"+c.To.String())
		if c.To == StateMaster && (c.Instance != "VI_1" || c.VRID != 51 || len(c.VIPs) != 1 || c.At.IsZero()) {
			t.Errorf("change %+v", c)
		}
	}
	// Every change is delivered, in order, the STOP of the shutdown
	// included, before Run returns.
	if want := []string{"INIT>BACKUP", "BACKUP>MASTER", "MASTER>STOP"}; !slices.Equal(got, want) {
		t.Fatalf("changes %q, want %q", got, want)
	}
}

func TestRouterLinkDownIsFault(t *testing.T) {
	lan := newFakeLAN()
	a := start(t, lan, newFakeHost(lan, "10.0.0.1"), Options{Instances: []Config{fastConfig("VI_1", 200)}})
	b := start(t, lan, newFakeHost(lan, "10.0.0.2"), Options{Instances: []Config{fastConfig("VI_1", 100)}})
	waitState(t, a, "VI_1", StateMaster)
	waitState(t, b, "VI_1", StateBackup)

	lan.setCut(a.host.addr, true)
	a.host.links.set("eth0", false)
	waitState(t, a, "VI_1", StateFault)
	waitState(t, b, "VI_1", StateMaster)
	if a.host.addrs.has("192.168.56.90/32") {
		t.Fatal("FAULT kept the VIP")
	}

	// Back up: the higher priority preempts.
	lan.setCut(a.host.addr, false)
	a.host.links.set("eth0", true)
	waitState(t, a, "VI_1", StateMaster)
	waitState(t, b, "VI_1", StateBackup)
	if b.host.addrs.has("192.168.56.90/32") {
		t.Fatal("the old backup kept the VIP")
	}
}

func TestRouterNoPreempt(t *testing.T) {
	lan := newFakeLAN()
	ca := fastConfig("VI_1", 200)
	ca.NoPreempt = true
	b := start(t, lan, newFakeHost(lan, "10.0.0.2"), Options{Instances: []Config{fastConfig("VI_1", 100)}})
	waitState(t, b, "VI_1", StateMaster)
	a := start(t, lan, newFakeHost(lan, "10.0.0.1"), Options{Instances: []Config{ca}})
	waitState(t, a, "VI_1", StateBackup)
	// Twenty adverts of the lower priority master: with preempt, a would
	// take over one Master_Down_Interval after its start while they reach
	// it in time; nopreempt, it stays backup.
	if holdsBackup(t, lan, a, b, 200, 20) > 0 {
		// a took over because b's adverts stopped reaching it (checked):
		// a higher priority master then keeps the VIP, as it should.
		return
	}
	if s := a.state("VI_1"); s != StateBackup {
		t.Fatalf("nopreempt instance with the higher priority is %v", s)
	}
	if s := b.state("VI_1"); s != StateMaster {
		t.Fatalf("lower priority master is %v", s)
	}
}

func TestRouterVIPPutBack(t *testing.T) {
	lan := newFakeLAN()
	a := start(t, lan, newFakeHost(lan, "10.0.0.1"), Options{Instances: []Config{fastConfig("VI_1", 200)}})
	waitState(t, a, "VI_1", StateMaster)
	adds, garps := a.host.addrs.addCount(), a.host.ann.count()
	a.host.addrs.removeBehindBack("192.168.56.90/32")
	eventually(t, "the VIP to be put back", func() bool { return a.host.addrs.has("192.168.56.90/32") })
	if a.host.addrs.addCount() <= adds || a.host.ann.count() <= garps {
		t.Fatal("VIP not re-added with a gratuitous ARP")
	}
	if a.state("VI_1") != StateMaster {
		t.Fatal("left MASTER")
	}
}

// TestRouterTrackScript is the seed's case: keepalived cannot see that
// nginx died unless a script tells it.
func TestRouterTrackScript(t *testing.T) {
	for _, tc := range []struct {
		name       string
		weight     int
		wantFailed State // state of the master while its script fails
	}{
		{"weight 0 means FAULT", 0, StateFault},
		{"negative weight lowers the priority below the backup", -150, StateBackup},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lan := newFakeLAN()
			ha := newFakeHost(lan, "10.0.0.1")
			ca := fastConfig("VI_1", 200)
			ca.TrackScripts = []TrackScript{{Name: "chk_nginx"}}
			scripts := []ScriptConfig{{Name: "chk_nginx", Command: []string{"/usr/bin/pgrep", "nginx"}, Interval: 10 * time.Millisecond, Fall: 2, Rise: 2, Weight: tc.weight}}
			a := start(t, lan, ha, Options{Instances: []Config{ca}, Scripts: scripts})
			b := start(t, lan, newFakeHost(lan, "10.0.0.2"), Options{Instances: []Config{fastConfig("VI_1", 100)}})
			waitState(t, a, "VI_1", StateMaster)
			waitState(t, b, "VI_1", StateBackup)

			ha.runner.set("/usr/bin/pgrep", false) // nginx died
			waitState(t, a, "VI_1", tc.wantFailed)
			waitState(t, b, "VI_1", StateMaster)
			if tc.weight != 0 {
				if p := a.r.Stats().Instances[0].Priority; p != 50 {
					t.Fatalf("effective priority %d, want 50", p)
				}
			}
			ha.runner.set("/usr/bin/pgrep", true)
			waitState(t, a, "VI_1", StateMaster)
			waitState(t, b, "VI_1", StateBackup)
		})
	}
}

func TestRouterTrackInterfaceWeight(t *testing.T) {
	lan := newFakeLAN()
	ha := newFakeHost(lan, "10.0.0.1", "eth1")
	ca := fastConfig("VI_1", 200)
	ca.TrackInterfaces = []TrackInterface{{Name: "eth1", Weight: -120}}
	a := start(t, lan, ha, Options{Instances: []Config{ca}})
	b := start(t, lan, newFakeHost(lan, "10.0.0.2"), Options{Instances: []Config{fastConfig("VI_1", 100)}})
	waitState(t, a, "VI_1", StateMaster)
	ha.links.set("eth1", false)
	waitState(t, b, "VI_1", StateMaster)
	waitState(t, a, "VI_1", StateBackup)
	if p := a.r.Stats().Instances[0].Priority; p != 80 {
		t.Fatalf("priority %d, want 80", p)
	}
}

func TestRouterSyncGroup(t *testing.T) {
	lan := newFakeLAN()
	group := func(prio int) Options {
		c1, c2 := fastConfig("VI_1", prio), fastConfig("VI_2", prio)
		c2.VRID = 52
		c2.VIPs = []VIP{{Prefix: netip.MustParsePrefix("192.168.57.90/32")}}
		c1.TrackScripts = []TrackScript{{Name: "chk"}}
		return Options{
			Instances:  []Config{c1, c2},
			Scripts:    []ScriptConfig{{Name: "chk", Command: []string{"/bin/chk"}, Interval: 10 * time.Millisecond}},
			SyncGroups: []SyncGroupConfig{{Name: "G1", Instances: []string{"VI_1", "VI_2"}, Notify: Notify{Any: []string{"/bin/gnotify"}}}},
		}
	}
	ha := newFakeHost(lan, "10.0.0.1")
	a := start(t, lan, ha, group(200))
	b := start(t, lan, newFakeHost(lan, "10.0.0.2"), group(100))
	for _, n := range []string{"VI_1", "VI_2"} {
		waitState(t, a, n, StateMaster)
		waitState(t, b, n, StateBackup)
	}
	// VI_1's script fails on a: the whole group goes FAULT there and both
	// instances move to b together.
	ha.runner.set("/bin/chk", false)
	for _, n := range []string{"VI_1", "VI_2"} {
		waitState(t, a, n, StateFault)
		waitState(t, b, n, StateMaster)
	}
	if g := a.r.Stats().Groups[0]; g.State != StateFault {
		t.Fatalf("group state %v", g.State)
	}
	if !slices.Contains(ha.runner.startedLines(), "/bin/gnotify GROUP G1 FAULT 0") {
		t.Fatalf("no group notify; ran %q", ha.runner.startedLines())
	}
	ha.runner.set("/bin/chk", true)
	for _, n := range []string{"VI_1", "VI_2"} {
		waitState(t, a, n, StateMaster)
		waitState(t, b, n, StateBackup)
	}
}

func TestRouterDropsCounted(t *testing.T) {
	lan := newFakeLAN()
	c := fastConfig("VI_1", 200)
	c.Version, c.AdvertInterval, c.Authentication = 2, time.Second, PassAuth("secret")
	a := start(t, lan, newFakeHost(lan, "10.0.0.1"), Options{Instances: []Config{c}})
	started(t, a)
	src := netip.MustParseAddr("10.0.0.9")
	good := func() Packet {
		return Packet{Version: 2, Type: 1, VRID: 51, Priority: 100, AuthType: AuthPass, AuthData: authData("secret"),
			Interval: time.Second, Addresses: []netip.Addr{netip.MustParseAddr("192.168.56.90")}}
	}
	send := func(p Packet, f func(*Datagram)) {
		b, err := p.Marshal(src, groupV4)
		if err != nil {
			t.Fatal(err)
		}
		d := Datagram{Payload: b, Src: src, Dst: groupV4, TTL: 255}
		if f != nil {
			f(&d)
		}
		lan.inject(d)
	}
	send(good(), func(d *Datagram) { d.TTL = 1 })
	send(good(), func(d *Datagram) { d.Payload = d.Payload[:4] })
	send(good(), func(d *Datagram) { d.Payload = d.Payload[:len(d.Payload)-1] })
	send(good(), func(d *Datagram) { d.Payload[6] ^= 1 })
	p := good()
	p.VRID = 99
	send(p, nil)
	p = good()
	p.AuthData = authData("guess")
	send(p, nil)
	p = good()
	p.Interval = 3 * time.Second
	send(p, nil)
	p = good()
	p.Type = 3
	send(p, nil)
	p = good()
	p.Version = 3
	p.AuthType, p.AuthData = 0, [8]byte{}
	send(p, nil)
	eventually(t, "nine drops", func() bool {
		var n uint64
		for _, v := range a.r.Stats().Dropped() {
			n += v
		}
		return n == 9
	})
	s := a.r.Stats()
	got := s.Dropped()
	want := map[DropReason]uint64{DropTTL: 1, DropLength: 2, DropChecksum: 1, DropVRID: 1, DropAuth: 1, DropInterval: 1, DropType: 1, DropVersion: 1}
	for r, n := range want {
		if got[r] != n {
			t.Errorf("%v drops: %d, want %d", r, got[r], n)
		}
	}
	if s.Sockets[0].Drops[DropVRID] != 1 || s.Sockets[0].Drops[DropLength] != 1 {
		t.Errorf("socket drops %v: want the unknown VRID and the 4-byte packet there", s.Sockets[0].Drops)
	}
	if s.Instances[0].AdvertsReceived != 0 {
		t.Fatalf("a dropped packet was processed: %+v", s.Instances[0])
	}
}

func TestRouterAddressListMismatchIsNotDropped(t *testing.T) {
	lan := newFakeLAN()
	a := start(t, lan, newFakeHost(lan, "10.0.0.1"), Options{Instances: []Config{fastConfig("VI_1", 100)}})
	started(t, a) // adverts are counted in any state
	src := netip.MustParseAddr("10.0.0.9")
	p := Packet{Version: 3, Type: 1, VRID: 51, Priority: 200, Interval: fastAdvert, Addresses: []netip.Addr{netip.MustParseAddr("192.168.56.99")}}
	for range 5 {
		b, _ := p.Marshal(src, groupV4)
		lan.inject(Datagram{Payload: b, Src: src, Dst: groupV4, TTL: 255})
	}
	eventually(t, "five adverts", func() bool { return a.r.Stats().Instances[0].AdvertsReceived == 5 })
	s := a.r.Stats().Instances[0]
	if s.AddressListMismatches != 5 || s.AdvertsReceived != 5 {
		t.Fatalf("stats %+v", s)
	}
}

func TestRouterRunTwice(t *testing.T) {
	lan := newFakeLAN()
	h := newFakeHost(lan, "10.0.0.1")
	first := make(chan struct{})
	var once sync.Once
	r, err := New(Options{Instances: []Config{fastConfig("VI_1", 100)}, Env: h.env(lan), Logger: quietLog(),
		OnStateChange: func(StateChange) { once.Do(func() { close(first) }) }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()
	<-first // the first state change: Run is running
	if err := r.Run(ctx); err == nil {
		t.Fatal("second Run accepted")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	good := fastConfig("VI_1", 100)
	tests := []struct {
		name string
		opts func() Options
		want string
	}{
		{"no instance", func() Options { return Options{} }, "no VRRP instance"},
		{"vrid 0", func() Options { c := good; c.VRID = 0; return Options{Instances: []Config{c}} }, `missing required field "virtual_router_id"`},
		{"v2 fractional interval", func() Options {
			c := good
			c.Version, c.AdvertInterval = 2, 1500*time.Millisecond
			return Options{Instances: []Config{c}}
		}, "whole seconds"},
		{"v3 auth", func() Options { c := good; c.Authentication = PassAuth("x"); return Options{Instances: []Config{c}} }, "authentication is not supported with VRRP version 3"},
		{"long password", func() Options {
			c := good
			c.Version, c.AdvertInterval, c.Authentication = 2, time.Second, PassAuth("123456789")
			return Options{Instances: []Config{c}}
		}, "must be at most 8 characters"},
		{"no VIP", func() Options { c := good; c.VIPs = nil; return Options{Instances: []Config{c}} }, `missing required field "virtual_ipaddresses"`},
		{"v2 IPv6", func() Options {
			c := good
			c.Version, c.AdvertInterval = 2, time.Second
			c.VIPs = []VIP{{Prefix: netip.MustParsePrefix("2001:db8::1/128")}}
			return Options{Instances: []Config{c}}
		}, "IPv6 virtual addresses need VRRP version 3"},
		{"mixed families", func() Options {
			c := good
			c.VIPs = append(c.VIPs, VIP{Prefix: netip.MustParsePrefix("2001:db8::1/128")})
			return Options{Instances: []Config{c}}
		}, "ipv6 address in an instance whose first address is ipv4"},
		{"bad label", func() Options {
			c := good
			c.VIPs = []VIP{{Prefix: netip.MustParsePrefix("10.0.0.1/32"), Label: "lo:0"}}
			return Options{Instances: []Config{c}}
		}, "label"},
		{"unknown script", func() Options {
			c := good
			c.TrackScripts = []TrackScript{{Name: "nope"}}
			return Options{Instances: []Config{c}}
		}, `unknown script "nope"`},
		{"same vrid twice", func() Options { c := good; c.Name = "VI_2"; return Options{Instances: []Config{good, c}} }, "duplicate virtual router eth0 VRID 51 ipv4"},
		{"group unknown instance", func() Options {
			return Options{Instances: []Config{good}, SyncGroups: []SyncGroupConfig{{Name: "G", Instances: []string{"VI_9"}}}}
		}, `unknown VRRP instance "VI_9"`},
		{"instance in two groups", func() Options {
			return Options{Instances: []Config{good}, SyncGroups: []SyncGroupConfig{{Name: "G", Instances: []string{"VI_1"}}, {Name: "H", Instances: []string{"VI_1"}}}}
		}, `instance "VI_1" is already in sync group "G"`},
		{"weight out of range", func() Options {
			c := good
			c.TrackInterfaces = []TrackInterface{{Name: "eth1", Weight: 300}}
			return Options{Instances: []Config{c}}
		}, "weight"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.opts())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
	if _, err := New(Options{Instances: []Config{good}}); err != nil {
		t.Fatalf("good config rejected: %v", err)
	}
}

// TestRouterUnicastSourceChecked: a unicast master ignores (and counts) a
// higher-priority advert from an address that is not one of its peers,
// unless check_unicast_src is off, when it steps down as keepalived's
// default would have it.
func TestRouterUnicastSourceChecked(t *testing.T) {
	off := false
	for _, tc := range []struct {
		name     string
		checkSrc *bool
		want     State
	}{
		{"default: checked", nil, StateMaster},
		{"check_unicast_src off", &off, StateBackup},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lan := newFakeLAN()
			c := fastConfig("VI_1", 100)
			c.UnicastPeers = []netip.Addr{netip.MustParseAddr("10.0.0.2")}
			c.CheckUnicastSrc = tc.checkSrc
			a := start(t, lan, newFakeHost(lan, "10.0.0.1"), Options{Instances: []Config{c}})
			waitState(t, a, "VI_1", StateMaster)
			forged := netip.MustParseAddr("10.0.0.66")
			p := Packet{Version: 3, Type: 1, VRID: 51, Priority: 254, Interval: fastAdvert,
				Addresses: []netip.Addr{netip.MustParseAddr("192.168.56.90")}}
			b, err := p.Marshal(forged, netip.MustParseAddr("10.0.0.1"))
			if err != nil {
				t.Fatal(err)
			}
			for range 10 {
				lan.inject(Datagram{Payload: b, Src: forged, Dst: netip.MustParseAddr("10.0.0.1"), TTL: 255})
				time.Sleep(fastAdvert)
			}
			if tc.checkSrc == nil {
				eventually(t, "10 drops for the source", func() bool { return a.r.Stats().Instances[0].Drops[DropSource] == 10 })
			}
			waitState(t, a, "VI_1", tc.want)
			if s := a.r.Stats().Instances[0]; tc.checkSrc == nil && s.AdvertsReceived != 0 {
				t.Errorf("adverts received %d: the forged ones were processed", s.AdvertsReceived)
			}
		})
	}
}

// TestRouterPreparesAnnouncerAtStart: the announcer's sockets are opened
// when the router starts, for each VIP device (never lo), before the first
// takeover announces: opening them then delayed the gratuitous ARPs by
// tens of milliseconds after the first advert (outagebench in the VM).
func TestRouterPreparesAnnouncerAtStart(t *testing.T) {
	lan := newFakeLAN()
	cfg := fastConfig("VI_1", 200)
	cfg.VIPs = append(cfg.VIPs, VIP{Prefix: netip.MustParsePrefix("10.9.9.9/32"), Device: "lo"})
	a := start(t, lan, newFakeHost(lan, "10.0.0.1"), Options{Instances: []Config{cfg}})
	waitState(t, a, "VI_1", StateMaster)
	eventually(t, "an announcement", func() bool { return a.host.ann.count() > 0 })
	if got, want := a.host.ann.preparedCalls(), []string{"eth0 192.168.56.90", "announce"}; !slices.Equal(got, want) {
		t.Errorf("announcer calls %q, want %q: prepared at start, for eth0 only, before the first announcement", got, want)
	}
}

// TestRouterStopHandsOff proves a stopping master's order: the priority 0
// advert at once, the virtual address kept (served) until another router
// advertises as master, then released; without a backup, released once
// the handoff wait has passed; with a negative HandoffWait, released right
// after the advert (keepalived's order). Before the handoff the address
// went with the advert, so clients lost the whole skew time.
func TestRouterStopHandsOff(t *testing.T) {
	const vip = "192.168.56.90/32"
	// A slower advert than fastConfig's, so that the backup's skew time
	// (60% of it at priority 100) dwarfs the scheduling noise of a busy
	// machine on the old order's side.
	slow := func(prio int) Config {
		c := fastConfig("VI_1", prio)
		c.AdvertInterval = 200 * time.Millisecond
		return c
	}
	tests := []struct {
		name   string
		backup bool          // a priority 100 backup runs
		wait   time.Duration // Options.HandoffWait of the master
	}{
		{name: "the backup takes over, then the master releases", backup: true},
		{name: "no backup: released after the wait", backup: false},
		{name: "no backup, HandoffWait negative: released at once", backup: false, wait: -1},
		{name: "no backup, HandoffWait 300ms: held for it", backup: false, wait: 300 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lan := newFakeLAN()
			a := start(t, lan, newFakeHost(lan, "10.0.0.1"), Options{Instances: []Config{slow(200)}, HandoffWait: tc.wait})
			var b *running
			if tc.backup {
				b = start(t, lan, newFakeHost(lan, "10.0.0.2"), Options{Instances: []Config{slow(100)}})
				waitState(t, b, "VI_1", StateBackup)
			}
			waitState(t, a, "VI_1", StateMaster)
			eventually(t, "the VIP on the master", func() bool { return a.host.addrs.has(vip) })
			var bRec *changes
			if b != nil {
				bRec = recordChanges(t, b)
			}

			stopAt := time.Now()
			a.stop(t)
			removed := a.host.addrs.removedAt(vip)
			if a.host.addrs.has(vip) || removed.IsZero() {
				t.Fatal("the stopped master kept the VIP")
			}
			as := a.r.Stats().Instances[0]
			if as.PriorityZeroSent != 1 || as.State != StateStopped {
				t.Fatalf("stopped master: %d priority 0 adverts (want 1), state %v", as.PriorityZeroSent, as.State)
			}
			switch {
			case b != nil:
				// The backup's takeover is before the release: clients
				// always had a director holding the VIP.
				waitState(t, b, "VI_1", StateMaster)
				took := bRec.to(StateMaster)
				if len(took) == 0 {
					t.Fatal("no takeover recorded")
				}
				if removed.Before(took[0].At) {
					t.Fatalf("the master released the VIP %v before the backup took over", took[0].At.Sub(removed))
				}
				if got := b.r.Stats().Instances[0].PriorityZeroReceived; got != 1 {
					t.Fatalf("the backup received %d priority 0 adverts, want 1", got)
				}
			case tc.wait >= 0:
				// Nobody took over: the VIP was kept for the whole wait
				// (a timer never fires early).
				want := tc.wait
				if want == 0 {
					want = time.Duration(float64(slow(200).AdvertInterval) * handoffFactor)
				}
				if held := removed.Sub(stopAt); held < want {
					t.Fatalf("the VIP was released %v after the stop, before the handoff wait of %v", held, want)
				}
			}
		})
	}
}

// TestRouterLaterGARPNeedsServes: a master's delayed gratuitous ARP burst
// goes out only while Options.Serves says the host can serve the
// instance's addresses; the burst on taking over always does. (The soak's
// split-brain backup, healed just before its delayed burst with no real
// server left, pointed the client at itself: one request refused.)
func TestRouterLaterGARPNeedsServes(t *testing.T) {
	tests := []struct {
		name   string
		serves func(string) bool // nil: not set
		bursts int               // Announce calls after the delay: 1 on taking over, +1 for the delayed one
		skip   uint64
	}{
		{name: "no Serves: keepalived's bursts", serves: nil, bursts: 2},
		{name: "serves", serves: func(string) bool { return true }, bursts: 2},
		{name: "cannot serve: the delayed burst is skipped", serves: func(string) bool { return false }, bursts: 1, skip: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lan := newFakeLAN()
			c := fastConfig("VI_1", 200)
			c.GARP.MasterDelay = 3 * fastAdvert
			var asked sync.Map
			serves := tc.serves
			if serves != nil {
				inner := serves
				serves = func(name string) bool { asked.Store(name, true); return inner(name) }
			}
			a := start(t, lan, newFakeHost(lan, "10.0.0.1"), Options{Instances: []Config{c}, Serves: serves})
			waitState(t, a, "VI_1", StateMaster)
			// The delayed burst is due 3 adverts after the takeover; 10
			// adverts later it has long been handled (or skipped).
			base := a.r.Stats().Instances[0].AdvertsSent
			eventually(t, "10 more adverts", func() bool { return a.r.Stats().Instances[0].AdvertsSent >= base+10 })
			if got := a.host.ann.count(); got != tc.bursts {
				t.Errorf("%d gratuitous ARP bursts, want %d", got, tc.bursts)
			}
			if got := a.r.Stats().Instances[0].GARPSkipped; got != tc.skip {
				t.Errorf("GARPSkipped %d, want %d", got, tc.skip)
			}
			if _, ok := asked.Load("VI_1"); tc.serves != nil && !ok {
				t.Error("Serves was not asked about VI_1")
			}
		})
	}
}
