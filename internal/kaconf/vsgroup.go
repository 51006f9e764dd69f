package kaconf

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/lvsd/lb/internal/config"
)

// maxGroupServices bounds the services one virtual_server_group expands to
// (a /16 range would be 65,536 services): beyond it the group is an error.
const maxGroupServices = 4096

// vsGroup is a virtual_server_group: the services a "virtual_server group
// NAME" block applies to. lbd.yaml has no groups; the import writes one
// virtual server per member, each saying which group it came from.
type vsGroup struct {
	node    *Node
	members []vsMember
	used    bool
}

// vsMember is one service of a group.
type vsMember struct {
	pos    Pos
	text   string // the entry as written, for the comment
	addr   netip.Addr
	port   uint16
	fwmark uint32
	family config.Family // fwmark N inet|inet6
}

// virtualServerGroups reads every virtual_server_group before the virtual
// servers (keepalived resolves a group once everything is read).
func (m *mapper) virtualServerGroups(nodes []*Node) {
	m.vsGroups = map[string]*vsGroup{}
	for _, n := range nodes {
		if n.Key != "virtual_server_group" || !m.block(n, 1, 1) {
			continue
		}
		if _, dup := m.vsGroups[n.Args[0]]; dup {
			m.errorf(n.Pos, "virtual_server_group %s: defined twice", n.Args[0])
			continue
		}
		g := &vsGroup{node: n}
		for _, c := range n.Block {
			m.groupEntry(g, c)
			if len(g.members) > maxGroupServices {
				m.errorf(c.Pos, "virtual_server_group %s: more than %d services (lbd.yaml holds one virtual server per group member)", n.Args[0], maxGroupServices)
				break
			}
		}
		if len(g.members) == 0 {
			m.unmapped(n, "virtual_server_group %s has no valid entry: keepalived ignores it", n.Args[0])
		}
		m.vsGroups[n.Args[0]] = g
	}
}

// unusedGroups notes the groups no virtual_server names.
func (m *mapper) unusedGroups(nodes []*Node) {
	for _, n := range nodes {
		if n.Key != "virtual_server_group" || len(n.Args) == 0 {
			continue
		}
		if g := m.vsGroups[n.Args[0]]; g != nil && !g.used && g.node == n && len(g.members) > 0 {
			m.notef(n.Pos, "virtual_server_group %s is used by no virtual_server: keepalived creates no service for it, nor does this file", n.Args[0])
		}
	}
}

// groupEntry reads one entry: "fwmark N [inet|inet6]", or "ADDR [PORT]"
// where ADDR may be a range: A-N (the last byte of an IPv4 address, the
// last 16 bits of an IPv6 one in hex), A-B (whole addresses) or A/LEN.
func (m *mapper) groupEntry(g *vsGroup, c *Node) {
	if c.HasBlock {
		m.errorf(c.Pos, "virtual_server_group %s: an entry takes no block", g.node.Args[0])
		return
	}
	words := c.Words()
	if words[0] == "fwmark" {
		m.groupFWMark(g, c, words)
		return
	}
	var port uint16
	if len(words) > 1 {
		p, err := uintIn(0, 65535)(words[1])
		if err != nil {
			m.errorf(c.Pos, "virtual_server_group %s: port: %v", g.node.Args[0], err)
			return
		}
		port = uint16(p)
	}
	if len(words) > 2 {
		m.unmappedWord(c, words[2], "extra words after the port: keepalived ignores them")
	}
	addrs, err := expandRange(words[0], maxGroupServices+1)
	if err != nil {
		m.errorf(c.Pos, "virtual_server_group %s: %v", g.node.Args[0], err)
		return
	}
	text := strings.Join(words[:min(len(words), 2)], " ")
	for _, a := range addrs {
		g.members = append(g.members, vsMember{pos: c.Pos, text: text, addr: a, port: port})
	}
}

func (m *mapper) groupFWMark(g *vsGroup, c *Node, words []string) {
	if len(words) < 2 {
		m.errorf(c.Pos, "virtual_server_group %s: fwmark: missing mark", g.node.Args[0])
		return
	}
	v, err := uintIn(0, 1<<32-1)(words[1])
	if err == nil && v == 0 {
		m.unmappedWord(c, "fwmark", "fwmark 0 in virtual_server_group %s: a firewall-mark service needs a mark from 1 (IPVS and lbd); no service imported for it", g.node.Args[0])
		return
	}
	if err != nil {
		m.errorf(c.Pos, "virtual_server_group %s: fwmark: %v", g.node.Args[0], err)
		return
	}
	mb := vsMember{pos: c.Pos, text: strings.Join(words, " "), fwmark: uint32(v)}
	if len(words) > 2 {
		switch words[2] {
		case "inet":
			mb.family = config.IPv4
		case "inet6":
			mb.family = config.IPv6
		default:
			m.errorf(c.Pos, "virtual_server_group %s: fwmark %d: family %q is not inet or inet6", g.node.Args[0], v, words[2])
			return
		}
	}
	g.members = append(g.members, mb)
}

