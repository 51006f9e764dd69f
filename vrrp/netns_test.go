//go:build netns

package vrrp_test

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lb/vrrp"
	"github.com/lvsd/lb/vrrp/internal/vrrplab"
)

// These tests build namespaces on the host (root needed): hosts a and b are
// the two directors, c a client, x a third party injecting packets, all on
// one bridge. Our side runs as vrrpd processes, keepalived as itself.

var vrrpdBin string

func TestMain(m *testing.M) {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "the netns tests need root (network namespaces)")
		os.Exit(1)
	}
	dir, err := os.MkdirTemp("", "vrrp-netns-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	vrrpdBin, err = vrrplab.BuildVrrpd(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var (
	vip   = netip.MustParsePrefix("10.77.0.100/32")
	vip2  = netip.MustParsePrefix("10.77.0.101/32")
	addrA = netip.MustParsePrefix("10.77.0.1/24")
	addrB = netip.MustParsePrefix("10.77.0.2/24")
	addrC = netip.MustParsePrefix("10.77.0.10/24")
	addrX = netip.MustParsePrefix("10.77.0.66/24")
)

type bench struct {
	*vrrplab.Lab
	a, b, c *vrrplab.Host
	procs   []*vrrplab.Proc
}

func newBench(t *testing.T) *bench {
	t.Helper()
	l, err := vrrplab.New("vrrp", t.TempDir(), vrrpdBin)
	if err != nil {
		t.Fatal(err)
	}
	l.RecordHeard = true // for checkTakeovers and the GARP schedule
	bn := &bench{Lab: l}
	t.Cleanup(func() {
		for _, p := range bn.procs {
			p.Stop(5 * time.Second)
			if t.Failed() {
				t.Logf("--- %s log:\n%s", p.Name, p.Log())
			}
		}
		l.Close()
	})
	if bn.a, err = l.AddHost("a", addrA); err != nil {
		t.Fatal(err)
	}
	if bn.b, err = l.AddHost("b", addrB); err != nil {
		t.Fatal(err)
	}
	if bn.c, err = l.AddHost("c", addrC); err != nil {
		t.Fatal(err)
	}
	return bn
}

// instance is our VI_1 on eth0: VRRPv3 with 100 ms adverts unless changed.
func instance(prio int, f ...func(*vrrp.Config)) vrrp.Config {
	c := vrrp.Config{
		Name: "VI_1", Interface: "eth0", VRID: 51, Version: 3, Priority: prio,
		AdvertInterval: 100 * time.Millisecond,
		VIPs:           []vrrp.VIP{{Prefix: vip, Label: "eth0:0"}},
		GARP:           vrrp.DefaultGARPConfig(),
	}
	for _, fn := range f {
		fn(&c)
	}
	return c
}

func (bn *bench) ours(t *testing.T, h *vrrplab.Host, cfg vrrplab.Config) *vrrplab.Proc {
	t.Helper()
	p, err := bn.StartOurs(h, "ours-"+h.Name, cfg)
	if err != nil {
		t.Fatal(err)
	}
	bn.procs = append(bn.procs, p)
	return p
}

func (bn *bench) keepalived(t *testing.T, h *vrrplab.Host, in vrrplab.KAInstance) *vrrplab.Proc {
	t.Helper()
	p, err := bn.StartKeepalived(h, "keepalived-"+h.Name, vrrplab.KeepalivedConf("ka-"+h.Name, in))
	if err != nil {
		t.Fatal(err)
	}
	bn.procs = append(bn.procs, p)
	return p
}

func waitState(t *testing.T, p *vrrplab.Proc, s vrrp.State, timeout time.Duration) {
	t.Helper()
	if err := p.WaitState("VI_1", s, timeout); err != nil {
		t.Fatal(err)
	}
}

// masterDown is a v3 backup's Master_Down_Interval under 100 ms adverts:
// 3 x 100 ms + (256 - prio) x 100 ms / 256.
func masterDown(prio uint8) time.Duration {
	return 300*time.Millisecond + time.Duration(256-int(prio))*100*time.Millisecond/256
}

// settle bounds the waits for what the protocol makes happen within a few
// advert intervals (a state change, a VIP added or removed): past it the
// event is lost, not late. It is no latency expectation.
const settle = 5 * time.Second

