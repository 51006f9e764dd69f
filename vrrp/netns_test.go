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

// holdsVIP checks that exactly owner holds ip among hosts.
func (bn *bench) holdsVIP(t *testing.T, ip netip.Addr, owner *vrrplab.Host) {
	t.Helper()
	err := vrrplab.Eventually(2*time.Second, func() error {
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
	err := vrrplab.Eventually(3*time.Second, func() error {
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
	time.Sleep(time.Second) // ten adverts: nobody moves
	if a.State("VI_1") != vrrp.StateMaster || b.State("VI_1") != vrrp.StateBackup {
		t.Fatalf("a %v, b %v", a.State("VI_1"), b.State("VI_1"))
	}
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
	if _, err := ping.WaitReplyAfter(time.Now(), 2*time.Second); err != nil {
		t.Fatal(err)
	}
	bn.clientSees(t, vip.Addr(), bn.a)
	s, err := b.Stats()
	if err != nil {
		t.Fatal(err)
	}
	in := s.Instances[0]
	if in.AdvertsReceived < 5 || in.Master != addrA.Addr() || in.Source != addrB.Addr() {
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
	waitState(t, a, vrrp.StateFault, 2*time.Second)
	waitState(t, b, vrrp.StateMaster, 2*time.Second)
	bn.holdsVIP(t, vip.Addr(), bn.b)
	bn.clientSees(t, vip.Addr(), bn.b)
	if _, err := ping.WaitReplyAfter(time.Now(), 2*time.Second); err != nil {
		t.Fatal(err)
	}
	t.Logf("the client saw an outage of %v (v3, 100 ms adverts)", ping.LongestGap(cut).Round(time.Millisecond))

	restored := time.Now()
	if err := bn.a.Link.Restore(); err != nil {
		t.Fatal(err)
	}
	waitState(t, a, vrrp.StateMaster, 3*time.Second)
	waitState(t, b, vrrp.StateBackup, 3*time.Second)
	bn.holdsVIP(t, vip.Addr(), bn.a)
	bn.clientSees(t, vip.Addr(), bn.a)
	if _, err := ping.WaitReplyAfter(time.Now(), 2*time.Second); err != nil {
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
	waitState(t, b, vrrp.StateMaster, 3*time.Second)
	if err := bn.a.Link.Restore(); err != nil {
		t.Fatal(err)
	}
	waitState(t, a, vrrp.StateBackup, 3*time.Second)
	time.Sleep(2 * time.Second) // 20 adverts, several Master_Down_Intervals
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
	mdi := 300*time.Millisecond + skew
	got := first.At.Sub(zero.At)
	t.Logf("takeover on the wire %v after the priority 0 advert (skew %v, Master_Down_Interval %v)", got, skew, mdi)
	if got < skew-2*time.Millisecond || got > skew+40*time.Millisecond {
		t.Fatalf("takeover %v after the priority 0 advert, want the skew time %v", got, skew)
	}
	waitState(t, b, vrrp.StateMaster, time.Second)
	bn.holdsVIP(t, vip.Addr(), bn.b)
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
	waitState(t, b, vrrp.StateMaster, 3*time.Second)
	if a.State("VI_1") != vrrp.StateMaster {
		t.Fatalf("a is %v during the partition", a.State("VI_1"))
	}
	sn, err := bn.Sniff()
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Close()
	time.Sleep(250 * time.Millisecond) // both are advertising
	for _, h := range []*vrrplab.Host{bn.a, bn.b} {
		if err := bn.Isolate(h, false); err != nil {
			t.Fatal(err)
		}
	}
	healed := time.Now()
	waitState(t, b, vrrp.StateBackup, time.Second)
	time.Sleep(600 * time.Millisecond)
	var lastB time.Time
	var fromA int
	for _, c := range sn.Captures() {
		if !c.IsAdvert(netip.Addr{}, 51) || c.At.Before(healed) {
			continue
		}
		switch c.Src {
		case addrB.Addr():
			lastB = c.At
		case addrA.Addr():
			fromA++
		}
	}
	if !lastB.IsZero() {
		if d := lastB.Sub(healed); d > 100*time.Millisecond+30*time.Millisecond {
			t.Fatalf("b still advertised %v after healing (one advert is 100 ms)", d)
		}
	}
	if fromA < 4 || a.State("VI_1") != vrrp.StateMaster {
		t.Fatalf("a sent %d adverts after healing and is %v", fromA, a.State("VI_1"))
	}
	bn.holdsVIP(t, vip.Addr(), bn.a)
	for _, e := range a.History() {
		if e.At.After(healed) {
			t.Fatalf("a moved to %v after healing", e.State)
		}
	}
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
	waitState(t, a, vrrp.StateBackup, 5*time.Second)
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
	err = vrrplab.Eventually(5*time.Second, func() error {
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
	err = vrrplab.Eventually(3*time.Second, func() error {
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
	if in.AdvertsReceived != valid || a.State("VI_1") != vrrp.StateBackup {
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
	if _, err := sn.Wait(removed, time.Second, func(c vrrplab.Capture) bool {
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
	waitState(t, a, vrrp.StateFault, 3*time.Second)
	waitState(t, b, vrrp.StateMaster, 3*time.Second)
	bn.holdsVIP(t, vip.Addr(), bn.b)

	os.Remove(dead)
	waitState(t, a, vrrp.StateMaster, 3*time.Second)
	waitState(t, b, vrrp.StateBackup, 3*time.Second)
	bn.holdsVIP(t, vip.Addr(), bn.a)

	err := vrrplab.Eventually(2*time.Second, func() error {
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
		if err := a.WaitState(n, vrrp.StateFault, 3*time.Second); err != nil {
			t.Fatal(err)
		}
		if err := b.WaitState(n, vrrp.StateMaster, 3*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	bn.holdsVIP(t, vip.Addr(), bn.b)
	bn.holdsVIP(t, vip2.Addr(), bn.b)
	os.Remove(dead)
	for _, n := range []string{"VI_1", "VI_2"} {
		if err := a.WaitState(n, vrrp.StateMaster, 3*time.Second); err != nil {
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
	waitState(t, b, vrrp.StateMaster, time.Second)
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
	master := startMaster()
	waitState(t, master, vrrp.StateMaster, 2*mdi+2*time.Second)
	waitState(t, backup, vrrp.StateBackup, 2*time.Second)
	time.Sleep(3 * adv)
	if backup.State("VI_1") != vrrp.StateBackup {
		t.Fatalf("%s does not accept %s as master", backup.Name, master.Name)
	}
	bn.holdsVIP(t, vip.Addr(), bn.a)

	// 1. Graceful stop of the master: the backup takes over after the skew.
	stopped := time.Now()
	if err := master.Stop(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	waitState(t, backup, vrrp.StateMaster, mdi)
	t.Logf("v%d, %s stopped: %s took over in %v", version, master.Name, backup.Name, time.Since(stopped).Round(time.Millisecond))
	bn.holdsVIP(t, vip.Addr(), bn.b)

	// 2. The master comes back and preempts.
	master = startMaster()
	waitState(t, master, vrrp.StateMaster, 2*mdi+2*time.Second)
	waitState(t, backup, vrrp.StateBackup, 2*time.Second)
	bn.holdsVIP(t, vip.Addr(), bn.a)

	// 3. The master's link is cut: the backup takes over after
	// Master_Down_Interval; the master goes FAULT.
	cut := time.Now()
	if err := bn.a.Link.Cut(); err != nil {
		t.Fatal(err)
	}
	waitState(t, master, vrrp.StateFault, 2*time.Second)
	waitState(t, backup, vrrp.StateMaster, mdi+time.Second)
	t.Logf("v%d, %s cut: %s took over in %v", version, master.Name, backup.Name, time.Since(cut).Round(time.Millisecond))
	bn.holdsVIP(t, vip.Addr(), bn.b)

	// 4. The link is back: the master preempts again.
	if err := bn.a.Link.Restore(); err != nil {
		t.Fatal(err)
	}
	waitState(t, master, vrrp.StateMaster, 2*mdi+2*time.Second)
	waitState(t, backup, vrrp.StateBackup, 2*time.Second)
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
	waitState(t, ours, vrrp.StateMaster, 3*time.Second)
	waitState(t, ka, vrrp.StateMaster, 3*time.Second)
	for _, h := range []*vrrplab.Host{bn.a, bn.b} {
		if err := bn.Isolate(h, false); err != nil {
			t.Fatal(err)
		}
	}
	waitState(t, ka, vrrp.StateBackup, 3*time.Second)
	time.Sleep(500 * time.Millisecond)
	if ka.State("VI_1") != vrrp.StateBackup || ours.State("VI_1") != vrrp.StateMaster {
		t.Fatalf("keepalived %v, ours %v", ka.State("VI_1"), ours.State("VI_1"))
	}
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
	time.Sleep(1500 * time.Millisecond)
	if ours.State("VI_1") != vrrp.StateMaster {
		t.Fatalf("ours is %v", ours.State("VI_1"))
	}
	s, err := ours.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.Instances[0].Drops[vrrp.DropAuth] == 0 {
		t.Fatalf("no auth drop counted: %+v", s.Instances[0].Drops)
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

// TestNetnsGARPSchedule checks the gratuitous ARPs on the wire: a burst on
// becoming master, the second burst master_delay later, then refreshes.
func TestNetnsGARPSchedule(t *testing.T) {
	bn := newBench(t)
	sn, err := bn.Sniff()
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Close()
	start := time.Now()
	a := bn.ours(t, bn.a, vrrplab.Config{Instances: []vrrp.Config{instance(200, func(c *vrrp.Config) {
		c.GARP = vrrp.GARPConfig{MasterDelay: 300 * time.Millisecond, MasterRepeat: 3, MasterRefresh: 500 * time.Millisecond, MasterRefreshRepeat: 2}
	})}})
	waitState(t, a, vrrp.StateMaster, 3*time.Second)
	first, err := sn.Wait(start, 2*time.Second, func(c vrrplab.Capture) bool { return c.IsAdvert(addrA.Addr(), 51) })
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(1200 * time.Millisecond)
	// Count a's gratuitous ARPs (ARP request, sender = target = VIP, target
	// MAC broadcast) by the nearest 100 ms after its first advert.
	slots := map[int]int{}
	for _, c := range sn.Captures() {
		if c.VRRP != nil || c.ARPOp != 1 || c.Src != vip.Addr() || c.ARPTgt != vip.Addr() || c.HWSrc.String() != bn.a.MAC.String() {
			continue
		}
		if c.ARPTgHW.String() != "ff:ff:ff:ff:ff:ff" {
			t.Fatalf("gratuitous ARP with target MAC %v, keepalived sends ff:ff:ff:ff:ff:ff", c.ARPTgHW)
		}
		slots[int(c.At.Sub(first.At).Round(100*time.Millisecond)/(100*time.Millisecond))]++
	}
	want := map[int]int{0: 3, 3: 3, 5: 2, 10: 2} // burst, +300 ms burst, refresh every 500 ms
	if diff := fmt.Sprint(slots); diff != fmt.Sprint(want) {
		t.Fatalf("gratuitous ARPs by 100 ms after becoming master: %v, want %v", slots, want)
	}
}