// expandRange lists the addresses of a group entry's address (at most
// limit of them).
func expandRange(s string, limit int) ([]netip.Addr, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil || p.Bits() == 0 || p.Addr().Zone() != "" {
			return nil, fmt.Errorf("%q is not an address range", s)
		}
		if p.Masked() != p {
			return nil, fmt.Errorf("%s: address bits set after the prefix length (keepalived skips it)", s)
		}
		return addrSpan(p.Addr(), lastOf(p), limit)
	}
	first, end, isRange := strings.Cut(s, "-")
	a, err := parseAddr(first)
	if err != nil {
		return nil, err
	}
	if !isRange {
		return []netip.Addr{a}, nil
	}
	var b netip.Addr
	if strings.ContainsAny(end, ".:") {
		if b, err = parseAddr(end); err != nil {
			return nil, fmt.Errorf("range end: %w", err)
		}
	} else {
		b, err = rangeEnd(a, end)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s, err)
		}
	}
	if a.Is4() != b.Is4() {
		return nil, fmt.Errorf("%s: the range's address families differ", s)
	}
	if b.Less(a) {
		return nil, fmt.Errorf("%s: the range ends before it starts (keepalived skips it)", s)
	}
	return addrSpan(a, b, limit)
}

// rangeEnd is the end of A-N: A with its last byte (IPv4, decimal) or last
// 16 bits (IPv6, hex) replaced by N.
func rangeEnd(a netip.Addr, n string) (netip.Addr, error) {
	if a.Is4() {
		v, err := strconv.ParseUint(n, 10, 8)
		if err != nil {
			return netip.Addr{}, fmt.Errorf("range end %q is not 0-255", n)
		}
		b := a.As4()
		b[3] = byte(v)
		return netip.AddrFrom4(b), nil
	}
	v, err := strconv.ParseUint(n, 16, 16)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("range end %q is not 0-ffff", n)
	}
	b := a.As16()
	b[14], b[15] = byte(v>>8), byte(v)
	return netip.AddrFrom16(b), nil
}

// lastOf is the last address of p.
func lastOf(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// addrSpan lists a..b, stopping after limit addresses.
func addrSpan(a, b netip.Addr, limit int) ([]netip.Addr, error) {
	var out []netip.Addr
	for x := a; x.IsValid() && !b.Less(x); x = x.Next() {
		if len(out) == limit {
			return out, nil
		}
		out = append(out, x)
	}
	return out, nil
}

// virtualServerGroup maps "virtual_server group NAME { ... }": the block is
// read once per member of the group, each giving one virtual server. Notes
// and issues repeated by every member are kept once.
func (m *mapper) virtualServerGroup(n *Node) {
	if !m.block(n, 2, 2) {
		return
	}
	g := m.vsGroups[n.Args[1]]
	if g == nil {
		m.unmapped(n, "virtual_server_group %s is not defined: no service imported", n.Args[1])
		return
	}
	g.used = true
	seen := map[string]bool{}
	for i, mb := range g.members {
		notes, issues := len(m.notes), len(m.issues)
		b := &serviceBuild{node: n, weight: 1, group: fmt.Sprintf("virtual_server_group %s member %q (%s)", n.Args[1], mb.text, mb.pos)}
		b.vs.Address, b.vs.Port, b.vs.FWMark = mb.addr, mb.port, mb.fwmark
		if mb.family != "" {
			b.vs.Family = mb.family
		}
		m.serviceBody(b, n)
		if len(b.reals) == 0 {
			if i == 0 {
				m.notef(n.Pos, "virtual_server group %s has no real_server: keepalived ignores such a virtual server, and so does this file", n.Args[1])
			}
			return
		}
		m.addService(b)
		m.notes = dedupe(m.notes, notes, seen)
		m.issues = dedupe(m.issues, issues, seen)
	}
}

// dedupe drops the entries of list from index from on that seen holds, and
// adds the others to seen.
func dedupe[T fmt.Stringer](list []T, from int, seen map[string]bool) []T {
	out := list[:from]
	for _, x := range list[from:] {
		if s := x.String(); !seen[s] {
			seen[s] = true
			out = append(out, x)
		}
	}
	return out
}
