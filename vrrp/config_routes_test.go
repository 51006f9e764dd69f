package vrrp

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestValidateRoutesAndExcluded(t *testing.T) {
	pfx := netip.MustParsePrefix
	addr := netip.MustParseAddr
	tests := []struct {
		name string
		mod  func(c *Config)
		want []string
	}{
		{"valid: both families, routes, rules", func(c *Config) {
			c.ExcludedVIPs = []VIP{vip("10.0.0.2/24"), vip("2001:db8::1/64")}
			c.Routes = []Route{
				{To: pfx("192.168.109.0/24"), Via: addr("10.0.0.254"), Src: addr("10.0.0.1"), Device: "eth0", Table: 100, Metric: 5, Scope: "global"},
				{To: pfx("0.0.0.0/0"), Via: addr("10.0.0.254"), Table: 100},
				{To: pfx("192.168.114.0/24"), Type: "blackhole"},
				{To: pfx("2001:db8:1::/48"), Via: addr("2001:db8::fe")},
			}
			c.Rules = []Rule{
				{From: pfx("192.168.2.0/24"), Table: 1},
				{To: pfx("2001:db8:2::/48"), Table: 2, Priority: 100},
				{FWMark: 24, FWMask: 0xff, Table: 3, Family: "ipv6", IIF: "eth0"},
			}
		}, nil},
		{"bad routes", func(c *Config) {
			c.Routes = []Route{
				{Via: addr("10.0.0.254")},
				{To: pfx("192.168.109.1/24"), Via: addr("2001:db8::1"), Src: addr("2001:db8::2")},
				{To: pfx("192.168.110.0/24"), Scope: "universe", Type: "nat", Table: -1, Metric: -2},
				{To: pfx("192.168.111.0/24"), Type: "blackhole", Via: addr("10.0.0.254")},
			}
		}, []string{
			`instances[VI_1].virtual_routes[0]: missing required field "to"`,
			"instances[VI_1].virtual_routes[1].to: 192.168.109.1/24 has host bits set (the network is 192.168.109.0/24)",
			"instances[VI_1].virtual_routes[1].via: ipv6 address in a route to an ipv4 prefix",
			"instances[VI_1].virtual_routes[1].src: ipv6 address in a route to an ipv4 prefix",
			"instances[VI_1].virtual_routes[2].table: must be between 1 and 4294967295, got -1",
			"instances[VI_1].virtual_routes[2].metric: must be between 0 and 4294967295, got -2",
			`instances[VI_1].virtual_routes[2].scope: unknown scope "universe" (want one of [global site link host nowhere])`,
			`instances[VI_1].virtual_routes[2].type: unknown type "nat" (want one of [unicast blackhole unreachable prohibit])`,
			"instances[VI_1].virtual_routes[3].type: a blackhole route has no via or device",
		}},
		{"bad rules", func(c *Config) {
			c.Rules = []Rule{
				{From: pfx("192.168.2.0/24")},
				{From: pfx("192.168.2.0/24"), To: pfx("2001:db8::/32"), Table: 1, Family: "ipv6"},
				{FWMask: 3, Table: 1, Family: "inet6"},
			}
		}, []string{
			`instances[VI_1].virtual_rules[0]: missing required field "table"`,
			"instances[VI_1].virtual_rules[1].to: ipv6 prefix in a rule from an ipv4 prefix",
			"instances[VI_1].virtual_rules[1].family: ipv6 does not match the rule's prefixes",
			`instances[VI_1].virtual_rules[2].family: unknown family "inet6" (want one of [ipv4 ipv6])`,
			"instances[VI_1].virtual_rules[2].fwmask: needs fwmark",
		}},
		{"excluded duplicates and bad addresses", func(c *Config) {
			c.ExcludedVIPs = []VIP{vip("10.0.0.1/32"), vip("224.0.0.1/32"), vip("10.0.0.9/32"), vip("10.0.0.9/32"),
				{Prefix: pfx("10.0.0.1/32"), Device: "eth1", Scope: "universe"}, {Prefix: pfx("10.0.0.7/32"), Scope: "link"}}
		}, []string{
			"instances[VI_1].virtual_ipaddresses_excluded[0].address: 10.0.0.1 on eth0 is already one of the instance's addresses",
			"instances[VI_1].virtual_ipaddresses_excluded[1].address: 224.0.0.1 cannot be a virtual address",
			"instances[VI_1].virtual_ipaddresses_excluded[3].address: 10.0.0.9 on eth0 is already one of the instance's addresses",
			`instances[VI_1].virtual_ipaddresses_excluded[4].scope: unknown scope "universe" (want one of [global site link host nowhere])`,
		}},
		// keepalived ignores an advertised address of the other family
		// ("address family must match VRRP instance"); lbd refuses it and
		// takes it as excluded.
		{"mixed families advertised", func(c *Config) {
			c.VIPs = append(c.VIPs, vip("2001:db8::1/64"))
		}, []string{
			"instances[VI_1].virtual_ipaddresses[1].address: ipv6 address in an instance whose first address is ipv4",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Config{Name: "VI_1", Interface: "eth0", VRID: 51, VIPs: []VIP{vip("10.0.0.1/32")}}
			tt.mod(&c)
			s := Set{Instances: []Config{c}}
			s.SetDefaults(nil)
			var got []string
			if err := s.Validate(nil); err != nil {
				for _, e := range err.(FieldErrors) {
					got = append(got, e.Error())
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateExcludedAcrossInstances(t *testing.T) {
	a := Config{Name: "VI_1", Interface: "eth0", VRID: 51, VIPs: []VIP{vip("10.0.0.1/32")}}
	b := Config{Name: "VI_2", Interface: "eth0", VRID: 52, VIPs: []VIP{vip("10.0.0.2/32")}, ExcludedVIPs: []VIP{vip("10.0.0.1/32")}}
	s := Set{Instances: []Config{a, b}}
	s.SetDefaults(nil)
	err := s.Validate(nil)
	want := "instances[VI_2].virtual_ipaddresses_excluded[0]: virtual IP address 10.0.0.1 is another instance's (first at instances[VI_1].virtual_ipaddresses[0])"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
}
