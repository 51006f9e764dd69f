package kaconf

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/lvsd/lb/vrrp"
)

// virtual_ipaddress_excluded, virtual_routes and virtual_rules: the common
// subset of `ip address/route/rule` lbd holds with the VIPs. Options that
// change what a route or rule matches or where it sends are not dropped
// alone: the whole line is reported; options that only tune it are
// reported and the line is kept.

// routeWords are the options of a virtual_routes line and how they map.
var (
	// routeDropLine: the route cannot be imported without them.
	routeDropLine = map[string]string{
		"nexthop": "multipath routes are not supported",
		"or":      "alternative gateways (or) are not supported",
		"encap":   "encapsulation is not supported",
		"vrf":     "VRFs are not supported",
		"tos":     "a route's tos (which packets it matches) is not supported",
		"dsfield": "a route's tos (which packets it matches) is not supported",
		"realms":  "realms are not supported",
		"as":      "NAT routes are not supported",
		"pref":    "IPv6 router preference is not supported",
	}
	// routeTuning: dropped with the route kept. The count is their values.
	routeTuning = map[string]int{
		"protocol": 1, "mtu": 1, "advmss": 1, "rtt": 1, "rttvar": 1, "reordering": 1, "window": 1,
		"cwnd": 1, "ssthresh": 1, "rto_min": 1, "initcwnd": 1, "initrwnd": 1, "features": 1,
		"quickack": 1, "congctl": 1, "fastopen_no_cookie": 1, "hoplimit": 1, "expires": 1,
		"ttl-propagate": 1, "track_group": 1, "onlink": 0, "append": 0, "prepend": 0,
	}
	routeTypeWords = []string{"unicast", "blackhole", "unreachable", "prohibit"}
)

// lineWords returns a block line's words: its key and arguments.
func lineWords(c *Node) []string { return append([]string{c.Key}, c.Args...) }

// tableNumber reads a table as keepalived does: a number or main, local,
// default (other names need /etc/iproute2/rt_tables, which lbd does not read).
func tableNumber(s string) (int, error) {
	switch s {
	case "main":
		return 254, nil
	case "local":
		return 255, nil
	case "default":
		return 253, nil
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("table %q: lbd takes table numbers 1-4294967295 and main, local, default", s)
	}
	return int(n), nil
}

// routeLine is one line being read: its words, the current one, and what
// went wrong.
type routeLine struct {
	m     *mapper
	c     *Node
	what  string
	words []string
	i     int
	drop  string // reason the line is not imported
	bad   bool   // an address is invalid: keepalived skips the line
}

// next returns the value after the current word.
func (l *routeLine) next() (string, bool) {
	if l.i+1 >= len(l.words) {
		l.m.errorf(l.c.Pos, "%s: %s needs a value", l.what, l.words[l.i])
		return "", false
	}
	l.i++
	return l.words[l.i], true
}

func (l *routeLine) addr(into *netip.Addr) bool {
	s, ok := l.next()
	if !ok {
		return false
	}
	a, err := parseAddr(s)
	if err != nil {
		l.invalid(s)
		return true
	}
	*into = a
	return true
}

func (l *routeLine) num(into *int, parse func(string) (int, error)) bool {
	s, ok := l.next()
	if !ok {
		return false
	}
	n, err := parse(s)
	if err != nil {
		l.m.errorf(l.c.Pos, "%s: %s: %v", l.what, l.words[l.i-1], err)
		return false
	}
	*into = n
	return true
}

// invalid marks the line as not imported for an address that is not one:
// keepalived reports it and skips the line (its samples have such typos).
func (l *routeLine) invalid(s string) {
	l.bad = true
	if l.drop == "" {
		l.drop = fmt.Sprintf("%q is not an address or prefix (keepalived reports it invalid and skips the line too)", s)
	}
}

