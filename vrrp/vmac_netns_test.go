//go:build netns

package vrrp_test

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lb/vrrp"
	"github.com/lvsd/lb/vrrp/internal/vrrplab"
)

// withVMAC gives the instance a vmac (xmit_base as asked); labels name the
// base interface, so they go.
func withVMAC(xmitBase bool) func(*vrrp.Config) {
	return func(c *vrrp.Config) {
		c.VMAC = vrrp.VMACConfig{Enabled: true, XmitBase: xmitBase}
		for i := range c.VIPs {
			c.VIPs[i].Label = ""
		}
	}
}

// sysctl reads an IPv4 interface sysctl in host h.
func sysctl(t *testing.T, h *vrrplab.Host, iface, key string) string {
	t.Helper()
	out, err := h.NS.Run(t.Context(), "cat", "/proc/sys/net/ipv4/conf/"+iface+"/"+key)
	if err != nil {
		t.Fatalf("reading %s %s on %s: %v", iface, key, h.Name, err)
	}
	return strings.TrimSpace(out)
}

// checkVMAC checks host h's macvlan as keepalived makes it: private mode,
// the virtual MAC, up, with the VIP on it (when master) and keepalived's
// sysctls on it and its parent.
func checkVMAC(t *testing.T, h *vrrplab.Host, master bool) {
	t.Helper()
	out, err := h.NS.Run(t.Context(), "ip", "-d", "addr", "show", "dev", "vrrp.51")
	if err != nil {
		t.Fatalf("%s has no vrrp.51: %v\n%s", h.Name, err, out)
	}
	for _, want := range []string{"link/ether 00:00:5e:00:01:33", "macvlan mode private", "state UP"} {
		if !strings.Contains(out, want) {
			t.Errorf("%s's vrrp.51 lacks %q:\n%s", h.Name, want, out)
		}
	}
	if strings.Contains(out, vip.String()) != master {
		t.Errorf("%s (master %v): VIP on vrrp.51 is %v:\n%s", h.Name, master, !master, out)
	}
	for _, c := range []struct{ iface, key, want string }{
		{"vrrp.51", "arp_ignore", "1"}, {"vrrp.51", "accept_local", "1"}, {"vrrp.51", "rp_filter", "0"},
		{"eth0", "arp_ignore", "1"}, {"eth0", "arp_filter", "1"}, {"eth0", "arp_announce", "2"},
	} {
		if got := sysctl(t, h, c.iface, c.key); got != c.want {
			t.Errorf("%s: %s %s = %s, want %s", h.Name, c.iface, c.key, got, c.want)
		}
	}
}

