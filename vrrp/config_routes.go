package vrrp

import (
	"fmt"
	"net/netip"
)

// This file holds what an instance holds besides its advertised addresses,
// moved with them (keepalived's virtual_ipaddress_excluded, virtual_routes
// and virtual_rules): added when the instance becomes MASTER, after the
// virtual addresses, and removed when it leaves MASTER, before them.

// Route is a route the master holds (keepalived virtual_routes). Only the
// common subset of `ip route` is kept; the importer lists the rest.
type Route struct {
	To     netip.Prefix `yaml:"to"`     // destination (0.0.0.0/0 or ::/0 for a default route); required
	Via    netip.Addr   `yaml:"via"`    // gateway; optional
	Src    netip.Addr   `yaml:"src"`    // preferred source address; optional
	Device string       `yaml:"device"` // output interface; optional (the kernel finds it from via)
	Table  int          `yaml:"table"`  // 1-4294967295 except 0; default the main table (254)
	Metric int          `yaml:"metric"` // the route's priority; 0 = the kernel's default
	Scope  string       `yaml:"scope"`  // global, site, link, host or nowhere; default the kernel's
	Type   string       `yaml:"type"`   // unicast (default), blackhole, unreachable or prohibit
}

// Route types and scopes lbd.yaml accepts.
var (
	routeTypes  = []string{"unicast", "blackhole", "unreachable", "prohibit"}
	routeScopes = []string{"global", "site", "link", "host", "nowhere"}
)

// Rule is a policy routing rule the master holds (keepalived
// virtual_rules): packets that match go to Table.
type Rule struct {
	From netip.Prefix `yaml:"from"` // source prefix; optional
	To   netip.Prefix `yaml:"to"`   // destination prefix; optional
	// Family is ipv4 (default) or ipv6, for a rule with neither from nor to
	// (keepalived's "inet6"); otherwise it is theirs.
	Family   string `yaml:"family"`
	Table    int    `yaml:"table"`    // the routing table to look up; required, 1-4294967295
	Priority int    `yaml:"priority"` // the rule's preference, 1-4294967295; 0 = the kernel picks one
	FWMark   int    `yaml:"fwmark"`   // match this firewall mark; 0 = any
	FWMask   int    `yaml:"fwmask"`   // mask of fwmark; 0 = all bits
	IIF      string `yaml:"iif"`      // match packets arriving on this interface
	OIF      string `yaml:"oif"`      // match packets leaving by this interface
}

const maxTable = 1<<32 - 1

// ipv6 reports the route's family.
func (r Route) ipv6() bool { return r.To.Addr().Is6() }

// ipv6 reports the rule's family: that of from or to, else Family.
func (r Rule) ipv6() bool {
	switch {
	case r.From.IsValid():
		return r.From.Addr().Is6()
	case r.To.IsValid():
		return r.To.Addr().Is6()
	}
	return r.Family == "ipv6"
}

func (r Route) String() string {
	s := r.To.String()
	if r.Type != "" && r.Type != "unicast" {
		s = r.Type + " " + s
	}
	if r.Via.IsValid() {
		s += " via " + r.Via.String()
	}
	if r.Device != "" {
		s += " dev " + r.Device
	}
	if r.Table != 0 {
		s += fmt.Sprintf(" table %d", r.Table)
	}
	return s
}

func (r Rule) String() string {
	s := ""
	if r.From.IsValid() {
		s += "from " + r.From.String() + " "
	}
	if r.To.IsValid() {
		s += "to " + r.To.String() + " "
	}
	return s + fmt.Sprintf("table %d", r.Table)
}