// prefix reads a destination or source: ADDR[/LEN], default or all.
func (l *routeLine) prefix(s string, six bool, into *netip.Prefix) bool {
	if s == "default" || s == "all" || s == "any" {
		*into = netip.PrefixFrom(netip.IPv4Unspecified(), 0)
		if six {
			*into = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
		}
		return true
	}
	p, err := parsePrefix(s)
	if err != nil {
		l.invalid(s)
		return true
	}
	if p.Masked() != p {
		l.drop = fmt.Sprintf("%s has host bits set (the network is %s)", p, p.Masked())
	}
	*into = p
	return true
}

// virtualRoutes maps the lines of a virtual_routes block.
func (m *mapper) virtualRoutes(b *instanceBuild, n *Node) {
	if !m.block(n, 0, 0) {
		return
	}
	for _, c := range n.Block {
		if c.HasBlock {
			m.errorf(c.Pos, "%s: %s does not take a block", n.Key, c.Key)
			continue
		}
		if r, ok := m.routeLine(c, n.Key); ok {
			b.in.Routes = append(b.in.Routes, r)
		}
	}
	if n.Key == "virtual_routes" {
		m.notWatched(n)
	}
}

// notWatched notes that lbd, unlike keepalived without no_track, does not
// watch the routes and rules it added.
func (m *mapper) notWatched(n *Node) {
	m.notef(n.Pos, "lbd does not watch %s: one deleted behind its back stays deleted until the instance next becomes MASTER "+
		"(keepalived's no_track; without it keepalived leaves MASTER and comes back)", n.Key)
}

// routeLine reads "[TYPE] [src ADDR] [to] PREFIX [via|gw ADDR] [dev DEV]
// [scope S] [table T] [metric|priority|preference N] ...".
func (m *mapper) routeLine(c *Node, what string) (vrrp.Route, bool) {
	l := &routeLine{m: m, c: c, what: what, words: lineWords(c)}
	six := slices.Contains(l.words, "inet6")
	var r vrrp.Route
	dest := ""
	for ; l.i < len(l.words); l.i++ {
		w := l.words[l.i]
		ok := true
		switch {
		case w == "inet6" || w == "inet" || w == "no_track" || w == "add":
		case w == "src":
			ok = l.addr(&r.Src)
		case w == "via" || w == "gw":
			ok = l.addr(&r.Via)
		case w == "dev" || w == "oif":
			r.Device, ok = l.next()
		case w == "scope":
			var s string
			if s, ok = l.next(); ok {
				r.Scope, ok = routeScope(m, c, s)
			}
		case w == "table":
			ok = l.num(&r.Table, tableNumber)
		case w == "metric" || w == "priority" || w == "preference":
			ok = l.num(&r.Metric, uintIn(0, 1<<32-1))
		case slices.Contains(routeTypeWords, w) && dest == "" && r.Type == "":
			r.Type = w
		case w == "throw" || w == "local" || w == "broadcast" || w == "anycast" || w == "multicast" || w == "nat":
			l.drop = fmt.Sprintf("route type %s is not supported (unicast, blackhole, unreachable, prohibit)", w)
		case routeDropLine[w] != "":
			l.drop = routeDropLine[w]
			l.i = len(l.words) // nexthop and encap take the rest of the line
		case w == "to":
			if dest, ok = l.next(); ok {
				ok = l.prefix(dest, six, &r.To)
			}
		default:
			if k, tuning := routeTuning[w]; tuning {
				m.unmappedWord(c, w, "route option %s is not supported: the route is added without it", w)
				if w == "ssthresh" || w == "cwnd" || w == "window" || w == "mtu" || w == "advmss" || w == "rtt" {
					if l.i+1 < len(l.words) && l.words[l.i+1] == "lock" {
						l.i++
					}
				}
				l.i += k
				continue
			}
			if dest != "" {
				m.unmappedWord(c, w, "unknown %s option", what)
				continue
			}
			dest = w
			ok = l.prefix(w, six, &r.To)
		}
		if !ok {
			return r, false
		}
	}
	if r.Type == "unicast" {
		r.Type = ""
	}
	return r, m.heldLineOK(c, l, dest != "", what+" line without a destination")
}

