package kaconf

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lvsd/lb/vrrp"
)

// routeCases import virtual_ipaddress_excluded, virtual_routes and
// virtual_rules; keepalived -t checks each (TestKeepalivedOracle).
var routeCases = []struct {
	name     string
	conf     string
	excluded []vrrp.VIP
	routes   []vrrp.Route
	rules    []vrrp.Rule
	unmapped []string // LINE:KEYWORD
}{
	{
		name: "excluded addresses of both families",
		conf: instance("virtual_ipaddress_excluded {\n 10.0.0.5/24 dev eth1\n 2001:db8::5/64\n 10.0.0.6 label eth0:6\n}"),
		excluded: []vrrp.VIP{
			{Prefix: netip.MustParsePrefix("10.0.0.5/24"), Device: "eth1"},
			{Prefix: netip.MustParsePrefix("2001:db8::5/64"), Device: "eth0"},
			{Prefix: netip.MustParsePrefix("10.0.0.6/32"), Device: "eth0", Label: "eth0:6"},
		},
	},
	{
		// keepalived.conf(5)'s virtual_routes example, less "or".
		name: "the manual's routes",
		conf: instance("virtual_routes {\n src 10.0.0.100 to 192.168.109.0/24 via 10.0.0.254 dev eth1\n" +
			" 192.168.110.0/24 via 10.0.0.254 dev eth1\n 192.168.111.0/24 dev eth2 no_track\n" +
			" 192.168.112.0/24 via 10.0.0.253\n blackhole 192.168.114.0/24\n" +
			" 0.0.0.0/0 gw 10.0.0.1 table 100\n 2001:db8:1::/48 via 2001:db8::1 metric 7 scope global\n" +
			" default gw 10.0.0.1 table main\n}"),
		routes: []vrrp.Route{
			{To: netip.MustParsePrefix("192.168.109.0/24"), Src: netip.MustParseAddr("10.0.0.100"), Via: netip.MustParseAddr("10.0.0.254"), Device: "eth1"},
			{To: netip.MustParsePrefix("192.168.110.0/24"), Via: netip.MustParseAddr("10.0.0.254"), Device: "eth1"},
			{To: netip.MustParsePrefix("192.168.111.0/24"), Device: "eth2"},
			{To: netip.MustParsePrefix("192.168.112.0/24"), Via: netip.MustParseAddr("10.0.0.253")},
			{To: netip.MustParsePrefix("192.168.114.0/24"), Type: "blackhole"},
			{To: netip.MustParsePrefix("0.0.0.0/0"), Via: netip.MustParseAddr("10.0.0.1"), Table: 100},
			{To: netip.MustParsePrefix("2001:db8:1::/48"), Via: netip.MustParseAddr("2001:db8::1"), Metric: 7, Scope: "global"},
			{To: netip.MustParsePrefix("0.0.0.0/0"), Via: netip.MustParseAddr("10.0.0.1"), Table: 254},
		},
	},
	{
		name: "the manual's rules",
		conf: instance("virtual_rules {\n from 192.168.2.0/24 table 1\n to 192.168.2.0/24 table 1 no_track\n" +
			" from 192.168.28.0/24 to 192.168.29.0/26 table 6 iif eth0 oif eth1 fwmark 24/12 preference 39\n" +
			" fwmark 0x10 lookup 7 inet6\n from all lookup 8 priority 1000\n}"),
		rules: []vrrp.Rule{
			{From: netip.MustParsePrefix("192.168.2.0/24"), Table: 1, Priority: 16384},
			{To: netip.MustParsePrefix("192.168.2.0/24"), Table: 1, Priority: 16383},
			{From: netip.MustParsePrefix("192.168.28.0/24"), To: netip.MustParsePrefix("192.168.29.0/26"), Table: 6,
				IIF: "eth0", OIF: "eth1", FWMark: 24, FWMask: 12, Priority: 39},
			{FWMark: 16, Table: 7, Family: "ipv6", Priority: 16384},
			{Table: 8, Priority: 1000},
		},
	},
}