// validateExcluded checks virtual_ipaddresses_excluded: either family
// (keepalived's way of holding IPv4 and IPv6 addresses in one instance),
// never one of the instance's advertised addresses on the same device.
func (c *Config) validateExcluded(given Given, f fields) {
	if len(c.ExcludedVIPs) > maxVIPs*4 {
		f.add("virtual_ipaddresses_excluded", "at most %d addresses, got %d", maxVIPs*4, len(c.ExcludedVIPs))
	}
	type key struct {
		a   netip.Addr
		dev string
	}
	seen := map[key]bool{}
	for _, v := range c.VIPs {
		seen[key{v.Prefix.Addr(), v.Device}] = true
	}
	for j, v := range c.ExcludedVIPs {
		p := "virtual_ipaddresses_excluded" + item(j)
		vf := f.at(p)
		if !given.has(p+".address", v.Prefix.IsValid()) {
			vf.missing("address")
			continue
		}
		if !v.Prefix.IsValid() {
			continue
		}
		a := v.Prefix.Addr()
		if !UsableAddress(a) {
			vf.add("address", "%s cannot be a virtual address", a)
		}
		if k := (key{a, v.Device}); seen[k] {
			vf.add("address", "%s on %s is already one of the instance's addresses", a, v.Device)
		} else {
			seen[k] = true
		}
		validateLabel(vf, v, familyOf(a))
		oneOf(vf, "scope", v.Scope, routeScopes)
		if v.Device == "" {
			vf.add("device", "must not be empty")
		}
	}
}

// validateRoutes checks virtual_routes and virtual_rules.
func (c *Config) validateRoutes(given Given, f fields) {
	validateRouteList(given, f, "virtual_routes", c.Routes)
	validateRuleList(given, f, "virtual_rules", c.Rules)
}

// validateRouteList checks the routes under key.
func validateRouteList(given Given, f fields, key string, routes []Route) {
	for j, r := range routes {
		p := key + item(j)
		rf := f.at(p)
		if !given.has(p+".to", r.To.IsValid()) {
			rf.missing("to")
			continue
		}
		if !r.To.IsValid() {
			continue
		}
		validatePrefix(rf, "to", r.To)
		fam := familyOf(r.To.Addr())
		for _, a := range []struct {
			key string
			v   netip.Addr
		}{{"via", r.Via}, {"src", r.Src}} {
			if a.v.IsValid() && familyOf(a.v) != fam {
				rf.add(a.key, "%s address in a route to an %s prefix", familyOf(a.v), fam)
			}
		}
		if r.Table != 0 {
			f.intRange(p+".table", r.Table, 1, maxTable)
		}
		f.intRange(p+".metric", r.Metric, 0, maxTable)
		oneOf(rf, "scope", r.Scope, routeScopes)
		oneOf(rf, "type", r.Type, routeTypes)
		if r.Type != "" && r.Type != "unicast" && (r.Via.IsValid() || r.Device != "") {
			rf.add("type", "a %s route has no via or device", r.Type)
		}
	}
}

// validateRuleList checks the rules under key.
func validateRuleList(given Given, f fields, key string, rules []Rule) {
	for j, r := range rules {
		p := key + item(j)
		rf := f.at(p)
		if r.From.IsValid() {
			validatePrefix(rf, "from", r.From)
		}
		if r.To.IsValid() {
			validatePrefix(rf, "to", r.To)
		}
		if r.From.IsValid() && r.To.IsValid() && familyOf(r.From.Addr()) != familyOf(r.To.Addr()) {
			rf.add("to", "%s prefix in a rule from an %s prefix", familyOf(r.To.Addr()), familyOf(r.From.Addr()))
		}
		oneOf(rf, "family", r.Family, []string{"ipv4", "ipv6"})
		if r.Family != "" && (r.From.IsValid() || r.To.IsValid()) && (r.Family == "ipv6") != r.ipv6() {
			rf.add("family", "%s does not match the rule's prefixes", r.Family)
		}
		if !given.has(p+".table", r.Table != 0) {
			rf.missing("table")
		} else {
			f.intRange(p+".table", r.Table, 1, maxTable)
		}
		f.intRange(p+".priority", r.Priority, 0, maxTable)
		f.intRange(p+".fwmark", r.FWMark, 0, maxTable)
		f.intRange(p+".fwmask", r.FWMask, 0, maxTable)
		if r.FWMask != 0 && r.FWMark == 0 {
			rf.add("fwmask", "needs fwmark")
		}
	}
}

// validatePrefix refuses a prefix with host bits set: the kernel would.
func validatePrefix(f fields, key string, p netip.Prefix) {
	if m := p.Masked(); m != p {
		f.add(key, "%s has host bits set (the network is %s)", p, m)
	}
}

func oneOf(f fields, key, v string, allowed []string) {
	if v == "" {
		return
	}
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	f.add(key, "unknown %s %q (want one of %v)", key, v, allowed)
}

// hasRoutes reports whether the instance holds routes or rules.
func (c *Config) hasRoutes() bool { return len(c.Routes) > 0 || len(c.Rules) > 0 }