// heldLineOK reports (and explains) a route or rule line that cannot be
// imported.
func (m *mapper) heldLineOK(c *Node, l *routeLine, complete bool, incomplete string) bool {
	switch {
	case l.drop != "":
		m.unmapped(c, "%s, so this %s line is not imported", l.drop, l.what)
	case !complete:
		m.errorf(c.Pos, "%s", incomplete)
	default:
		return true
	}
	return false
}

func routeScope(m *mapper, c *Node, s string) (string, bool) {
	switch s {
	case "global", "universe":
		return "global", true
	case "site", "link", "host", "nowhere":
		return s, true
	}
	if n, err := strconv.Atoi(s); err == nil {
		switch n {
		case 0:
			return "global", true
		case 200:
			return "site", true
		case 253:
			return "link", true
		case 254:
			return "host", true
		case 255:
			return "nowhere", true
		}
	}
	m.errorf(c.Pos, "%s: unknown scope %q", c.Key, s)
	return "", false
}

// ruleDropLine are rule options that change which packets match or what
// happens to them: the rule is not imported without them.
var ruleDropLine = map[string]string{
	"not":                   "inverted rules (not) are not supported",
	"tos":                   "a rule's tos is not supported",
	"dsfield":               "a rule's tos is not supported",
	"realms":                "realms are not supported",
	"goto":                  "goto rules are not supported (lbd's rules look up a table)",
	"nop":                   "nop rules are not supported (lbd's rules look up a table)",
	"blackhole":             "blackhole rules are not supported (lbd's rules look up a table)",
	"unreachable":           "unreachable rules are not supported (lbd's rules look up a table)",
	"prohibit":              "prohibit rules are not supported (lbd's rules look up a table)",
	"type":                  "rule types other than a table lookup are not supported",
	"uidrange":              "uidrange is not supported",
	"l3mdev":                "l3mdev rules are not supported",
	"ip_proto":              "ipproto matches are not supported",
	"ipproto":               "ipproto matches are not supported",
	"sport":                 "port matches are not supported",
	"dport":                 "port matches are not supported",
	"suppress_prefixlength": "suppress_prefixlength is not supported",
	"suppress_ifgroup":      "suppress_ifgroup is not supported",
	"tunnel-id":             "tunnel-id matches are not supported",
	"tun_id":                "tunnel-id matches are not supported",
	"map-to":                "NAT rules are not supported",
	"nat":                   "NAT rules are not supported",
}

// virtualRules maps the lines of a virtual_rules block.
func (m *mapper) virtualRules(b *instanceBuild, n *Node) {
	if !m.block(n, 0, 0) {
		return
	}
	for _, c := range n.Block {
		if c.HasBlock {
			m.errorf(c.Pos, "%s: %s does not take a block", n.Key, c.Key)
			continue
		}
		if r, ok := m.ruleLine(c, n.Key); ok {
			b.in.Rules = append(b.in.Rules, r)
		}
	}
	if n.Key == "virtual_rules" {
		m.notWatched(n)
	}
}