func TestImportRoutesRulesExcluded(t *testing.T) {
	cmpNet := cmp.Options{cmp.Comparer(func(x, y netip.Prefix) bool { return x == y }), cmp.Comparer(func(x, y netip.Addr) bool { return x == y })}
	for _, tt := range routeCases {
		t.Run(tt.name, func(t *testing.T) {
			res := convert(t, tt.conf) // Convert checks the YAML with config.ParseDirector
			in := res.Director.VRRP.Instances[0]
			if diff := cmp.Diff(tt.excluded, in.ExcludedVIPs, cmpNet); diff != "" {
				t.Errorf("excluded (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.routes, in.Routes, cmpNet); diff != "" {
				t.Errorf("routes (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.rules, in.Rules, cmpNet); diff != "" {
				t.Errorf("rules (-want +got):\n%s", diff)
			}
			if got := issueKeys(res); !slices.Equal(got, tt.unmapped) {
				t.Errorf("unmapped %q, want %q: %v", got, tt.unmapped, res.Unmapped)
			}
			if (len(tt.routes) > 0 || len(tt.rules) > 0) && !hasNote(res, "lbd does not watch") {
				t.Errorf("no note on route watching: %v", res.Notes)
			}
		})
	}
}

// staticConf is keepalived.conf(5)'s static blocks, trimmed to what lbd
// holds, with one address lbd cannot place (no dev) and one route option
// it lacks. The rules without preference share keepalived's numbering
// with the instance's; an invalid one (keepalived.conf.vrrp.rules has
// such a typo) is skipped without taking a number.
const staticConf = `static_ipaddress {
 192.168.1.1/24 dev eth0 scope link
 192.168.1.2/24
}
static_routes {
 192.168.2.0/24 via 192.168.1.100 dev eth0
 192.168.100.0/24 table 6909 nexthop via 192.168.101.1 dev eth0 weight 1
 192.168.200.0/24 dev eth0 table 6909 scope link metric 12 mtu 1000
}
static_rules {
 from 192.168.2.0/24 table 1
 to 192.168.2./24 table 1
 to 192.168.2.0/24 table 1 preference 40
}
`

func TestImportStatic(t *testing.T) {
	res := convert(t, staticConf+instance("virtual_rules {\n from 10.0.0.0/24 table 2\n}"))
	v := res.Director.VRRP
	cmpNet := cmp.Options{cmp.Comparer(func(x, y netip.Prefix) bool { return x == y }), cmp.Comparer(func(x, y netip.Addr) bool { return x == y })}
	wantAddrs := []vrrp.VIP{{Prefix: netip.MustParsePrefix("192.168.1.1/24"), Device: "eth0", Scope: "link"}}
	wantRoutes := []vrrp.Route{
		{To: netip.MustParsePrefix("192.168.2.0/24"), Via: netip.MustParseAddr("192.168.1.100"), Device: "eth0"},
		{To: netip.MustParsePrefix("192.168.200.0/24"), Device: "eth0", Table: 6909, Scope: "link", Metric: 12},
	}
	wantRules := []vrrp.Rule{
		{From: netip.MustParsePrefix("192.168.2.0/24"), Table: 1, Priority: 16384},
		{To: netip.MustParsePrefix("192.168.2.0/24"), Table: 1, Priority: 40},
	}
	if diff := cmp.Diff(wantAddrs, v.StaticAddresses, cmpNet); diff != "" {
		t.Errorf("static addresses (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantRoutes, v.StaticRoutes, cmpNet); diff != "" {
		t.Errorf("static routes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantRules, v.StaticRules, cmpNet); diff != "" {
		t.Errorf("static rules (-want +got):\n%s", diff)
	}
	if got := v.Instances[0].Rules; len(got) != 1 || got[0].Priority != 16383 {
		t.Errorf("the instance's rule %+v: want keepalived's next preference, 16383", got)
	}
	if got, want := issueKeys(res), []string{"3:192.168.1.2/24", "7:192.168.100.0/24", "8:mtu", "12:to"}; !slices.Equal(got, want) {
		t.Errorf("unmapped %q, want %q: %v", got, want, res.Unmapped)
	}
}
