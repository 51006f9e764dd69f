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
		l.Content = append(l.Content, vn.Node)
	}
	return l
}

// emitHeld writes what the instance holds besides its advertised
// addresses: excluded addresses, routes and rules (flow mappings, one a
// line, as keepalived writes them).
func emitHeld(n ynode, in *vrrp.Config) {
	if len(in.ExcludedVIPs) > 0 {
		n.add("virtual_ipaddresses_excluded", vipList(in.ExcludedVIPs))
	}
	flowList := func() *yaml.Node { return &yaml.Node{Kind: yaml.SequenceNode} }
	flowMap := func() ynode { m := newMap(); m.Style = yaml.FlowStyle; return m }
	addPrefix := func(m ynode, key string, p netip.Prefix) {
		if p.IsValid() {
			m.add(key, str(p.String()))
		}
	}
	addAddr := func(m ynode, key string, a netip.Addr) {
		if a.IsValid() {
			m.add(key, str(a.String()))
		}
	}
	addStr := func(m ynode, key, v string) {
		if v != "" {
			m.add(key, str(v))
		}
	}
	addNum := func(m ynode, key string, v int) {
		if v != 0 {
			m.add(key, num(v))
		}
	}
	if len(in.Routes) > 0 {
		l := flowList()
		for _, r := range in.Routes {
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
		n.add("virtual_routes", l)
	}
	if len(in.Rules) > 0 {
		l := flowList()
		for _, r := range in.Rules {
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
		n.add("virtual_rules", l)
	}
}