// checkNoVMAC checks that host h's macvlan is gone and its parent's
// sysctls are as before.
func checkNoVMAC(t *testing.T, h *vrrplab.Host, before map[string]string) {
	t.Helper()
	err := vrrplab.Eventually(settle, func() error {
		if out, err := h.NS.Run(t.Context(), "ip", "link", "show", "dev", "vrrp.51"); err == nil {
			return fmt.Errorf("%s still has vrrp.51:\n%s", h.Name, out)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range before {
		if got := sysctl(t, h, "eth0", k); got != v {
			t.Errorf("%s: eth0 %s = %s after stop, want %s as before", h.Name, k, got, v)
		}
	}
}

// TestNetnsVMACTakeover: both directors use a vmac; the client's ARP entry
// for the VIP is the virtual MAC and stays it when the master stops and
// the backup takes over, and the client still reaches the VIP. Adverts
// leave from the virtual MAC, or from the base interface's with xmit_base.
func TestNetnsVMACTakeover(t *testing.T) {
	for _, xmitBase := range []bool{false, true} {
		t.Run(map[bool]string{false: "adverts on vmac", true: "xmit_base"}[xmitBase], func(t *testing.T) {
			bn := newBench(t)
			before := map[string]string{}
			for _, k := range []string{"arp_ignore", "arp_filter", "arp_announce"} {
				before[k] = sysctl(t, bn.a, "eth0", k)
			}
			sn, err := bn.Sniff()
			if err != nil {
				t.Fatal(err)
			}
			defer sn.Close()
			a := bn.ours(t, bn.a, vrrplab.Config{Instances: []vrrp.Config{instance(200, withVMAC(xmitBase))}})
			b := bn.ours(t, bn.b, vrrplab.Config{Instances: []vrrp.Config{instance(100, withVMAC(xmitBase))}})
			waitState(t, a, vrrp.StateMaster, 5*time.Second)
			waitState(t, b, vrrp.StateBackup, 5*time.Second)
			checkVMAC(t, bn.a, true)
			checkVMAC(t, bn.b, false)
			vmac := vrrp.VirtualMAC(51, false).String()
			advertMAC := vmac
			if xmitBase {
				advertMAC = bn.a.MAC.String()
			}
			since := time.Now()
			if err := waitWire(sn, since, 3, func(c vrrplab.Capture) bool {
				return c.IsAdvert(addrA.Addr(), 51) && c.HWSrc.String() == advertMAC
			}); err != nil {
				t.Fatalf("adverts from %s's %s: %v", bn.a.Name, advertMAC, err)
			}

			ping, err := bn.Ping(bn.c, vip.Addr(), 10*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			defer ping.Close()
			if _, err := ping.WaitReplyAfter(time.Now(), settle); err != nil {
				t.Fatal(err)
			}
			clientSeesMAC(t, bn, vip.Addr(), vmac)

			stopped := time.Now()
			if err := a.Stop(5 * time.Second); err != nil {
				t.Fatal(err)
			}
			waitState(t, b, vrrp.StateMaster, settle)
			checkVMAC(t, bn.b, true)
			checkNoVMAC(t, bn.a, before)
			if _, err := ping.WaitReplyAfter(time.Now(), settle); err != nil {
				t.Fatalf("client lost the VIP after the takeover: %v", err)
			}
			clientSeesMAC(t, bn, vip.Addr(), vmac)
			t.Logf("longest gap in the client's pings (every 10ms) across the takeover: %v", ping.LongestGap(stopped).Round(time.Millisecond))
			// The entry never left the virtual MAC: the ARPs the client
			// saw for the VIP all said so.
			for _, c := range sn.Captures() {
				if c.VRRP == nil && c.Src == vip.Addr() && c.HWSrc.String() != vmac {
					t.Errorf("ARP for %v from %v, not the virtual MAC: %+v (a %v b %v c %v)", vip.Addr(), c.HWSrc, c, bn.a.MAC, bn.b.MAC, bn.c.MAC)
				}
			}
		})
	}
}

// clientSeesMAC waits until the client's ARP entry for ip is mac.
func clientSeesMAC(t *testing.T, bn *bench, ip netip.Addr, mac string) {
	t.Helper()
	err := vrrplab.Eventually(settle, func() error {
		got, err := bn.Neighbour(bn.c, ip)
		if err != nil {
			return err
		}
		if got.String() != mac {
			return fmt.Errorf("client's ARP entry for %v is %v, want %v", ip, got, mac)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestNetnsVMACKeepalivedInterop: lbd itself (lbd.yaml's vmac key) and
// keepalived, both with use_vmac (and both with vmac_xmit_base): they
// elect one master, the client's ARP entry for the VIP is the virtual MAC
// whichever holds it, through lbd's stop (keepalived takes over), its
// return (it preempts) and keepalived's stop.
func TestNetnsVMACKeepalivedInterop(t *testing.T) {
	bin, err := vrrplab.BuildLbd(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, xmitBase := range []bool{false, true} {
		t.Run(map[bool]string{false: "adverts on vmac", true: "xmit_base"}[xmitBase], func(t *testing.T) {
			vmacInterop(t, bin, xmitBase)
		})
	}
}

func vmacInterop(t *testing.T, lbdBin string, xmitBase bool) {
	bn := newBench(t)
	bn.Lbd = lbdBin
	in := func(prio int) vrrplab.KAInstance {
		return vrrplab.KAInstance{Name: "VI_1", VRID: 51, Version: 3, Priority: prio, Advert: 100 * time.Millisecond,
			VIPs: []netip.Prefix{vip}, VMAC: true, VMACXmitBase: xmitBase}
	}
	startLbd := func() *vrrplab.Proc {
		p, err := bn.StartLbd(bn.a, "lbd-a", vrrplab.LbdConf(bn.Dir, "lbd-a", in(200)))
		if err != nil {
			t.Fatal(err)
		}
		bn.procs = append(bn.procs, p)
		return p
	}
	// keepalived does not set arp_announce on the vmac's parent (lbd does):
	// its host's replies from the VIP leave by eth0, whose ARP requests
	// then name the VIP with eth0's MAC and move the client's entry off
	// the virtual MAC (seen in this test). An operator running keepalived
	// with use_vmac sets it, as here.
	if _, err := bn.b.NS.Run(t.Context(), "sysctl", "-qw", "net.ipv4.conf.eth0.arp_announce=2"); err != nil {
		t.Fatal(err)
	}
	lbd := startLbd()
	ka := bn.keepalived(t, bn.b, in(100))
	waitState(t, lbd, vrrp.StateMaster, settle)
	waitState(t, ka, vrrp.StateBackup, settle)
	checkVMAC(t, bn.a, true)
	if out, err := bn.b.NS.Run(t.Context(), "ip", "-d", "link", "show", "dev", "vrrp.51"); err != nil || !strings.Contains(out, "00:00:5e:00:01:33") {
		t.Fatalf("keepalived's vmac: %v\n%s", err, out)
	}
	vmac := vrrp.VirtualMAC(51, false).String()
	ping, err := bn.Ping(bn.c, vip.Addr(), 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer ping.Close()
	reach := func(who string) {
		t.Helper()
		if _, err := ping.WaitReplyAfter(time.Now(), settle); err != nil {
			t.Fatalf("client cannot reach the VIP with %s master: %v", who, err)
		}
		clientSeesMAC(t, bn, vip.Addr(), vmac)
	}
	reach("lbd")

	if err := lbd.Stop(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	waitState(t, ka, vrrp.StateMaster, settle)
	bn.holdsVIPOn(t, bn.b, "vrrp.51")
	reach("keepalived")

	lbd = startLbd()
	waitState(t, lbd, vrrp.StateMaster, settle)
	waitState(t, ka, vrrp.StateBackup, settle)
	checkVMAC(t, bn.a, true)
	reach("lbd back")
}

// holdsVIPOn waits until host h holds the VIP on device dev.
func (bn *bench) holdsVIPOn(t *testing.T, h *vrrplab.Host, dev string) {
	t.Helper()
	err := vrrplab.Eventually(settle, func() error {
		out, err := h.NS.Run(t.Context(), "ip", "-4", "addr", "show", "dev", dev)
		if err != nil || !strings.Contains(out, vip.String()) {
			return fmt.Errorf("%s: %v not on %s: %v\n%s", h.Name, vip, dev, err, out)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestNetnsVMACIPv6: an IPv6 instance's vmac has the IPv6 virtual MAC
// 00:00:5e:00:02:VRID, no link-local address of its own but its parent's
// (the adverts' source), and the client's neighbour entry for the VIP
// moves to the virtual MAC and stays it across a takeover.
func TestNetnsVMACIPv6(t *testing.T) {
	bn := newBench(t)
	vip6 := netip.MustParsePrefix("2001:db8:77::100/128")
	six := func(c *vrrp.Config) {
		c.VIPs = []vrrp.VIP{{Prefix: vip6}}
		c.VMAC = vrrp.VMACConfig{Enabled: true}
	}
	a := bn.ours(t, bn.a, vrrplab.Config{Instances: []vrrp.Config{instance(200, six)}})
	b := bn.ours(t, bn.b, vrrplab.Config{Instances: []vrrp.Config{instance(100, six)}})
	waitState(t, a, vrrp.StateMaster, settle)
	waitState(t, b, vrrp.StateBackup, settle)
	base, err := bn.a.NS.Run(t.Context(), "ip", "-6", "addr", "show", "dev", "eth0", "scope", "link")
	if err != nil {
		t.Fatal(err)
	}
	out, err := bn.a.NS.Run(t.Context(), "ip", "-6", "-d", "addr", "show", "dev", "vrrp.51")
	if err != nil {
		t.Fatal(err)
	}
	ll := strings.Fields(base[strings.Index(base, "inet6 "):])[1]
	for _, want := range []string{"link/ether 00:00:5e:00:02:33", "macvlan mode private", ll, vip6.String()} {
		if !strings.Contains(out, want) {
			t.Errorf("a's vrrp.51 lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "scope link"); n != 1 {
		t.Errorf("a's vrrp.51 has %d link-local addresses, want only eth0's %s:\n%s", n, ll, out)
	}
	s, err := b.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if in := s.Instances[0]; in.AdvertsReceived == 0 || in.Master.String()+"/64" != ll {
		t.Errorf("backup's stats %+v: want adverts from a's %s", in, ll)
	}
	// The client's entry points at a's base MAC; the master's unsolicited
	// neighbour advertisement (override flag) moves it to the virtual MAC.
	if _, err := bn.c.NS.Run(t.Context(), "ip", "-6", "neigh", "replace", vip6.Addr().String(),
		"lladdr", bn.a.MAC.String(), "dev", "eth0", "nud", "stale"); err != nil {
		t.Fatal(err)
	}
	if err := a.Stop(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	waitState(t, b, vrrp.StateMaster, settle)
	clientSeesMAC(t, bn, vip6.Addr(), vrrp.VirtualMAC(51, true).String())
}

// TestNetnsVMACSharedParentAndCrash: two routers (as lbd's VRRP
// components) with vmacs on one interface: the first to stop leaves the
// interface's sysctls for the other's vmac, the last puts back what the
// interface had before either. A router killed with its vmac in place:
// the next start replaces the leftover and its stop still restores the
// interface's own values, not the ones the dead router had set.
func TestNetnsVMACSharedParentAndCrash(t *testing.T) {
	bn := newBench(t)
	// Values of the operator's that differ from both the kernel's defaults
	// and what a vmac needs.
	orig := map[string]string{"arp_ignore": "2", "arp_filter": "0", "arp_announce": "1"}
	for k, v := range orig {
		if _, err := bn.a.NS.Run(t.Context(), "sysctl", "-qw", "net.ipv4.conf.eth0."+k+"="+v); err != nil {
			t.Fatal(err)
		}
	}
	vip2 := netip.MustParsePrefix("10.77.0.101/32")
	second := func(c *vrrp.Config) { c.Name, c.VRID, c.VIPs = "VI_2", 52, []vrrp.VIP{{Prefix: vip2}} }
	start := func(name string, c vrrp.Config) *vrrplab.Proc {
		p, err := bn.StartOurs(bn.a, name, vrrplab.Config{Instances: []vrrp.Config{c}})
		if err != nil {
			t.Fatal(err)
		}
		bn.procs = append(bn.procs, p)
		return p
	}
	p1 := start("ours-a1", instance(200, withVMAC(false)))
	waitState(t, p1, vrrp.StateMaster, settle)
	p2 := start("ours-a2", instance(200, withVMAC(false), second))
	if err := p2.WaitState("VI_2", vrrp.StateMaster, settle); err != nil {
		t.Fatal(err)
	}
	checkVMAC(t, bn.a, true)
	if err := p1.Stop(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	checkNoVMAC(t, bn.a, nil)
	for k, want := range map[string]string{"arp_ignore": "1", "arp_filter": "1", "arp_announce": "2"} {
		if got := sysctl(t, bn.a, "eth0", k); got != want {
			t.Errorf("eth0 %s = %s with vrrp.52 still up, want %s", k, got, want)
		}
	}
	if err := p2.Stop(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	checkNoVMAC(t, bn.a, orig)

	crashed := start("ours-a3", instance(200, withVMAC(false)))
	waitState(t, crashed, vrrp.StateMaster, settle)
	crashed.Kill()
	if out, err := bn.a.NS.Run(t.Context(), "ip", "link", "show", "dev", "vrrp.51"); err != nil {
		t.Fatalf("the killed router's vmac is gone (the test needs a leftover): %v\n%s", err, out)
	}
	again := start("ours-a4", instance(200, withVMAC(false)))
	waitState(t, again, vrrp.StateMaster, settle)
	checkVMAC(t, bn.a, true)
	if err := again.Stop(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	checkNoVMAC(t, bn.a, orig)
}

// TestNetnsVMACPutBack: the master's vmac deleted or set down behind its
// back is made again, up, with the VIP on it, and the master's adverts
// flow again (the backup stays or returns to BACKUP; the client still
// reaches the VIP at the virtual MAC).
func TestNetnsVMACPutBack(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"deleted", []string{"link", "del", "dev", "vrrp.51"}},
		{"set down", []string{"link", "set", "dev", "vrrp.51", "down"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bn := newBench(t)
			a := bn.ours(t, bn.a, vrrplab.Config{Instances: []vrrp.Config{instance(200, withVMAC(false))}})
			b := bn.ours(t, bn.b, vrrplab.Config{Instances: []vrrp.Config{instance(100, withVMAC(false))}})
			waitState(t, a, vrrp.StateMaster, settle)
			waitState(t, b, vrrp.StateBackup, settle)
			if _, err := bn.a.NS.Run(t.Context(), "ip", tc.args...); err != nil {
				t.Fatal(err)
			}
			err := vrrplab.Eventually(settle, func() error {
				out, err := bn.a.NS.Run(t.Context(), "ip", "addr", "show", "dev", "vrrp.51")
				if err != nil || !strings.Contains(out, "state UP") || !strings.Contains(out, vip.String()) {
					return fmt.Errorf("vrrp.51 not back up with the VIP: %v\n%s", err, out)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			checkVMAC(t, bn.a, true)
			since := time.Now()
			waitAdverts(t, b, 10)
			waitState(t, b, vrrp.StateBackup, settle)
			if st := a.State("VI_1"); st != vrrp.StateMaster {
				t.Fatalf("a is %v after its vmac came back (since %v)", st, since)
			}
			ping, err := bn.Ping(bn.c, vip.Addr(), 10*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			defer ping.Close()
			if _, err := ping.WaitReplyAfter(time.Now(), settle); err != nil {
				t.Fatal(err)
			}
			clientSeesMAC(t, bn, vip.Addr(), vrrp.VirtualMAC(51, false).String())
		})
	}
}
