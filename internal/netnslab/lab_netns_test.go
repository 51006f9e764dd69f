//go:build netns

package netnslab

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// echoServer accepts connections on l and writes back "<name>:<what it read>".
func echoServer(t *testing.T, l net.Listener, name string) {
	t.Helper()
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 64)
				n, _ := c.Read(buf)
				c.Write([]byte(name + ":" + string(buf[:n])))
			}()
		}
	}()
}

// ask dials addr from ns, sends msg and returns the answer.
func ask(ns *Namespace, addr, msg string, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c, err := ns.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write([]byte(msg)); err != nil {
		return "", err
	}
	b, err := io.ReadAll(c)
	return string(b), err
}

// askEventually retries ask for up to 3 s (a new port needs a moment to
// forward).
func askEventually(t *testing.T, ns *Namespace, addr, msg string) string {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		got, err := ask(ns, addr, msg, 500*time.Millisecond)
		if err == nil {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("asking %s from %s: %v", addr, ns.Name(), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func twoHosts(t *testing.T) (*Lab, *Namespace, *Namespace, []*Link) {
	t.Helper()
	lab := NewT(t, "topo")
	lan, err := lab.AddSwitch("lan")
	if err != nil {
		t.Fatal(err)
	}
	a, err := lab.AddNamespace("a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := lab.AddNamespace("b")
	if err != nil {
		t.Fatal(err)
	}
	macA := net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0a}
	la, err := lab.Connect(a, lan, Port{MAC: macA, Addrs: []netip.Prefix{netip.MustParsePrefix("10.9.0.1/24")}})
	if err != nil {
		t.Fatal(err)
	}
	lb, err := lab.Connect(b, lan, Port{Name: "net1", Addrs: []netip.Prefix{netip.MustParsePrefix("10.9.0.2/24")}})
	if err != nil {
		t.Fatal(err)
	}
	return lab, a, b, []*Link{la, lb}
}

func TestNetnsTwoHostsTalkOverSwitch(t *testing.T) {
	lab, a, b, links := twoHosts(t)
	if !bytes.Equal(links[0].MAC, net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0a}) {
		t.Errorf("link a MAC = %s, want 02:00:00:00:00:0a", links[0].MAC)
	}
	if links[0].Name != "eth0" || links[1].Name != "net1" {
		t.Errorf("link names = %s, %s; want eth0, net1", links[0].Name, links[1].Name)
	}
	l, err := a.Listen("tcp", "10.9.0.1:7000")
	if err != nil {
		t.Fatal(err)
	}
	echoServer(t, l, "a")
	if got := askEventually(t, b, "10.9.0.1:7000", "hello"); got != "a:hello" {
		t.Errorf("answer = %q, want %q", got, "a:hello")
	}
	// Nothing of the lab shows in the root namespace: neither its addresses
	// nor its links.
	rootAddrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, ad := range rootAddrs {
		if strings.HasPrefix(ad.String(), "10.9.0.") {
			t.Errorf("root namespace holds lab address %s", ad)
		}
	}
	for _, name := range []string{"lan", "a-eth0", "b-net1"} {
		if _, err := net.InterfaceByName(name); err == nil {
			t.Errorf("root namespace holds lab link %s", name)
		}
	}

	addrs, err := a.Addresses("eth0")
	if err != nil {
		t.Fatal(err)
	}
	if !containsPrefix(addrs, "10.9.0.1/24") {
		t.Errorf("addresses of a/eth0 = %v, want 10.9.0.1/24 among them", addrs)
	}

	// External commands see the namespace too.
	out, err := a.Run(t.Context(), "ip", "-o", "-4", "addr", "show", "dev", "eth0")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "10.9.0.1/24") {
		t.Errorf("ip addr in namespace a printed %q, want 10.9.0.1/24", out)
	}
	if _, err := os.Stat(filepath.Join(NetnsDir, lab.ID()+"-a")); err != nil {
		t.Errorf("namespace file for a: %v", err)
	}
	// Runs in the switch namespace show the bridge and both ports.
	sw, err := lab.SwitchNamespace()
	if err != nil {
		t.Fatal(err)
	}
	out, err = sw.Run(t.Context(), "ip", "-o", "link", "show", "master", "lan")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"a-eth0", "b-net1"} {
		if !strings.Contains(out, p) {
			t.Errorf("bridge ports %q lack %s", out, p)
		}
	}
}

func containsPrefix(ps []netip.Prefix, want string) bool {
	for _, p := range ps {
		if p.String() == want {
			return true
		}
	}
	return false
}

