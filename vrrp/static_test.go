package vrrp

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func staticSet(addrs []string, routes []string, rules []string) *Set {
	s := &Set{}
	for _, a := range addrs {
		s.StaticAddresses = append(s.StaticAddresses, VIP{Prefix: netip.MustParsePrefix(a), Device: "eth0"})
	}
	for _, r := range routes {
		s.StaticRoutes = append(s.StaticRoutes, Route{To: netip.MustParsePrefix(r), Device: "eth0", Table: 10})
	}
	for _, r := range rules {
		s.StaticRules = append(s.StaticRules, Rule{From: netip.MustParsePrefix(r), Table: 10})
	}
	return s
}

// ApplyStatic: start adds everything (addresses, routes, rules), a reload
// removes only what went (rules, routes, addresses) and re-adds what stays
// (idempotent), stop removes everything in keepalived's order.
func TestApplyStatic(t *testing.T) {
	jr := &journal{}
	addrs := newFakeAddrs()
	addrs.jr = jr
	env := Env{Addresses: addrs, Routes: newFakeRoutes(jr)}
	a := staticSet([]string{"10.1.0.1/24", "10.1.0.2/24"}, []string{"10.9.0.0/16"}, []string{"10.1.0.0/24"})
	b := staticSet([]string{"10.1.0.1/24"}, nil, []string{"10.1.0.0/24"})
	steps := []struct {
		name       string
		prev, next *Set
		want       []string
	}{
		{"start", nil, a, []string{
			"add addr 10.1.0.1/24 dev eth0", "add addr 10.1.0.2/24 dev eth0",
			"add route 10.9.0.0/16 dev eth0 table 10", "add rule from 10.1.0.0/24 table 10",
		}},
		{"reload dropping an address and the route", a, b, []string{
			"del route 10.9.0.0/16 dev eth0 table 10", "del addr 10.1.0.2/24 dev eth0",
			"add addr 10.1.0.1/24 dev eth0", "add rule from 10.1.0.0/24 table 10",
		}},
		{"stop", b, nil, []string{"del rule from 10.1.0.0/24 table 10", "del addr 10.1.0.1/24 dev eth0"}},
	}
	for _, st := range steps {
		if err := ApplyStatic(env, st.prev, st.next); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if diff := cmp.Diff(st.want, jr.take()); diff != "" {
			t.Errorf("%s (-want +got):\n%s", st.name, diff)
		}
	}
	if !a.StaticEqual(staticSet([]string{"10.1.0.1/24", "10.1.0.2/24"}, []string{"10.9.0.0/16"}, []string{"10.1.0.0/24"})) || a.StaticEqual(b) {
		t.Error("StaticEqual")
	}
}

func TestValidateStatic(t *testing.T) {
	s := Set{
		StaticAddresses: []VIP{{Prefix: netip.MustParsePrefix("10.1.0.1/24")}, {Prefix: netip.MustParsePrefix("224.0.0.1/32"), Device: "eth0"},
			{Prefix: netip.MustParsePrefix("10.1.0.3/24"), Device: "eth0"}, {Prefix: netip.MustParsePrefix("10.1.0.3/24"), Device: "eth0"}},
		StaticRoutes: []Route{{To: netip.MustParsePrefix("10.9.0.1/16")}},
		StaticRules:  []Rule{{From: netip.MustParsePrefix("10.1.0.0/24")}},
	}
	var got []string
	if err := s.Validate(nil); err != nil {
		for _, e := range err.(FieldErrors) {
			got = append(got, e.Error())
		}
	}
	want := []string{
		`static_ipaddresses[0]: missing required field "device"`,
		"static_ipaddresses[1].address: 224.0.0.1 cannot be an interface address",
		"static_ipaddresses[3].address: 10.1.0.3/24 on eth0 is listed twice",
		"static_routes[0].to: 10.9.0.1/16 has host bits set (the network is 10.9.0.0/16)",
		`static_rules[0]: missing required field "table"`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
