package kaconf

import (
	"net/netip"

	"gopkg.in/yaml.v3"

	"github.com/lvsd/lb/vrrp"
)

// vipList writes virtual addresses: a host address without its length.
func vipList(vips []vrrp.VIP) *yaml.Node {
	l := &yaml.Node{Kind: yaml.SequenceNode}
	for _, v := range vips {
		vn := newMap()
		addr := v.Prefix.String()
		if v.Prefix.Bits() == v.Prefix.Addr().BitLen() {
			addr = v.Prefix.Addr().String()
		}
		vn.add("address", str(addr))
		vn.add("device", str(v.Device))
		if v.Label != "" {
			vn.add("label", quoted(v.Label))
		}
		if v.Scope != "" && v.Scope != "global" {
			vn.add("scope", str(v.Scope))
		}
		l.Content = append(l.Content, vn.Node)
	}
	return l
}

// emitHeld writes what the instance holds besides its advertised
// addresses: excluded addresses, routes and rules.
func emitHeld(n ynode, in *vrrp.Config) {
	emitHeldLists(n, "virtual_ipaddresses_excluded", in.ExcludedVIPs, "virtual_routes", in.Routes, "virtual_rules", in.Rules)
}

// emitStatic writes vrrp.static_*.
func emitStatic(n ynode, s *vrrp.Set) {
	emitHeldLists(n, "static_ipaddresses", s.StaticAddresses, "static_routes", s.StaticRoutes, "static_rules", s.StaticRules)
}

// emitHeldLists writes addresses, then routes and rules as flow mappings,
// one a line, as keepalived writes them.
func emitHeldLists(n ynode, addrKey string, addrs []vrrp.VIP, routeKey string, routes []vrrp.Route, ruleKey string, rules []vrrp.Rule) {
	if len(addrs) > 0 {
		n.add(addrKey, vipList(addrs))
	}
	flowMap := func() ynode { m := newMap(); m.Style = yaml.FlowStyle; return m }
	if len(routes) > 0 {
		l := &yaml.Node{Kind: yaml.SequenceNode}
		for _, r := range routes {
			m := flowMap()
			addPrefix(m, "to", r.To)
			addAddr(m, "via", r.Via)
			addAddr(m, "src", r.Src)
			addStr(m, "device", r.Device)
			addNum(m, "table", r.Table)
			addNum(m, "metric", r.Metric)
			addStr(m, "scope", r.Scope)
			addStr(m, "type", r.Type)
			l.Content = append(l.Content, m.Node)
		}
		n.add(routeKey, l)
	}
	if len(rules) > 0 {
		l := &yaml.Node{Kind: yaml.SequenceNode}
		for _, r := range rules {
			m := flowMap()
			addPrefix(m, "from", r.From)
			addPrefix(m, "to", r.To)
			addStr(m, "family", r.Family)
			addNum(m, "table", r.Table)
			addNum(m, "priority", r.Priority)
			addNum(m, "fwmark", r.FWMark)
			addNum(m, "fwmask", r.FWMask)
			addStr(m, "iif", r.IIF)
			addStr(m, "oif", r.OIF)
			l.Content = append(l.Content, m.Node)
		}
		n.add(ruleKey, l)
	}
}

func addPrefix(m ynode, key string, p netip.Prefix) {
	if p.IsValid() {
		m.add(key, str(p.String()))
	}
}

func addAddr(m ynode, key string, a netip.Addr) {
	if a.IsValid() {
		m.add(key, str(a.String()))
	}
}

func addStr(m ynode, key, v string) {
	if v != "" {
		m.add(key, str(v))
	}
}

func addNum(m ynode, key string, v int) {
	if v != 0 {
		m.add(key, num(v))
	}
}
