//go:build netns

package vrrp_test

import (
	"log/slog"
	"net/netip"
	"os/exec"
	"strings"
	"testing"

	"github.com/lvsd/lb/internal/netnslab"
	"github.com/lvsd/lb/vrrp"
)

// TestNetnsStaticEntries: ApplyStaticLinux, run in a namespace, puts the
// static address, routes (IPv4 and IPv6) and rule in that namespace's
// tables; a second call without the route removes it and keeps the rest;
// a last one without anything (lbd stopping) removes everything.
func TestNetnsStaticEntries(t *testing.T) {
	lab := netnslab.NewT(t, "static")
	sw, err := lab.AddSwitch("sw")
	if err != nil {
		t.Fatal(err)
	}
	ns, err := lab.AddHost("h", sw, netip.MustParsePrefix("10.66.0.1/24"))
	if err != nil {
		t.Fatal(err)
	}
	full := &vrrp.Set{
		StaticAddresses: []vrrp.VIP{{Prefix: netip.MustParsePrefix("10.66.1.1/24"), Device: "eth0", Scope: "link"},
			{Prefix: netip.MustParsePrefix("fd00:66::1/64"), Device: "eth0"}},
		StaticRoutes: []vrrp.Route{{To: netip.MustParsePrefix("10.67.0.0/16"), Via: netip.MustParseAddr("10.66.0.254"), Table: 66},
			{To: netip.MustParsePrefix("fd00:67::/48"), Device: "eth0", Table: 66}},
		// The second rule has no priority: the kernel picks one, so only
		// lbd's own check keeps a second apply from adding it twice.
		StaticRules: []vrrp.Rule{{From: netip.MustParsePrefix("10.66.1.0/24"), Table: 66, Priority: 500},
			{From: netip.MustParsePrefix("10.66.2.0/24"), Table: 67}},
	}
	kept := &vrrp.Set{StaticAddresses: full.StaticAddresses, StaticRules: full.StaticRules}
	apply := func(prev, next *vrrp.Set) {
		t.Helper()
		if err := ns.Do(func() error { return vrrp.ApplyStaticLinux(slog.New(slog.DiscardHandler), prev, next) }); err != nil {
			t.Fatal(err)
		}
	}
	show := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("ip", append([]string{"-n", ns.FullName()}, args...)...).CombinedOutput()
		if err != nil && !strings.Contains(string(out), "table does not exist") {
			t.Fatalf("ip %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	checks := []struct {
		args []string
		want string
	}{
		{[]string{"-4", "addr", "show", "dev", "eth0"}, "inet 10.66.1.1/24 brd 10.66.1.255 scope link"},
		{[]string{"-6", "addr", "show", "dev", "eth0"}, "inet6 fd00:66::1/64"},
		{[]string{"-4", "route", "show", "table", "66"}, "10.67.0.0/16 via 10.66.0.254 dev eth0"},
		{[]string{"-6", "route", "show", "table", "66"}, "fd00:67::/48 dev eth0"},
		{[]string{"-4", "rule", "show"}, "500:\tfrom 10.66.1.0/24 lookup 66"},
	}
	expect := func(stage string, present ...bool) {
		t.Helper()
		for i, c := range checks {
			out := show(c.args...)
			if got := strings.Contains(out, c.want); got != present[i] {
				t.Errorf("%s: %q present %v, want %v:\n%s", stage, c.want, got, present[i], out)
			}
		}
	}
	apply(nil, full)
	expect("start", true, true, true, true, true)
	apply(full, full) // a restart on a matching system: nothing fails, nothing doubles
	expect("again", true, true, true, true, true)
	if out := show("-4", "rule", "show"); strings.Count(out, "from 10.66.2.0/24 lookup 67") != 1 ||
		strings.Count(out, "from 10.66.1.0/24 lookup 66") != 1 {
		t.Errorf("rules after a second apply, want each once:\n%s", out)
	}
	apply(full, kept)
	expect("reload without the routes", true, true, false, false, true)
	apply(kept, nil)
	if out := show("-4", "rule", "show"); strings.Contains(out, "lookup 6") {
		t.Errorf("rules left after stop:\n%s", out)
	}
	expect("stop", false, false, false, false, false)
}