func TestNetnsCutAndRestore(t *testing.T) {
	_, a, b, links := twoHosts(t)
	l, err := a.Listen("tcp", ":7001")
	if err != nil {
		t.Fatal(err)
	}
	echoServer(t, l, "a")
	askEventually(t, b, "10.9.0.1:7001", "before")

	if err := links[0].Cut(); err != nil {
		t.Fatal(err)
	}
	if _, err := ask(b, "10.9.0.1:7001", "cut", 700*time.Millisecond); err == nil {
		t.Fatal("connection succeeded over a cut link")
	}
	lk, err := a.Handle().LinkByName("eth0")
	if err != nil {
		t.Fatal(err)
	}
	if lk.Attrs().Flags&net.FlagUp == 0 {
		t.Error("cut link's host side went administratively down; want only carrier lost")
	}
	if lk.Attrs().OperState == netlink.OperUp {
		t.Error("cut link's host side still reports carrier (oper state up)")
	}

	if err := links[0].Restore(); err != nil {
		t.Fatal(err)
	}
	if got := askEventually(t, b, "10.9.0.1:7001", "after"); got != "a:after" {
		t.Errorf("after restore: answer %q, want a:after", got)
	}
}

func TestNetnsSysctlIsPerNamespace(t *testing.T) {
	_, a, b, _ := twoHosts(t)
	rootBefore, err := os.ReadFile("/proc/sys/net/ipv4/conf/all/arp_ignore")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Sysctl("net.ipv4.conf.all.arp_ignore", "1"); err != nil {
		t.Fatal(err)
	}
	if err := a.Sysctl("net/ipv4/conf/lo/arp_announce", "2"); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		ns   *Namespace
		key  string
		want string
	}{
		{a, "net.ipv4.conf.all.arp_ignore", "1"},
		{a, "net.ipv4.conf.lo.arp_announce", "2"},
		{b, "net.ipv4.conf.all.arp_ignore", "0"},
		{b, "net.ipv4.conf.lo.arp_announce", "0"},
	} {
		got, err := tt.ns.ReadSysctl(tt.key)
		if err != nil {
			t.Fatal(err)
		}
		if got != tt.want {
			t.Errorf("%s in %s = %q, want %q", tt.key, tt.ns.Name(), got, tt.want)
		}
	}
	rootAfter, err := os.ReadFile("/proc/sys/net/ipv4/conf/all/arp_ignore")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(rootBefore, rootAfter) {
		t.Errorf("root namespace arp_ignore changed from %q to %q", rootBefore, rootAfter)
	}
	if err := a.Sysctl("net.ipv4.no_such_key", "1"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing key: error %v, want os.ErrNotExist", err)
	}
}

func TestNetnsDoRestoresThread(t *testing.T) {
	_, a, b, _ := twoHosts(t)
	before, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer before.Close()

	sentinel := errors.New("sentinel")
	err = a.Do(func() error {
		cur, err := netns.Get()
		if err != nil {
			return err
		}
		defer cur.Close()
		if !cur.Equal(a.fd) {
			t.Error("inside a.Do the thread is not in namespace a")
		}
		// Nested: b inside a, then back to a.
		if err := b.Do(func() error {
			in, err := netns.Get()
			if err != nil {
				return err
			}
			defer in.Close()
			if !in.Equal(b.fd) {
				t.Error("inside nested b.Do the thread is not in namespace b")
			}
			return nil
		}); err != nil {
			return err
		}
		back, err := netns.Get()
		if err != nil {
			return err
		}
		defer back.Close()
		if !back.Equal(a.fd) {
			t.Error("after nested b.Do the thread is not back in namespace a")
		}
		return sentinel
	})
	if !errors.Is(err, sentinel) {
		t.Errorf("Do returned %v, want the function's error", err)
	}
	after, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer after.Close()
	if !after.Equal(before) {
		t.Error("Do left the thread in another namespace")
	}
}

