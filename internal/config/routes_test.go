package config

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lvsd/lb/vrrp"
)

// virtual_ipaddresses_excluded, virtual_routes and virtual_rules decode
// into the instance, and their errors land on their lines.
func TestVRRPRoutesAndExcluded(t *testing.T) {
	d, err := ParseDirector("t.yaml", src(`
vrrp:
  instances:
    VI_1:
      interface: eth0
      virtual_router_id: 51
      virtual_ipaddresses: [{address: 192.168.56.90}]
      virtual_ipaddresses_excluded:
        - {address: 192.168.56.91/24}
        - {address: "2001:db8::90/64", device: eth1}
      virtual_routes:
        - {to: 192.168.109.0/24, via: 192.168.56.254, src: 192.168.56.90, device: eth0, table: 100, metric: 5, scope: global}
        - {to: 192.168.114.0/24, type: blackhole}
      virtual_rules:
        - {from: 192.168.56.90, table: 100, priority: 1000}
        - {fwmark: 24, fwmask: 255, table: 101, family: ipv6, iif: eth0, oif: eth1, to: "2001:db8:1::/48"}
`))
	if err != nil {
		t.Fatal(err)
	}
	in := d.VRRP.Instances[0]
	p, a := netip.MustParsePrefix, netip.MustParseAddr
	wantEx := []vrrp.VIP{{Prefix: p("192.168.56.91/24"), Device: "eth0"}, {Prefix: p("2001:db8::90/64"), Device: "eth1"}}
	wantRoutes := []vrrp.Route{
		{To: p("192.168.109.0/24"), Via: a("192.168.56.254"), Src: a("192.168.56.90"), Device: "eth0", Table: 100, Metric: 5, Scope: "global"},
		{To: p("192.168.114.0/24"), Type: "blackhole"},
	}
	wantRules := []vrrp.Rule{
		{From: p("192.168.56.90/32"), Table: 100, Priority: 1000},
		{To: p("2001:db8:1::/48"), FWMark: 24, FWMask: 255, Table: 101, Family: "ipv6", IIF: "eth0", OIF: "eth1"},
	}
	cmpNet := cmp.Options{cmp.Comparer(func(x, y netip.Prefix) bool { return x == y }), cmp.Comparer(func(x, y netip.Addr) bool { return x == y })}
	if diff := cmp.Diff(wantEx, in.ExcludedVIPs, cmpNet); diff != "" {
		t.Errorf("excluded (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantRoutes, in.Routes, cmpNet); diff != "" {
		t.Errorf("routes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantRules, in.Rules, cmpNet); diff != "" {
		t.Errorf("rules (-want +got):\n%s", diff)
	}

	_, err = ParseDirector("t.yaml", src(`
vrrp:
  instances:
    VI_1:
      interface: eth0
      virtual_router_id: 51
      virtual_ipaddresses: [{address: 192.168.56.90}]
      virtual_ipaddresses_excluded:
        - {address: 192.168.56.90}
      virtual_routes:
        - {to: 192.168.109.1/24, via: "2001:db8::1"}
        - {via: 192.168.56.254, gateway: 192.168.56.1}
      virtual_rules:
        - from: 192.168.56.90
`))
	diffLines(t, errLines(t, err), []string{
		`t.yaml:8: vrrp.instances[VI_1].virtual_ipaddresses_excluded[0].address: 192.168.56.90 on eth0 is already one of the instance's addresses`,
		`t.yaml:10: vrrp.instances[VI_1].virtual_routes[0].to: 192.168.109.1/24 has host bits set (the network is 192.168.109.0/24)`,
		`t.yaml:10: vrrp.instances[VI_1].virtual_routes[0].via: ipv6 address in a route to an ipv4 prefix`,
		`t.yaml:11: vrrp.instances[VI_1].virtual_routes[1]: unknown field "gateway"`,
		`t.yaml:11: vrrp.instances[VI_1].virtual_routes[1]: missing required field "to"`,
		`t.yaml:13: vrrp.instances[VI_1].virtual_rules[0]: missing required field "table"`,
	})
}
