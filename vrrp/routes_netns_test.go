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

// withRoutes gives the instance an excluded IPv6 address (the other
// family), two routes in table 100 and 101 and a rule to table 100.
func withRoutes(c *vrrp.Config) {
	c.ExcludedVIPs = []vrrp.VIP{{Prefix: netip.MustParsePrefix("2001:db8:77::200/64")}}
	c.Routes = []vrrp.Route{
		{To: netip.MustParsePrefix("10.88.0.0/24"), Via: netip.MustParseAddr("10.77.0.254"), Device: "eth0", Table: 100, Metric: 7},
		{To: netip.MustParsePrefix("10.99.0.0/24"), Type: "blackhole", Table: 101},
	}
	c.Rules = []vrrp.Rule{{From: netip.MustParsePrefix("10.77.0.100/32"), Table: 100, Priority: 1000}}
}

// heldIn is what `ip` shows of the instance's routes and rule in a host.
var heldIn = []struct {
	argv []string
	want string
}{
	{[]string{"ip", "-4", "route", "show", "table", "100"}, "10.88.0.0/24 via 10.77.0.254 dev eth0 metric 7"},
	{[]string{"ip", "-4", "route", "show", "table", "101"}, "blackhole 10.99.0.0/24"},
	{[]string{"ip", "-4", "rule", "show"}, "1000:\tfrom 10.77.0.100 lookup 100"},
}

// holdsRoutes waits until owner alone holds the routes, the rule and the
// excluded address.
func (bn *bench) holdsRoutes(t *testing.T, owner *vrrplab.Host) {
	t.Helper()
	excluded := netip.MustParseAddr("2001:db8:77::200")
	err := vrrplab.Eventually(settle, func() error {
		for _, h := range []*vrrplab.Host{bn.a, bn.b} {
			for _, c := range heldIn {
				out, err := h.NS.Run(t.Context(), c.argv[0], c.argv[1:]...)
				if err != nil && strings.Contains(err.Error(), "table does not exist") {
					out, err = "", nil // no route was ever put there
				}
				if err != nil {
					return fmt.Errorf("%s: %v: %w", h.Name, c.argv, err)
				}
				if has := strings.Contains(out, c.want); has != (h == owner) {
					return fmt.Errorf("%s: %q in %v: %v, want %v:\n%s", h.Name, c.want, c.argv, has, h == owner, out)
				}
			}
			has, err := bn.HasAddr(h, excluded)
			if err != nil {
				return err
			}
			if has != (h == owner) {
				return fmt.Errorf("%s holds the excluded %v: %v", h.Name, excluded, has)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestNetnsVirtualRoutes: the master's namespace holds the instance's
// routes (tables 100, 101), its rule and its excluded IPv6 address; on a
// takeover they leave it and appear in the new master's, and back again on
// preemption; a stop removes them.
func TestNetnsVirtualRoutes(t *testing.T) {
	bn := newBench(t)
	a := bn.ours(t, bn.a, vrrplab.Config{Instances: []vrrp.Config{instance(200, withRoutes)}})
	b := bn.ours(t, bn.b, vrrplab.Config{Instances: []vrrp.Config{instance(100, withRoutes)}})
	waitState(t, a, vrrp.StateMaster, 5*time.Second)
	waitState(t, b, vrrp.StateBackup, 5*time.Second)
	bn.holdsVIP(t, vip.Addr(), bn.a)
	bn.holdsRoutes(t, bn.a)

	if err := bn.a.Link.Cut(); err != nil {
		t.Fatal(err)
	}
	waitState(t, a, vrrp.StateFault, settle)
	waitState(t, b, vrrp.StateMaster, settle)
	bn.holdsRoutes(t, bn.b)

	if err := bn.a.Link.Restore(); err != nil {
		t.Fatal(err)
	}
	waitState(t, a, vrrp.StateMaster, settle)
	waitState(t, b, vrrp.StateBackup, settle)
	bn.holdsRoutes(t, bn.a)

	if err := b.Stop(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if err := a.Stop(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	bn.holdsRoutes(t, nil)
}