// ruleLine reads "[from P] [to P] [fwmark M[/MASK]] [iif D] [oif D]
// [priority|preference|pref N] table|lookup T".
func (m *mapper) ruleLine(c *Node, what string) (vrrp.Rule, bool) {
	l := &routeLine{m: m, c: c, what: what, words: lineWords(c)}
	six := slices.Contains(l.words, "inet6")
	var r vrrp.Rule
	for ; l.i < len(l.words); l.i++ {
		w := l.words[l.i]
		ok := true
		var s string
		switch w {
		case "inet", "no_track":
		case "inet6":
			r.Family = "ipv6"
		case "from", "to":
			if s, ok = l.next(); ok {
				into := &r.From
				if w == "to" {
					into = &r.To
				}
				ok = l.prefix(s, six, into)
				if ok && into.Bits() == 0 {
					*into = netip.Prefix{} // all: no match on it
				}
			}
		case "table", "lookup":
			ok = l.num(&r.Table, tableNumber)
		case "priority", "preference", "pref", "order":
			ok = l.num(&r.Priority, uintIn(0, 1<<32-1))
		case "fwmark":
			if s, ok = l.next(); ok {
				ok = ruleMark(m, c, s, &r)
			}
		case "iif", "dev":
			r.IIF, ok = l.next()
		case "oif":
			r.OIF, ok = l.next()
		case "protocol", "track_group":
			if _, ok = l.next(); ok {
				m.unmappedWord(c, w, "rule option %s is not supported: the rule is added without it", w)
			}
		default:
			if reason := ruleDropLine[w]; reason != "" {
				l.drop = reason
				l.i = len(l.words)
				continue
			}
			m.unmappedWord(c, w, "unknown %s option", what)
		}
		if !ok {
			return r, false
		}
	}
	if r.From.IsValid() || r.To.IsValid() {
		r.Family = "" // the prefixes say it
	}
	if r.Priority == 0 && !l.bad && !slices.ContainsFunc(l.words, func(w string) bool { return slices.Contains(rulePrefWords, w) }) {
		fam := 0
		if r.Family == "ipv6" || r.From.Addr().Is6() || r.To.Addr().Is6() {
			fam = 1
		}
		r.Priority = keepalivedRuleStart - m.rulesUnnumbered[fam]
		m.rulesUnnumbered[fam]++
		m.notef(c.Pos, "a rule without a preference gets %d from keepalived (it counts down from %d per family): written out",
			r.Priority, keepalivedRuleStart)
	}
	return r, m.heldLineOK(c, l, r.Table != 0, what+" line without a table (lbd's rules look up a table)")
}

// keepalivedRuleStart is the preference keepalived gives the first rule
// without one (of each family); the next gets one less.
const keepalivedRuleStart = 16384

var rulePrefWords = []string{"priority", "preference", "pref", "order"}

func ruleMark(m *mapper, c *Node, s string, r *vrrp.Rule) bool {
	mark, mask, hasMask := strings.Cut(s, "/")
	parse := func(v string) (int, bool) {
		n, err := strconv.ParseUint(v, 0, 32)
		if err != nil {
			m.errorf(c.Pos, "fwmark %q is not a number", s)
			return 0, false
		}
		return int(n), true
	}
	var ok bool
	if r.FWMark, ok = parse(mark); !ok {
		return false
	}
	if hasMask {
		if r.FWMask, ok = parse(mask); !ok {
			return false
		}
	}
	return true
}

// staticBlock maps static_ipaddress, static_routes and static_rules
// (top level): lbd's vrrp.static_*. A static address needs its dev.
func (m *mapper) staticBlock(n *Node) {
	b := &instanceBuild{}
	switch n.Key {
	case "static_ipaddress":
		m.virtualAddresses(b, n, true)
		for i, v := range b.in.ExcludedVIPs {
			if v.Device == "" {
				m.unmapped(b.exNodes[i], "a static address needs dev (there is no instance interface to put it on), so it is not imported")
				continue
			}
			m.completeLabelsOf("", b.in.ExcludedVIPs[i:i+1], b.exLabels[i:i+1], b.exNodes[i:i+1])
			m.d.VRRP.StaticAddresses = append(m.d.VRRP.StaticAddresses, b.in.ExcludedVIPs[i])
		}
	case "static_routes":
		m.virtualRoutes(b, n)
		m.d.VRRP.StaticRoutes = append(m.d.VRRP.StaticRoutes, b.in.Routes...)
	case "static_rules":
		m.virtualRules(b, n)
		m.d.VRRP.StaticRules = append(m.d.VRRP.StaticRules, b.in.Rules...)
	}
}