func TestNetnsLabelsAndRoutes(t *testing.T) {
	_, a, _, _ := twoHosts(t)
	vip := netip.MustParsePrefix("192.168.56.90/32")
	if err := a.AddAddress("lo", vip, "lo:0"); err != nil {
		t.Fatal(err)
	}
	if err := a.AddAddress("eth0", netip.MustParsePrefix("fd00:9::1/64"), ""); err != nil {
		t.Fatal(err)
	}
	lo, err := a.Handle().LinkByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	as, err := a.Handle().AddrList(lo, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, ad := range as {
		if ad.IPNet.String() == vip.String() {
			found = true
			if ad.Label != "lo:0" {
				t.Errorf("VIP label = %q, want lo:0", ad.Label)
			}
		}
	}
	if !found {
		t.Fatalf("VIP %s not on lo: %v", vip, as)
	}
	for _, tt := range []struct {
		dev  string
		ip   string
		want bool
	}{{"lo", "192.168.56.90", true}, {"eth0", "fd00:9::1", true}, {"eth0", "192.168.56.90", false}, {"lo", "fd00:9::1", false}} {
		if got, err := a.HasAddress(tt.dev, netip.MustParseAddr(tt.ip)); err != nil || got != tt.want {
			t.Errorf("HasAddress(%s, %s) = %t, %v; want %t", tt.dev, tt.ip, got, err, tt.want)
		}
	}
	if _, err := a.HasAddress("nosuch0", vip.Addr()); err == nil {
		t.Error("HasAddress on a missing device: no error")
	}
	if err := a.AddRoute(netip.MustParsePrefix("0.0.0.0/0"), netip.MustParseAddr("10.9.0.254"), ""); err != nil {
		t.Fatal(err)
	}
	if err := a.AddRoute(netip.MustParsePrefix("172.16.0.0/16"), netip.Addr{}, "eth0"); err != nil {
		t.Fatal(err)
	}
	rs, err := a.Handle().RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	var gotDefault, gotDev bool
	for _, r := range rs {
		if (r.Dst == nil || r.Dst.String() == "0.0.0.0/0") && r.Gw.String() == "10.9.0.254" {
			gotDefault = true
		}
		if r.Dst != nil && r.Dst.String() == "172.16.0.0/16" {
			gotDev = true
		}
	}
	if !gotDefault || !gotDev {
		t.Errorf("routes %v: default via 10.9.0.254 %t, 172.16.0.0/16 dev eth0 %t", rs, gotDefault, gotDev)
	}
	if err := a.DelAddress("lo", vip); err != nil {
		t.Fatal(err)
	}
	after, err := a.Addresses("lo")
	if err != nil {
		t.Fatal(err)
	}
	if containsPrefix(after, vip.String()) {
		t.Errorf("VIP still on lo after DelAddress: %v", after)
	}
	if err := a.AddAddress("lo", vip, "eth0:0"); err == nil {
		t.Error("label of another device accepted")
	}
}

func TestNetnsCloseRemovesEverything(t *testing.T) {
	lab, err := New("topo")
	if err != nil {
		t.Fatal(err)
	}
	lan, err := lab.AddSwitch("lan")
	if err != nil {
		t.Fatal(err)
	}
	h, err := lab.AddHost("h", lan, netip.MustParsePrefix("10.9.1.1/24"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lab.AddNamespace("h"); err == nil {
		t.Error("a second namespace with the same name was accepted")
	}
	if _, err := lab.AddSwitch("lan"); err == nil {
		t.Error("a second switch with the same name was accepted")
	}
	if err := lab.Close(); err != nil {
		t.Fatal(err)
	}
	if err := lab.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	left, err := filepath.Glob(filepath.Join(NetnsDir, lab.ID()+"-*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Errorf("namespace files left after Close: %v", left)
	}
	if _, err := lab.AddNamespace("x"); err == nil {
		t.Error("AddNamespace on a closed lab succeeded")
	}
	if err := h.Sysctl("net.ipv4.ip_forward", "1"); err == nil {
		t.Error("Sysctl on a namespace of a closed lab succeeded")
	}
}

func TestNetnsLabsDoNotCollide(t *testing.T) {
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = func() error {
				lab, err := New("par")
				if err != nil {
					return err
				}
				defer lab.Close()
				lan, err := lab.AddSwitch("lan")
				if err != nil {
					return err
				}
				srv, err := lab.AddHost("srv", lan, netip.MustParsePrefix("10.9.2.1/24"))
				if err != nil {
					return err
				}
				cli, err := lab.AddHost("cli", lan, netip.MustParsePrefix("10.9.2.2/24"))
				if err != nil {
					return err
				}
				l, err := srv.Listen("tcp", ":7002")
				if err != nil {
					return err
				}
				defer l.Close()
				go func() {
					c, err := l.Accept()
					if err == nil {
						c.Write([]byte(lab.ID()))
						c.Close()
					}
				}()
				var got string
				deadline := time.Now().Add(3 * time.Second)
				for {
					got, err = ask(cli, "10.9.2.1:7002", "", 500*time.Millisecond)
					if err == nil || time.Now().After(deadline) {
						break
					}
					time.Sleep(50 * time.Millisecond)
				}
				if err != nil {
					return err
				}
				if got != lab.ID() {
					return errors.New("lab " + lab.ID() + " reached the server of lab " + got)
				}
				return nil
			}()
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("lab %d: %v", i, err)
		}
	}
}