// started waits until p has reported a state: its router runs.
func started(t *testing.T, p *vrrplab.Proc) {
	t.Helper()
	err := vrrplab.Eventually(settle, func() error {
		if len(p.History()) == 0 {
			return fmt.Errorf("%s reported no state yet", p.Name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// noMoves requires that p reported no transition after since: a master
// that hears no better master never leaves MASTER, however busy the
// machine.
func noMoves(t *testing.T, p *vrrplab.Proc, since time.Time) {
	t.Helper()
	for _, e := range p.History() {
		if e.At.After(since) {
			t.Errorf("%s moved to %v (due %v), want it to stay", p.Name, e.State, e.Due.Format("15:04:05.000000"))
		}
	}
}

// waitAdverts waits until backup has received n more adverts than it had
// when called (counted, not timed), or has taken over.
func waitAdverts(t *testing.T, backup *vrrplab.Proc, n uint64) {
	t.Helper()
	s0, err := backup.Stats()
	if err != nil {
		t.Fatal(err)
	}
	base, before := s0.Instances[0].AdvertsReceived, s0.Instances[0].BecameMaster
	err = vrrplab.Eventually(settle+time.Duration(n)*100*time.Millisecond, func() error {
		s, err := backup.Stats()
		if err != nil {
			return err
		}
		if in := s.Instances[0]; in.AdvertsReceived < base+n && in.BecameMaster == before {
			return fmt.Errorf("%s received %d adverts of %d", backup.Name, in.AdvertsReceived-base, n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// checkTakeovers checks every MASTER transition backup reported after
// since against the rule of the protocol, which holds however busy the
// machine is: a backup takes over when its Master_Down_Timer fires,
// Master_Down_Interval after the last advert it handled; so at the
// takeover (the transition's due time) no advert master sent in the
// interval before may have been queued to its router yet (the timer's
// message is queued at its due time or later: such an advert was handled
// first and pushed the timer on). A takeover after adverts that were sent
// late (master starved) or read late (backup starved) is the protocol at
// work on a busy machine, not a fault. It returns how many there were.
func checkTakeovers(t *testing.T, backup *vrrplab.Proc, master netip.Addr, mdi time.Duration, since time.Time) int {
	t.Helper()
	heard, err := backup.Heard(master)
	if err != nil {
		t.Fatal(err)
	}
	took, bad := 0, 0
	for _, e := range backup.History() {
		if e.State != vrrp.StateMaster || !e.Due.After(since) {
			continue
		}
		took++
		for _, h := range heard {
			if h.At.After(e.Due.Add(-mdi)) && h.At.Before(e.Due) && !h.Queued.IsZero() && h.Queued.Before(e.Due) {
				t.Errorf("%s took over at %v though an advert from %v received %v before was queued to its router %v before: Master_Down_Interval is %v",
					backup.Name, e.Due.Format("15:04:05.000000"), master, e.Due.Sub(h.At), e.Due.Sub(h.Queued), mdi)
				bad++
				break
			}
		}
	}
	if took > 0 && bad == 0 {
		t.Logf("%s took over %d times, each after %v's adverts stopped reaching it for Master_Down_Interval (a busy machine)", backup.Name, took, master)
	}
	return took
}

// holdsVIP checks that exactly owner holds ip among hosts.
func (bn *bench) holdsVIP(t *testing.T, ip netip.Addr, owner *vrrplab.Host) {
	t.Helper()
	err := vrrplab.Eventually(settle, func() error {
		for _, h := range []*vrrplab.Host{bn.a, bn.b} {
			has, err := bn.HasAddr(h, ip)
			if err != nil {
				return err
			}
			if has != (h == owner) {
				return fmt.Errorf("%s holds %v: %v", h.Name, ip, has)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// clientSees waits until the client's ARP entry for ip is owner's MAC.
func (bn *bench) clientSees(t *testing.T, ip netip.Addr, owner *vrrplab.Host) {
	t.Helper()
	err := vrrplab.Eventually(settle, func() error {
		mac, err := bn.Neighbour(bn.c, ip)
		if err != nil {
			return err
		}
		if mac.String() != owner.MAC.String() {
			return fmt.Errorf("client's ARP entry for %v is %v, want %s's %v", ip, mac, owner.Name, owner.MAC)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestNetnsElection(t *testing.T) {
	bn := newBench(t)
	a := bn.ours(t, bn.a, vrrplab.Config{Instances: []vrrp.Config{instance(200)}})
	b := bn.ours(t, bn.b, vrrplab.Config{Instances: []vrrp.Config{instance(100)}})
	waitState(t, a, vrrp.StateMaster, 5*time.Second)
	waitState(t, b, vrrp.StateBackup, 5*time.Second)
	// Ten adverts (counted): a never moves; b stays backup unless a's
	// adverts stopped reaching it (then a preempts it back at once).
	since := time.Now()
	waitAdverts(t, b, 10)
	noMoves(t, a, since)
	checkTakeovers(t, b, addrA.Addr(), masterDown(100), since)
	waitState(t, b, vrrp.StateBackup, settle)
	bn.holdsVIP(t, vip.Addr(), bn.a)
	// The label is kept.
	out, err := bn.a.NS.Run(t.Context(), "ip", "-4", "addr", "show", "dev", "eth0")
	if err != nil || !strings.Contains(out, "eth0:0") {
		t.Fatalf("label eth0:0 missing: %v\n%s", err, out)
	}
	ping, err := bn.Ping(bn.c, vip.Addr(), 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer ping.Close()
	if _, err := ping.WaitReplyAfter(time.Now(), settle); err != nil {
		t.Fatal(err)
	}
	bn.clientSees(t, vip.Addr(), bn.a)
	s, err := b.Stats()
	if err != nil {
		t.Fatal(err)
	}
	in := s.Instances[0]
	if in.AdvertsReceived < 10 || in.Master != addrA.Addr() || in.Source != addrB.Addr() {
		t.Fatalf("backup's stats: %+v", in)
	}
}

// TestNetnsLinkCutAndPreemption: the master's cable is pulled, the backup
// takes the VIP and the client's ARP entry moves to its MAC; the cable back,
// the higher priority preempts and the entry moves back.
func TestNetnsLinkCutAndPreemption(t *testing.T) {
	bn := newBench(t)
	a := bn.ours(t, bn.a, vrrplab.Config{Instances: []vrrp.Config{instance(200)}})
	b := bn.ours(t, bn.b, vrrplab.Config{Instances: []vrrp.Config{instance(100)}})
	waitState(t, a, vrrp.StateMaster, 5*time.Second)
	waitState(t, b, vrrp.StateBackup, 5*time.Second)
	ping, err := bn.Ping(bn.c, vip.Addr(), 5*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer ping.Close()
	bn.clientSees(t, vip.Addr(), bn.a)

	cut := time.Now()
	if err := bn.a.Link.Cut(); err != nil {
		t.Fatal(err)
	}
	waitState(t, a, vrrp.StateFault, settle)
	waitState(t, b, vrrp.StateMaster, settle)
	bn.holdsVIP(t, vip.Addr(), bn.b)
	bn.clientSees(t, vip.Addr(), bn.b)
	if _, err := ping.WaitReplyAfter(time.Now(), settle); err != nil {
		t.Fatal(err)
	}
	t.Logf("the client saw an outage of %v (v3, 100 ms adverts)", ping.LongestGap(cut).Round(time.Millisecond))

	restored := time.Now()
	if err := bn.a.Link.Restore(); err != nil {
		t.Fatal(err)
	}
	waitState(t, a, vrrp.StateMaster, settle)
	waitState(t, b, vrrp.StateBackup, settle)
	bn.holdsVIP(t, vip.Addr(), bn.a)
	bn.clientSees(t, vip.Addr(), bn.a)
	if _, err := ping.WaitReplyAfter(time.Now(), settle); err != nil {
		t.Fatal(err)
	}
	t.Logf("preempted back %v after the link came back", time.Since(restored).Round(time.Millisecond))
}

func TestNetnsRecoveryNoPreempt(t *testing.T) {
	bn := newBench(t)
	np := func(c *vrrp.Config) { c.NoPreempt = true }
	a := bn.ours(t, bn.a, vrrplab.Config{Instances: []vrrp.Config{instance(200, np)}})
	b := bn.ours(t, bn.b, vrrplab.Config{Instances: []vrrp.Config{instance(100, np)}})
	waitState(t, a, vrrp.StateMaster, 5*time.Second)
	waitState(t, b, vrrp.StateBackup, 5*time.Second)
	if err := bn.a.Link.Cut(); err != nil {
		t.Fatal(err)
	}
	waitState(t, b, vrrp.StateMaster, settle)
	if err := bn.a.Link.Restore(); err != nil {
		t.Fatal(err)
	}
	waitState(t, a, vrrp.StateBackup, settle)
	// 20 adverts of b (counted), several of a's Master_Down_Intervals:
	// with preempt, a would take over one interval after coming back
	// while b's adverts reach it; nopreempt, it stays backup.
	since := time.Now()
	waitAdverts(t, a, 20)
	if checkTakeovers(t, a, addrB.Addr(), masterDown(200), since) > 0 {
		return // b's adverts stopped reaching a (checked): a keeps MASTER, as it should
	}
	noMoves(t, b, since)
	if a.State("VI_1") != vrrp.StateBackup || b.State("VI_1") != vrrp.StateMaster {
		t.Fatalf("nopreempt: a %v, b %v; want the lower priority to keep MASTER", a.State("VI_1"), b.State("VI_1"))
	}
	bn.holdsVIP(t, vip.Addr(), bn.b)
}

// TestNetnsGracefulStopWithinSkew: a stopping master sends priority 0 and
// the backup takes over after Skew_Time alone, measured on the wire.
func TestNetnsGracefulStopWithinSkew(t *testing.T) {
	bn := newBench(t)
	a := bn.ours(t, bn.a, vrrplab.Config{Instances: []vrrp.Config{instance(200)}})
	b := bn.ours(t, bn.b, vrrplab.Config{Instances: []vrrp.Config{instance(100)}})
	waitState(t, a, vrrp.StateMaster, 5*time.Second)
	waitState(t, b, vrrp.StateBackup, 5*time.Second)
	sn, err := bn.Sniff()
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Close()
	stop := time.Now()
	if err := a.Stop(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	zero, err := sn.Wait(stop, 2*time.Second, func(c vrrplab.Capture) bool {
		return c.IsAdvert(addrA.Addr(), 51) && c.VRRP.Priority == 0
	})
	if err != nil {
		t.Fatalf("no priority 0 advert from the stopping master: %v", err)
	}
	first, err := sn.Wait(stop, 2*time.Second, func(c vrrplab.Capture) bool { return c.IsAdvert(addrB.Addr(), 51) })
	if err != nil {
		t.Fatal(err)
	}
	skew := 156 * 100 * time.Millisecond / 256 // (256-100) x 100 ms / 256 = 60.9 ms
	mdi := masterDown(100)
	got := first.At.Sub(zero.At)
	t.Logf("takeover on the wire %v after the priority 0 advert (skew %v, Master_Down_Interval %v)", got, skew, mdi)
	// The backup waits Skew_Time after the priority 0 advert, never less
	// (2 ms: the sniffer and b stamp the frame at two points of the LAN).
	if got < skew-2*time.Millisecond {
		t.Fatalf("takeover %v after the priority 0 advert, before the skew time %v", got, skew)
	}
	waitState(t, b, vrrp.StateMaster, settle)
	bn.holdsVIP(t, vip.Addr(), bn.b)
	// And it was the priority 0 advert that did it: b's takeover is due
	// Skew_Time after b received it, unless b had it queued only after its
	// Master_Down_Timer was due (a starved b: the interval then rules).
	heard, err := b.Heard(addrA.Addr())
	if err != nil || len(heard) == 0 {
		t.Fatalf("b heard nothing from a: %v", err)
	}
	last := heard[len(heard)-1] // a sent nothing after its priority 0
	var due time.Time
	for _, e := range b.History() {
		if e.State == vrrp.StateMaster && e.Due.After(stop) {
			due = e.Due
		}
	}
	switch want := last.At.Add(skew); {
	case due.Sub(want).Abs() < time.Millisecond:
	case last.Queued.IsZero() || !last.Queued.Before(due):
		t.Logf("b had the priority 0 advert queued only after its Master_Down_Timer was due (%v): a busy machine", due.Format("15:04:05.000000"))
	default:
		t.Fatalf("b's takeover is due at %v, not Skew_Time after the priority 0 advert it received at %v and queued at %v",
			due.Format("15:04:05.000000"), last.At.Format("15:04:05.000000"), last.Queued.Format("15:04:05.000000"))
	}
}

// TestNetnsPartitionHeals: both directors become master while they cannot
// hear each other (links up); once healed, exactly one master remains
// within one advert interval.
func TestNetnsPartitionHeals(t *testing.T) {
	bn := newBench(t)
	a := bn.ours(t, bn.a, vrrplab.Config{Instances: []vrrp.Config{instance(200)}})
	b := bn.ours(t, bn.b, vrrplab.Config{Instances: []vrrp.Config{instance(100)}})
	waitState(t, a, vrrp.StateMaster, 5*time.Second)
	waitState(t, b, vrrp.StateBackup, 5*time.Second)
	for _, h := range []*vrrplab.Host{bn.a, bn.b} {
		if err := bn.Isolate(h, true); err != nil {
			t.Fatal(err)
		}
	}
	waitState(t, b, vrrp.StateMaster, settle)
	if a.State("VI_1") != vrrp.StateMaster {
		t.Fatalf("a is %v during the partition", a.State("VI_1"))
	}
	sn, err := bn.Sniff()
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Close()
	// Both are advertising (two adverts of each, counted on the wire).
	for _, h := range []netip.Addr{addrA.Addr(), addrB.Addr()} {
		if err := waitWire(sn, time.Now(), 2, func(c vrrplab.Capture) bool { return c.IsAdvert(h, 51) }); err != nil {
			t.Fatal(err)
		}
	}
	partitioned := time.Now()
	for _, h := range []*vrrplab.Host{bn.a, bn.b} {
		if err := bn.Isolate(h, false); err != nil {
			t.Fatal(err)
		}
	}
	healed := time.Now()
	waitState(t, b, vrrp.StateBackup, settle)
	// b steps down on a's first advert, and sends none once it has: none
	// after we read its BACKUP line (it had stepped down by then).
	var down time.Time
	for _, e := range b.History() {
		if e.State == vrrp.StateBackup && e.At.After(healed) {
			down = e.At
		}
	}
	if err := waitWire(sn, healed, 4, func(c vrrplab.Capture) bool { return c.IsAdvert(addrA.Addr(), 51) }); err != nil {
		t.Fatalf("a's adverts after healing: %v", err)
	}
	var lastB time.Time
	for _, c := range sn.Captures() {
		if c.IsAdvert(addrB.Addr(), 51) && c.At.After(healed) {
			lastB = c.At
		}
	}
	if lastB.IsZero() {
		t.Logf("b sent no advert after healing (one advert is 100 ms)")
	} else {
		t.Logf("b's last advert %v after healing (one advert is 100 ms)", lastB.Sub(healed).Round(time.Millisecond))
	}
	if lastB.After(down) {
		t.Fatalf("b advertised at %v, after it had reported BACKUP (read at %v)", lastB.Format("15:04:05.000000"), down.Format("15:04:05.000000"))
	}
	if a.State("VI_1") != vrrp.StateMaster {
		t.Fatalf("a is %v after healing", a.State("VI_1"))
	}
	bn.holdsVIP(t, vip.Addr(), bn.a)
	noMoves(t, a, partitioned) // a never hears a better master
}

// waitWire waits until the sniffer has seen n frames matching pred since
// from (counted, the wait only bounds a loss).
func waitWire(sn *vrrplab.Sniffer, from time.Time, n int, pred func(vrrplab.Capture) bool) error {
	return vrrplab.Eventually(settle+time.Duration(n)*100*time.Millisecond, func() error {
		seen := 0
		for _, c := range sn.Captures() {
			if !c.At.Before(from) && pred(c) {
				seen++
			}
		}
		if seen < n {
			return fmt.Errorf("%d of %d frames seen", seen, n)
		}
		return nil
	})
}

// TestNetnsMalformedDropped injects each kind of bad packet from a third
// namespace and checks that each is dropped and counted under its reason.
func TestNetnsMalformedDropped(t *testing.T) {
	bn := newBench(t)
	x, err := bn.AddHost("x", addrX)
	if err != nil {
		t.Fatal(err)
	}
	cfg := instance(100, func(c *vrrp.Config) {
		c.Version, c.AdvertInterval, c.Authentication = 2, time.Second, vrrp.PassAuth("1111")
	})
	a := bn.ours(t, bn.a, vrrplab.Config{Instances: []vrrp.Config{cfg}})
	started(t, a) // adverts are counted in any state
	inj, err := bn.Injector(x)
	if err != nil {
		t.Fatal(err)
	}
	defer inj.Close()
	group := vrrp.MulticastGroup(false)
	good := func() vrrp.Packet {
		return vrrp.Packet{Version: 2, Type: 1, VRID: 51, Priority: 50, AuthType: vrrp.AuthPass, Interval: time.Second,
			Addresses: []netip.Addr{vip.Addr()}, AuthData: [8]byte{'1', '1', '1', '1'}}
	}
	enc := func(p vrrp.Packet, dst netip.Addr) []byte {
		b, err := p.Marshal(addrX.Addr(), dst)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	type kind struct {
		name string
		data []byte
		dst  netip.Addr
		ttl  int
	}
	mod := func(f func(*vrrp.Packet)) vrrp.Packet { p := good(); f(&p); return p }
	kinds := []struct {
		k      kind
		reason vrrp.DropReason
		socket bool // counted on the socket: no instance can be named
	}{
		{kind{"ttl", enc(good(), group), group, 64}, vrrp.DropTTL, false},
		{kind{"short", enc(good(), group)[:6], group, 255}, vrrp.DropLength, true},
		{kind{"length", enc(good(), group)[:19], group, 255}, vrrp.DropLength, false},
		{kind{"version", enc(mod(func(p *vrrp.Packet) { p.Version, p.AuthType, p.AuthData = 3, 0, [8]byte{} }), group), group, 255}, vrrp.DropVersion, false},
		{kind{"checksum", func() []byte { b := enc(good(), group); b[7] ^= 0x55; return b }(), group, 255}, vrrp.DropChecksum, false},
		{kind{"vrid", enc(mod(func(p *vrrp.Packet) { p.VRID = 99 }), group), group, 255}, vrrp.DropVRID, true},
		{kind{"auth", enc(mod(func(p *vrrp.Packet) { p.AuthData = [8]byte{'x'} }), group), group, 255}, vrrp.DropAuth, false},
		{kind{"interval", enc(mod(func(p *vrrp.Packet) { p.Interval = 2 * time.Second }), group), group, 255}, vrrp.DropInterval, false},
		{kind{"type", enc(mod(func(p *vrrp.Packet) { p.Type = 2 }), group), group, 255}, vrrp.DropType, false},
		{kind{"destination", enc(good(), addrA.Addr()), addrA.Addr(), 255}, vrrp.DropDestination, false},
	}
	// First a valid advert (priority 50: a backup that preempts ignores
	// it), until one arrives: the path from x is open.
	err = vrrplab.Eventually(settle, func() error {
		if err := inj.Send(enc(good(), group), group, 255); err != nil {
			return err
		}
		time.Sleep(50 * time.Millisecond)
		s, err := a.Stats()
		if err != nil {
			return err
		}
		if s.Instances[0].AdvertsReceived == 0 {
			return fmt.Errorf("no advert from x yet")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	s0, err := a.Stats()
	if err != nil {
		t.Fatal(err)
	}
	valid := s0.Instances[0].AdvertsReceived
	const each = 3
	for _, k := range kinds {
		for range each {
			if err := inj.Send(k.k.data, k.k.dst, k.k.ttl); err != nil {
				t.Fatal(err)
			}
		}
	}
	var s vrrp.Stats
	err = vrrplab.Eventually(settle, func() error {
		var err error
		if s, err = a.Stats(); err != nil {
			return err
		}
		if got, want := s.Dropped(), uint64(len(kinds))*each; sum(got) != want {
			return fmt.Errorf("%d drops so far, want %d: %v", sum(got), want, got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	in, sock := s.Instances[0], s.Sockets[0]
	for _, k := range kinds {
		got := in.Drops[k.reason]
		if k.socket {
			got = sock.Drops[k.reason]
		}
		if got != each {
			t.Errorf("%s: %d drops counted as %v (socket %v), want %d", k.k.name, got, k.reason, k.socket, each)
		}
	}
	if in.AdvertsReceived != valid {
		t.Fatalf("a bad packet got through: %+v", in)
	}
	t.Logf("instance drops %v, socket drops %v", in.Drops, sock.Drops)
}

func sum(m map[vrrp.DropReason]uint64) uint64 {
	var n uint64
	for _, v := range m {
		n += v
	}
	return n
}

func TestNetnsVIPPutBack(t *testing.T) {
	bn := newBench(t)
	a := bn.ours(t, bn.a, vrrplab.Config{Instances: []vrrp.Config{instance(200)}})
	waitState(t, a, vrrp.StateMaster, 5*time.Second)
	bn.holdsVIP(t, vip.Addr(), bn.a)
	sn, err := bn.Sniff()
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Close()
	removed := time.Now()
	if err := bn.a.NS.DelAddress("eth0", vip); err != nil {
		t.Fatal(err)
	}
	bn.holdsVIP(t, vip.Addr(), bn.a)
	if _, err := sn.Wait(removed, settle, func(c vrrplab.Capture) bool {
		return c.VRRP == nil && c.Src == vip.Addr() && c.ARPTgt == vip.Addr() && c.HWSrc.String() == bn.a.MAC.String()
	}); err != nil {
		t.Fatalf("no gratuitous ARP after putting the VIP back: %v", err)
	}
	if a.State("VI_1") != vrrp.StateMaster {
		t.Fatal("left MASTER")
	}
}

// TestNetnsTrackScriptAndNotify is the seed's case: nginx dies on the
// master, keepalived cannot see it, a tracked script can.
func TestNetnsTrackScriptAndNotify(t *testing.T) {
	bn := newBench(t)
	dir := t.TempDir()
	dead := filepath.Join(dir, "nginx-dead")
	log := filepath.Join(dir, "notify.log")
	notify := vrrp.Notify{
		Master: []string{"/bin/sh", "-c", `echo "master-script $0" >> ` + log, "no-args"},
		Any:    []string{"/bin/sh", "-c", `echo "$@" >> ` + log, "notify"},
	}
	script := vrrp.ScriptConfig{Name: "chk_nginx", Command: []string{"/usr/bin/test", "!", "-e", dead},
		Interval: 50 * time.Millisecond, Fall: 2, Rise: 2}
	withScript := func(c *vrrp.Config) {
		c.TrackScripts = []vrrp.TrackScript{{Name: "chk_nginx"}}
		c.Notify = notify
	}
	a := bn.ours(t, bn.a, vrrplab.Config{Instances: []vrrp.Config{instance(200, withScript)}, Scripts: []vrrp.ScriptConfig{script}})
	b := bn.ours(t, bn.b, vrrplab.Config{Instances: []vrrp.Config{instance(100)}})
	waitState(t, a, vrrp.StateMaster, 5*time.Second)
	waitState(t, b, vrrp.StateBackup, 5*time.Second)

	if err := os.WriteFile(dead, nil, 0o644); err != nil { // nginx dies on a
		t.Fatal(err)
	}
	waitState(t, a, vrrp.StateFault, settle)
	waitState(t, b, vrrp.StateMaster, settle)
	bn.holdsVIP(t, vip.Addr(), bn.b)

	os.Remove(dead)
	waitState(t, a, vrrp.StateMaster, settle)
	waitState(t, b, vrrp.StateBackup, settle)
	bn.holdsVIP(t, vip.Addr(), bn.a)

	err := vrrplab.Eventually(settle, func() error {
		raw, _ := os.ReadFile(log)
		lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
		want := []string{"INSTANCE VI_1 BACKUP 200", "master-script no-args", "INSTANCE VI_1 MASTER 200", "INSTANCE VI_1 FAULT 200", "INSTANCE VI_1 BACKUP 200"}
		for _, w := range want {
			if !slices.Contains(lines, w) {
				return fmt.Errorf("notify log %q lacks %q", lines, w)
			}
		}
		if strings.Count(string(raw), "INSTANCE VI_1 MASTER 200") != 2 {
			return fmt.Errorf("want two MASTER notifies: %q", lines)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestNetnsSyncGroup: two instances in a sync group move together when one
// of them faults.
func TestNetnsSyncGroup(t *testing.T) {
	bn := newBench(t)
	dead := filepath.Join(t.TempDir(), "down")
	group := func(prio int, script bool) vrrplab.Config {
		c1 := instance(prio)
		c2 := instance(prio, func(c *vrrp.Config) {
			c.Name, c.VRID = "VI_2", 52
			c.VIPs = []vrrp.VIP{{Prefix: vip2}}
		})
		cfg := vrrplab.Config{
			Instances:  []vrrp.Config{c1, c2},
			SyncGroups: []vrrp.SyncGroupConfig{{Name: "G1", Instances: []string{"VI_1", "VI_2"}}},
		}
		if script {
			cfg.Instances[1].TrackScripts = []vrrp.TrackScript{{Name: "chk"}}
			cfg.Scripts = []vrrp.ScriptConfig{{Name: "chk", Command: []string{"/usr/bin/test", "!", "-e", dead}, Interval: 50 * time.Millisecond}}
		}
		return cfg
	}
	a := bn.ours(t, bn.a, group(200, true))
	b := bn.ours(t, bn.b, group(100, false))
	for _, n := range []string{"VI_1", "VI_2"} {
		if err := a.WaitState(n, vrrp.StateMaster, 5*time.Second); err != nil {
			t.Fatal(err)
		}
		if err := b.WaitState(n, vrrp.StateBackup, 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(dead, nil, 0o644) // only VI_2 tracks it
	for _, n := range []string{"VI_1", "VI_2"} {
		if err := a.WaitState(n, vrrp.StateFault, settle); err != nil {
			t.Fatal(err)
		}
		if err := b.WaitState(n, vrrp.StateMaster, settle); err != nil {
			t.Fatal(err)
		}
	}
	bn.holdsVIP(t, vip.Addr(), bn.b)
	bn.holdsVIP(t, vip2.Addr(), bn.b)
	os.Remove(dead)
	for _, n := range []string{"VI_1", "VI_2"} {
		if err := a.WaitState(n, vrrp.StateMaster, settle); err != nil {
			t.Fatal(err)
		}
	}
	bn.holdsVIP(t, vip.Addr(), bn.a)
	bn.holdsVIP(t, vip2.Addr(), bn.a)
}

// TestNetnsIPv6 runs VRRPv3 over IPv6 (link-local sources, ff02::12,
// unsolicited neighbour advertisements).
func TestNetnsIPv6(t *testing.T) {
	bn := newBench(t)
	vip6 := netip.MustParsePrefix("2001:db8:77::100/128")
	six := func(c *vrrp.Config) { c.VIPs = []vrrp.VIP{{Prefix: vip6}} }
	a := bn.ours(t, bn.a, vrrplab.Config{Instances: []vrrp.Config{instance(200, six)}})
	b := bn.ours(t, bn.b, vrrplab.Config{Instances: []vrrp.Config{instance(100, six)}})
	waitState(t, a, vrrp.StateMaster, 5*time.Second)
	waitState(t, b, vrrp.StateBackup, 5*time.Second)
	bn.holdsVIP(t, vip6.Addr(), bn.a)
	s, err := b.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if in := s.Instances[0]; in.AdvertsReceived == 0 || !in.Master.IsLinkLocalUnicast() {
		t.Fatalf("backup's stats %+v", in)
	}
	// The client has an entry for the VIP pointing at a; b's unsolicited
	// neighbour advertisement (override flag) must move it to b.
	if _, err := bn.c.NS.Run(t.Context(), "ip", "-6", "neigh", "replace", vip6.Addr().String(),
		"lladdr", bn.a.MAC.String(), "dev", "eth0", "nud", "stale"); err != nil {
		t.Fatal(err)
	}
	if err := a.Stop(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	waitState(t, b, vrrp.StateMaster, settle)
	bn.holdsVIP(t, vip6.Addr(), bn.b)
	bn.clientSees(t, vip6.Addr(), bn.b)
}

// --- interop with keepalived ---

func kaInstance(prio int, version int) vrrplab.KAInstance {
	in := vrrplab.KAInstance{Name: "VI_1", VRID: 51, Version: version, Priority: prio, VIPs: []netip.Prefix{vip}, Label: true}
	if version == 2 {
		in.Advert, in.AuthPass = time.Second, "1111"
	} else {
		in.Advert = 100 * time.Millisecond
	}
	return in
}

func oursFor(prio int, version int) vrrplab.Config {
	return vrrplab.Config{Instances: []vrrp.Config{instance(prio, func(c *vrrp.Config) {
		c.Version = version
		if version == 2 {
			c.AdvertInterval, c.Authentication = time.Second, vrrp.PassAuth("1111")
		}
	})}}
}

// interop runs one side as master (priority 200 on a) and the other as
// backup (100 on b) and goes through: election, graceful stop of the
// master, its return (preemption), its link cut, its link back.
func interop(t *testing.T, version int, oursMaster bool) {
	bn := newBench(t)
	adv := time.Second
	if version == 3 {
		adv = 100 * time.Millisecond
	}
	mdi := 3*adv + 156*adv/256 // at priority 100
	startMaster := func() *vrrplab.Proc {
		if oursMaster {
			return bn.ours(t, bn.a, oursFor(200, version))
		}
		return bn.keepalived(t, bn.a, kaInstance(200, version))
	}
	var backup *vrrplab.Proc
	if oursMaster {
		backup = bn.keepalived(t, bn.b, kaInstance(100, version))
	} else {
		backup = bn.ours(t, bn.b, oursFor(100, version))
	}
	// Every wait is for something the protocol makes happen within one
	// Master_Down_Interval (at most two for an election); the bound only
	// stops a lost event.
	within := 2*mdi + settle
	sn, err := bn.Sniff()
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Close()
	master := startMaster()
	waitState(t, master, vrrp.StateMaster, within)
	waitState(t, backup, vrrp.StateBackup, within)
	// Three adverts of the master (counted on the wire): the backup
	// accepts it. A backup that did not would take over for good (it
	// never hears the master); one forced over by a starved machine is
	// preempted back at once.
	since := time.Now()
	if err := waitWire(sn, since, 3, func(c vrrplab.Capture) bool { return c.IsAdvert(addrA.Addr(), 51) }); err != nil {
		t.Fatal(err)
	}
	if !backup.Keepalived {
		checkTakeovers(t, backup, addrA.Addr(), mdi, since)
	}
	if err := backup.WaitState("VI_1", vrrp.StateBackup, within); err != nil {
		t.Fatalf("%s does not accept %s as master: %v", backup.Name, master.Name, err)
	}
	bn.holdsVIP(t, vip.Addr(), bn.a)

	// 1. Graceful stop of the master: the backup takes over after the skew.
	stopped := time.Now()
	if err := master.Stop(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	waitState(t, backup, vrrp.StateMaster, within)
	t.Logf("v%d, %s stopped: %s took over in %v", version, master.Name, backup.Name, time.Since(stopped).Round(time.Millisecond))
	bn.holdsVIP(t, vip.Addr(), bn.b)

	// 2. The master comes back and preempts.
	master = startMaster()
	waitState(t, master, vrrp.StateMaster, within)
	waitState(t, backup, vrrp.StateBackup, within)
	bn.holdsVIP(t, vip.Addr(), bn.a)

	// 3. The master's link is cut: the backup takes over after
	// Master_Down_Interval; the master goes FAULT.
	cut := time.Now()
	if err := bn.a.Link.Cut(); err != nil {
		t.Fatal(err)
	}
	waitState(t, master, vrrp.StateFault, within)
	waitState(t, backup, vrrp.StateMaster, within)
	t.Logf("v%d, %s cut: %s took over in %v", version, master.Name, backup.Name, time.Since(cut).Round(time.Millisecond))
	bn.holdsVIP(t, vip.Addr(), bn.b)

	// 4. The link is back: the master preempts again.
	if err := bn.a.Link.Restore(); err != nil {
		t.Fatal(err)
	}
	waitState(t, master, vrrp.StateMaster, within)
	waitState(t, backup, vrrp.StateBackup, within)
	bn.holdsVIP(t, vip.Addr(), bn.a)
}

func TestNetnsKeepalivedV2OursMaster(t *testing.T)       { interop(t, 2, true) }
func TestNetnsKeepalivedV2KeepalivedMaster(t *testing.T) { interop(t, 2, false) }
func TestNetnsKeepalivedV3OursMaster(t *testing.T)       { interop(t, 3, true) }
func TestNetnsKeepalivedV3KeepalivedMaster(t *testing.T) { interop(t, 3, false) }

// TestNetnsKeepalivedTieBreak: equal priorities, the higher address wins,
// whichever implementation holds it.
func TestNetnsKeepalivedTieBreak(t *testing.T) {
	bn := newBench(t)
	// A backup never preempts an equal priority (RFC 5798 6.4.2), so the
	// tie-break only decides between two masters: start both apart, so
	// that each becomes master, then let them hear each other.
	for _, h := range []*vrrplab.Host{bn.a, bn.b} {
		if err := bn.Isolate(h, true); err != nil {
			t.Fatal(err)
		}
	}
	ka := bn.keepalived(t, bn.a, kaInstance(100, 3)) // 10.77.0.1
	ours := bn.ours(t, bn.b, oursFor(100, 3))        // 10.77.0.2: higher
	waitState(t, ours, vrrp.StateMaster, settle)
	waitState(t, ka, vrrp.StateMaster, settle)
	sn, err := bn.Sniff()
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Close()
	healed := time.Now()
	for _, h := range []*vrrplab.Host{bn.a, bn.b} {
		if err := bn.Isolate(h, false); err != nil {
			t.Fatal(err)
		}
	}
	waitState(t, ka, vrrp.StateBackup, settle)
	// Five adverts of ours (counted on the wire): ours, the higher
	// address, never steps down; keepalived stays backup (or, forced over
	// by a starved machine, steps down again at once).
	if err := waitWire(sn, time.Now(), 5, func(c vrrplab.Capture) bool { return c.IsAdvert(addrB.Addr(), 51) }); err != nil {
		t.Fatal(err)
	}
	noMoves(t, ours, healed)
	waitState(t, ka, vrrp.StateBackup, settle)
	bn.holdsVIP(t, vip.Addr(), bn.b)
}

// TestNetnsKeepalivedAuthMismatch: a wrong password is dropped and counted;
// both sides then claim master.
func TestNetnsKeepalivedAuthMismatch(t *testing.T) {
	bn := newBench(t)
	in := kaInstance(200, 2)
	in.AuthPass = "2222"
	ka := bn.keepalived(t, bn.a, in)
	ours := bn.ours(t, bn.b, oursFor(100, 2))
	// Neither accepts the other's adverts: both end up MASTER.
	waitState(t, ours, vrrp.StateMaster, 10*time.Second)
	waitState(t, ka, vrrp.StateMaster, 10*time.Second)
	// Two more adverts of ours (1 s apart, counted): having heard no valid
	// advert, it never leaves MASTER. (keepalived, as master, stops
	// advertising once it has dropped ours: its first advert, before ours
	// became master, is the one ours drops.)
	since := time.Now()
	s, err := ours.Stats()
	if err != nil {
		t.Fatal(err)
	}
	base := s.Instances[0].AdvertsSent
	err = vrrplab.Eventually(settle+2*time.Second, func() error {
		var err error
		if s, err = ours.Stats(); err != nil {
			return err
		}
		if n := s.Instances[0].AdvertsSent; n < base+2 {
			return fmt.Errorf("%d more adverts sent", n-base)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.Instances[0].Drops[vrrp.DropAuth] == 0 {
		t.Fatalf("no auth drop counted: %+v", s.Instances[0].Drops)
	}
	if s.Instances[0].AdvertsReceived != 0 {
		t.Fatalf("ours accepted %d adverts with the wrong password", s.Instances[0].AdvertsReceived)
	}
	noMoves(t, ours, since)
	if ours.State("VI_1") != vrrp.StateMaster {
		t.Fatalf("ours is %v", ours.State("VI_1"))
	}
}

// TestNetnsUnicastPeers: adverts go to the peers' addresses instead of the
// multicast group, with keepalived as the peer too.
func TestNetnsUnicastPeers(t *testing.T) {
	bn := newBench(t)
	uni := func(peer netip.Addr) func(*vrrp.Config) {
		return func(c *vrrp.Config) {
			c.Version, c.AdvertInterval, c.Authentication = 2, time.Second, vrrp.PassAuth("1111")
			c.UnicastPeers = []netip.Addr{peer}
		}
	}
	a := bn.ours(t, bn.a, vrrplab.Config{Instances: []vrrp.Config{instance(200, uni(addrB.Addr()))}})
	in := kaInstance(100, 2)
	in.UnicastSrc, in.UnicastPeers = addrB.Addr(), []netip.Addr{addrA.Addr()}
	ka := bn.keepalived(t, bn.b, in)
	sn, err := bn.Sniff()
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Close()
	waitState(t, a, vrrp.StateMaster, 6*time.Second)
	waitState(t, ka, vrrp.StateBackup, 2*time.Second)
	adv, err := sn.Wait(time.Now(), 3*time.Second, func(c vrrplab.Capture) bool { return c.IsAdvert(addrA.Addr(), 51) })
	if err != nil {
		t.Fatal(err)
	}
	if adv.Dst != addrB.Addr() {
		t.Fatalf("advert sent to %v, want the peer %v", adv.Dst, addrB.Addr())
	}
	bn.holdsVIP(t, vip.Addr(), bn.a)
	if err := a.Stop(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	waitState(t, ka, vrrp.StateMaster, 2*time.Second)
	bn.holdsVIP(t, vip.Addr(), bn.b)
	// Back: ours hears keepalived's unicast adverts and preempts.
	a = bn.ours(t, bn.a, vrrplab.Config{Instances: []vrrp.Config{instance(200, uni(addrB.Addr()))}})
	waitState(t, a, vrrp.StateMaster, 6*time.Second)
	waitState(t, ka, vrrp.StateBackup, 2*time.Second)
	bn.holdsVIP(t, vip.Addr(), bn.a)
}

// TestNetnsKeepalivedIPv6: VRRPv3 over IPv6 against keepalived, both
// directions.
func TestNetnsKeepalivedIPv6(t *testing.T) {
	bn := newBench(t)
	vip6 := netip.MustParsePrefix("2001:db8:77::100/128")
	six := func(c *vrrp.Config) { c.VIPs = []vrrp.VIP{{Prefix: vip6}} }
	in := kaInstance(100, 3)
	in.VIPs = []netip.Prefix{vip6}
	ka := bn.keepalived(t, bn.b, in)
	ours := bn.ours(t, bn.a, vrrplab.Config{Instances: []vrrp.Config{instance(200, six)}})
	waitState(t, ours, vrrp.StateMaster, 3*time.Second)
	waitState(t, ka, vrrp.StateBackup, 2*time.Second)
	bn.holdsVIP(t, vip6.Addr(), bn.a)
	if err := ours.Stop(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	waitState(t, ka, vrrp.StateMaster, time.Second)
	bn.holdsVIP(t, vip6.Addr(), bn.b)
	ours = bn.ours(t, bn.a, vrrplab.Config{Instances: []vrrp.Config{instance(200, six)}})
	waitState(t, ours, vrrp.StateMaster, 3*time.Second)
	waitState(t, ka, vrrp.StateBackup, 2*time.Second)
	bn.holdsVIP(t, vip6.Addr(), bn.a)
	// keepalived's master (priority 200 now) against our backup.
	ours.Stop(5 * time.Second)
	ka.Stop(5 * time.Second)
	in.Priority = 200
	ka2 := bn.keepalived(t, bn.b, in)
	ours = bn.ours(t, bn.a, vrrplab.Config{Instances: []vrrp.Config{instance(100, six)}})
	waitState(t, ka2, vrrp.StateMaster, 3*time.Second)
	waitState(t, ours, vrrp.StateBackup, 2*time.Second)
	if err := ka2.Stop(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	waitState(t, ours, vrrp.StateMaster, 2*time.Second)
	bn.holdsVIP(t, vip6.Addr(), bn.a)
}

// TestNetnsGARPSchedule checks the gratuitous ARP schedule: a burst on
// becoming master, the second burst master_delay later, then refreshes
// every master_refresh; each burst of its size, never before its time (the
// timers count from the transition, without drift), and on the wire as
// keepalived sends them.
func TestNetnsGARPSchedule(t *testing.T) {
	bn := newBench(t)
	sn, err := bn.Sniff()
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Close()
	garp := vrrp.GARPConfig{MasterDelay: 300 * time.Millisecond, MasterRepeat: 3, MasterRefresh: 500 * time.Millisecond, MasterRefreshRepeat: 2}
	a := bn.ours(t, bn.a, vrrplab.Config{Instances: []vrrp.Config{instance(200, func(c *vrrp.Config) { c.GARP = garp })}})
	waitState(t, a, vrrp.StateMaster, settle)
	var master time.Time // the transition's due time
	for _, e := range a.History() {
		if e.State == vrrp.StateMaster {
			master = e.Due
		}
	}
	// The first four bursts a's router asked for (counted, up to the
	// second refresh).
	var bursts []vrrplab.Announce
	err = vrrplab.Eventually(settle+garp.MasterRefresh*2, func() error {
		var err error
		if bursts, err = a.Announced(); err != nil {
			return err
		}
		if len(bursts) < 4 {
			return fmt.Errorf("%d bursts so far", len(bursts))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var offsets []string
	for _, b := range bursts {
		offsets = append(offsets, fmt.Sprintf("%d at +%v", b.Repeat, b.At.Sub(master).Round(time.Millisecond)))
	}
	t.Logf("bursts after the MASTER transition: %s", strings.Join(offsets, ", "))
	// The first burst on the transition; then the second burst and two
	// refreshes, in the order their timers were handled (on a starved
	// machine two due timers may come in either order).
	if b := bursts[0]; b.Repeat != garp.MasterRepeat || b.At.Before(master) {
		t.Errorf("first burst %d at %v, want %d on the MASTER transition at %v", b.Repeat, b.At, garp.MasterRepeat, master)
	}
	refreshes := 0
	for _, b := range bursts[1:4] {
		switch b.Repeat {
		case garp.MasterRepeat:
			if due := master.Add(garp.MasterDelay); b.At.Before(due) {
				t.Errorf("second burst at +%v, before master_delay %v", b.At.Sub(master), garp.MasterDelay)
			}
		case garp.MasterRefreshRepeat:
			refreshes++
			if due := master.Add(time.Duration(refreshes) * garp.MasterRefresh); b.At.Before(due) {
				t.Errorf("refresh %d at +%v, before %v", refreshes, b.At.Sub(master), due.Sub(master))
			}
		default:
			t.Errorf("a burst of %d, want %d or %d", b.Repeat, garp.MasterRepeat, garp.MasterRefreshRepeat)
		}
	}
	if refreshes != 2 {
		t.Errorf("bursts %s: want the second burst and two refreshes after the first", strings.Join(offsets, ", "))
	}
	// On the wire: ARP requests, sender = target = VIP, target MAC
	// broadcast, as many as the bursts asked for.
	sent := 0
	for _, b := range bursts {
		sent += b.Repeat * len(b.Addrs)
	}
	isGARP := func(c vrrplab.Capture) bool {
		return c.VRRP == nil && c.ARPOp == 1 && c.Src == vip.Addr() && c.ARPTgt == vip.Addr() && c.HWSrc.String() == bn.a.MAC.String()
	}
	if err := waitWire(sn, time.Time{}, sent, isGARP); err != nil {
		t.Fatalf("gratuitous ARPs on the wire: %v", err)
	}
	seen := 0
	for _, c := range sn.Captures() {
		if !isGARP(c) {
			continue
		}
		seen++
		if c.ARPTgHW.String() != "ff:ff:ff:ff:ff:ff" {
			t.Fatalf("gratuitous ARP with target MAC %v, keepalived sends ff:ff:ff:ff:ff:ff", c.ARPTgHW)
		}
	}
	// Every one on the wire was asked for (read after the capture).
	later, err := a.Announced()
	if err != nil {
		t.Fatal(err)
	}
	asked := 0
	for _, b := range later {
		asked += b.Repeat * len(b.Addrs)
	}
	if seen > asked {
		t.Errorf("%d gratuitous ARPs on the wire, but the bursts asked for %d", seen, asked)
	}
}

// TestNetnsUnicastSourceChecked: two of ours in unicast mode. Higher
// priority unicast adverts forged by a third host x from its own address
// neither make the master step down nor a priority-0 one make the backup
// take over: they are dropped for their source (check_unicast_src, lbd's
// default). The same advert with the peer's address as its source does make
// the master step down: the check is the source among unicast_peers.
func TestNetnsUnicastSourceChecked(t *testing.T) {
	bn := newBench(t)
	x, err := bn.AddHost("x", addrX)
	if err != nil {
		t.Fatal(err)
	}
	uni := func(peer netip.Addr) func(*vrrp.Config) {
		return func(c *vrrp.Config) { c.UnicastPeers = []netip.Addr{peer} }
	}
	a := bn.ours(t, bn.a, vrrplab.Config{Instances: []vrrp.Config{instance(200, uni(addrB.Addr()))}})
	b := bn.ours(t, bn.b, vrrplab.Config{Instances: []vrrp.Config{instance(100, uni(addrA.Addr()))}})
	waitState(t, a, vrrp.StateMaster, 6*time.Second)
	waitState(t, b, vrrp.StateBackup, 2*time.Second)
	inj, err := bn.Injector(x)
	if err != nil {
		t.Fatal(err)
	}
	defer inj.Close()
	advert := func(prio uint8, src, dst netip.Addr) []byte {
		p := vrrp.Packet{Version: 3, Type: 1, VRID: 51, Priority: prio, Interval: 100 * time.Millisecond,
			Addresses: []netip.Addr{vip.Addr()}}
		out, err := p.Marshal(src, dst)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	// Forged from x: priority 254 to the master, 0 to the backup, every
	// 50 ms for 2 s (many master-down intervals of 0.3 s).
	since := time.Now()
	const forged = 40
	for range forged {
		if err := inj.SendFrom(advert(254, addrX.Addr(), addrA.Addr()), addrX.Addr(), addrA.Addr(), 255); err != nil {
			t.Fatal(err)
		}
		if err := inj.SendFrom(advert(0, addrX.Addr(), addrB.Addr()), addrX.Addr(), addrB.Addr(), 255); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, p := range []*vrrplab.Proc{a, b} {
		err := vrrplab.Eventually(settle, func() error {
			s, err := p.Stats()
			if err != nil {
				return err
			}
			if n := s.Instances[0].Drops[vrrp.DropSource]; n != forged {
				return fmt.Errorf("%s: %d drops for the source, want %d (drops %v)", p.Name, n, forged, s.Instances[0].Drops)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	noMoves(t, a, since)
	noMoves(t, b, since)
	bn.holdsVIP(t, vip.Addr(), bn.a)

	// The same advert with the peer's address: the master steps down.
	since = time.Now()
	err = vrrplab.Eventually(settle, func() error {
		if err := inj.SendFrom(advert(254, addrB.Addr(), addrA.Addr()), addrB.Addr(), addrA.Addr(), 255); err != nil {
			return err
		}
		time.Sleep(20 * time.Millisecond)
		for _, e := range a.History() {
			if e.At.After(since) && e.State == vrrp.StateBackup {
				return nil
			}
		}
		return fmt.Errorf("%s has not stepped down", a.Name)
	})
	if err != nil {
		t.Fatal(err)
	}
}
