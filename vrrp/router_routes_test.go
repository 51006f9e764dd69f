package vrrp

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// routesConfig is fastConfig holding an excluded address of the other
// family, a route and a rule besides its VIP.
func routesConfig(prio int) Config {
	c := fastConfig("VI_1", prio)
	c.VIPs[0].Device = "eth0"
	c.ExcludedVIPs = []VIP{{Prefix: netip.MustParsePrefix("2001:db8::90/64"), Device: "eth0"}}
	c.Routes = []Route{{To: netip.MustParsePrefix("192.168.109.0/24"), Via: netip.MustParseAddr("192.168.56.254"), Device: "eth0", Table: 100}}
	c.Rules = []Rule{{From: netip.MustParsePrefix("192.168.56.90/32"), Table: 100}}
	return c
}

var (
	heldAdded = []string{
		"add addr 192.168.56.90/32 dev eth0",
		"add addr 2001:db8::90/64 dev eth0",
		"add route 192.168.109.0/24 via 192.168.56.254 dev eth0 table 100",
		"add rule from 192.168.56.90/32 table 100",
	}
	heldRemoved = []string{
		"del rule from 192.168.56.90/32 table 100",
		"del route 192.168.109.0/24 via 192.168.56.254 dev eth0 table 100",
		"del addr 192.168.56.90/32 dev eth0",
		"del addr 2001:db8::90/64 dev eth0",
	}
	heldAll = []string{"route 192.168.109.0/24 via 192.168.56.254 dev eth0 table 100", "rule from 192.168.56.90/32 table 100"}
)

// takeUntil waits until the host's journal holds n changes and returns them.
func takeUntil(t *testing.T, h *fakeHost, n int) []string {
	t.Helper()
	var got []string
	eventually(t, "the host's address and route changes", func() bool {
		got = append(got, h.jr.take()...)
		return len(got) >= n
	})
	time.Sleep(10 * time.Millisecond) // nothing more should come
	return append(got, h.jr.take()...)
}

// TestRouterRoutesFollowMaster: the master holds its excluded addresses,
// routes and rules (added after the VIPs, in that order) and gives them up
// on BACKUP, FAULT and stop (rules first, addresses last); the advert
// carries the VIP alone.
func TestRouterRoutesFollowMaster(t *testing.T) {
	lan := newFakeLAN()
	listen := lan.listen(netip.MustParseAddr("10.0.0.9"))
	ear, err := listen(TransportConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer ear.Close()

	a := start(t, lan, newFakeHost(lan, "10.0.0.1"), Options{Instances: []Config{routesConfig(100)}})
	waitState(t, a, "VI_1", StateMaster)
	if diff := cmp.Diff(heldAdded, takeUntil(t, a.host, len(heldAdded))); diff != "" {
		t.Fatalf("becoming MASTER (-want +got):\n%s", diff)
	}
	d, err := ear.Recv()
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParsePacket(d.Payload, false)
	if err != nil {
		t.Fatal(err)
	}
	if want := []netip.Addr{netip.MustParseAddr("192.168.56.90")}; !slices.Equal(p.Addresses, want) {
		t.Fatalf("advert carries %v, want %v (excluded addresses are not advertised)", p.Addresses, want)
	}

	// A higher priority peer takes over: a gives everything up, b holds it.
	b := start(t, lan, newFakeHost(lan, "10.0.0.2"), Options{Instances: []Config{routesConfig(200)}})
	waitState(t, b, "VI_1", StateMaster)
	waitState(t, a, "VI_1", StateBackup)
	if diff := cmp.Diff(heldRemoved, takeUntil(t, a.host, len(heldRemoved))); diff != "" {
		t.Fatalf("becoming BACKUP (-want +got):\n%s", diff)
	}
	if got := a.host.routes.held(); len(got) != 0 {
		t.Fatalf("the backup still holds %v", got)
	}
	eventually(t, "the new master's routes", func() bool { return slices.Equal(b.host.routes.held(), heldAll) })
	b.host.jr.take()

	// FAULT on b: it gives them up, a takes them.
	lan.setCut(b.host.addr, true)
	b.host.links.set("eth0", false)
	waitState(t, b, "VI_1", StateFault)
	waitState(t, a, "VI_1", StateMaster)
	if diff := cmp.Diff(heldRemoved, takeUntil(t, b.host, len(heldRemoved))); diff != "" {
		t.Fatalf("FAULT (-want +got):\n%s", diff)
	}
	eventually(t, "a's routes back", func() bool { return slices.Equal(a.host.routes.held(), heldAll) })
	if diff := cmp.Diff(heldAdded, takeUntil(t, a.host, len(heldAdded))); diff != "" {
		t.Fatalf("MASTER again (-want +got):\n%s", diff)
	}

	// Stopping the master removes them.
	a.stop(t)
	if diff := cmp.Diff(heldRemoved, takeUntil(t, a.host, len(heldRemoved))); diff != "" {
		t.Fatalf("stop (-want +got):\n%s", diff)
	}
}

// TestRouterExcludedAddressPutBack: an excluded address removed behind
// the master's back is put back, as a VIP is.
func TestRouterExcludedAddressPutBack(t *testing.T) {
	lan := newFakeLAN()
	a := start(t, lan, newFakeHost(lan, "10.0.0.1"), Options{Instances: []Config{routesConfig(100)}})
	waitState(t, a, "VI_1", StateMaster)
	eventually(t, "the excluded address", func() bool { return a.host.addrs.has("2001:db8::90/64") })
	a.host.addrs.removeBehindBack("2001:db8::90/64")
	eventually(t, "the excluded address put back", func() bool { return a.host.addrs.has("2001:db8::90/64") })
}

// TestRouterAnnouncesExcluded: gratuitous ARPs and NAs cover the excluded
// addresses too (keepalived announces eVIPs).
func TestRouterAnnouncesExcluded(t *testing.T) {
	lan := newFakeLAN()
	a := start(t, lan, newFakeHost(lan, "10.0.0.1"), Options{Instances: []Config{routesConfig(100)}})
	waitState(t, a, "VI_1", StateMaster)
	eventually(t, "an announcement", func() bool { return a.host.ann.count() > 0 })
	a.host.ann.mu.Lock()
	first := a.host.ann.calls[0]
	a.host.ann.mu.Unlock()
	if want := "eth0 192.168.56.90,2001:db8::90 x5"; first != want {
		t.Fatalf("announced %q, want %q", first, want)
	}
}
