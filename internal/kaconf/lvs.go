package kaconf

import (
	"math/bits"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/lvsd/lb/director/table"

	"github.com/lvsd/lb/internal/config"
)

// kaPersistenceTimeout is keepalived's persistence_timeout without a value
// (IPVS_SVC_PERSISTENT_TIMEOUT). Its default scheduler (IPVS_DEF_SCHED) is
// the kernel's, table.DefaultScheduler.
const kaPersistenceTimeout = 360 * time.Second

var serviceMapped = []string{
	"ip_family", "delay_loop", "connect_timeout", "retry", "delay_before_retry", "warmup", "alpha",
	"inhibit_on_failure", "lb_algo", "lvs_sched", "ops", "flag-1", "flag-2", "flag-3", "sh-port",
	"sh-fallback", "mh-port", "mh-fallback", "lb_kind", "lvs_method", "persistence_timeout",
	"persistence_granularity", "protocol", "virtualhost", "quorum", "hysteresis", "quorum_up",
	"quorum_down", "weight", "sorry_server", "sorry_server_inhibit", "sorry_server_lvs_method",
	"real_server", "omega",
}

var realMapped = []string{
	"weight", "lvs_method", "uthreshold", "lthreshold", "inhibit_on_failure", "notify_up", "notify_down",
	"alpha", "retry", "delay_before_retry", "warmup", "connect_timeout", "delay_loop", "virtualhost",
	"HTTP_GET", "SSL_GET", "TCP_CHECK", "MISC_CHECK", "DNS_CHECK",
}

// serviceBuild is a virtual_server being read.
type serviceBuild struct {
	vs          config.VirtualServer
	node        *Node
	family      *Node // ip_family
	protoNode   *Node
	fwdSet      bool
	tunnel      *config.Tunnel // lb_kind TUN options, the default for TUN real servers
	weight      int            // default weight of the real servers
	virtualhost string
	flagNodes   []*Node
	opsNode     *Node
	quorumNode  *Node
	sorry       *sorryBuild
	reals       []*realBuild
	group       string // the virtual_server_group member it was expanded for
}

type sorryBuild struct {
	node   *Node
	addr   netip.Addr
	port   int // -1: not given
	fwd    config.Forwarding
	tunnel *config.Tunnel
	inhib  bool
}

// realBuild is a real_server being read.
type realBuild struct {
	rs          config.RealServer
	node        *Node
	port        int // -1: not given
	weightSet   bool
	fwdSet      bool
	tunnel      *config.Tunnel
	inhibitSet  bool
	lthreshold  *Node
	virtualhost string
	checks      []*checkBuild
}

// virtualServer maps "virtual_server ADDR PORT { ... }" and
// "virtual_server fwmark N { ... }".
func (m *mapper) virtualServer(n *Node) {
	if len(n.Args) > 0 && n.Args[0] == "group" {
		m.virtualServerGroup(n)
		return
	}
	b, ok := m.serviceHead(n)
	if !ok {
		return
	}
	m.serviceBody(b, n)
	if len(b.reals) == 0 {
		// keepalived ignores it ("has no real servers - ignoring"), and
		// so does lbd: nothing is lost, so it is a note, not unmapped.
		m.notef(n.Pos, "virtual_server %s has no real_server: keepalived ignores such a virtual server, and so does this file (a table built by hand with ipvsadm is left alone)", strings.Join(n.Args, " "))
		return
	}
	m.addService(b)
}

// serviceBody reads the block of a virtual_server into b.
func (m *mapper) serviceBody(b *serviceBuild, n *Node) {
	for _, c := range n.Block {
		switch {
		case m.timing(&b.vs.Timing, c):
		case m.serviceScheduling(b, c):
		case m.serviceQuorum(b, c):
		case m.serviceSorry(b, c):
		case c.Key == "real_server":
			m.realServer(b, c)
		default:
			m.other(c, "virtual_server", serviceUnsupported, serviceMapped)
		}
	}
}

// serviceHead reads the arguments of virtual_server: an address and a
// port, or "fwmark N" (virtualServerGroup reads groups).
func (m *mapper) serviceHead(n *Node) (*serviceBuild, bool) {
	if !m.block(n, 1, -1) {
		return nil, false
	}
	b := &serviceBuild{node: n, weight: 1}
	vs := &b.vs
	switch n.Args[0] {
	case "fwmark":
		if len(n.Args) < 2 {
			m.errorf(n.Pos, "virtual_server fwmark: missing mark")
			return nil, false
		}
		v, ok := value(m, n, 1, uintIn(1, 1<<32-1))
		if !ok {
			return nil, false
		}
		vs.FWMark = uint32(v)
	default:
		a, ok := value(m, n, 0, parseAddr)
		if !ok {
			return nil, false
		}
		vs.Address = a
		if len(n.Args) > 1 {
			p, ok := value(m, n, 1, uintIn(0, 65535))
			if !ok {
				return nil, false
			}
			vs.Port = uint16(p)
		}
	}
	if len(n.Args) > 2 {
		m.unmappedWord(n, n.Key, "extra arguments %q ignored", strings.Join(n.Args[2:], " "))
	}
	return b, true
}

// serviceScheduling maps how the service schedules and forwards:
// ip_family, the scheduler and its flags, ops, the forwarding method,
// persistence and the protocol. It reports whether c was one of those.
func (m *mapper) serviceScheduling(b *serviceBuild, c *Node) bool {
	vs := &b.vs
	switch c.Key {
	case "ip_family":
		if m.leaf(c, 1, 1) {
			switch c.Args[0] {
			case "inet":
				vs.Family, b.family = config.IPv4, c
			case "inet6":
				vs.Family, b.family = config.IPv6, c
			default:
				m.errorf(c.Pos, "ip_family: %q is not inet or inet6", c.Args[0])
			}
		}
	case "lb_algo", "lvs_sched":
		if m.leaf(c, 1, 1) {
			if !slices.Contains(table.Schedulers(), c.Args[0]) {
				m.errorf(c.Pos, "%s: unknown scheduler %q (want one of %s)", c.Key, c.Args[0], strings.Join(table.Schedulers(), " "))
				return true
			}
			vs.Scheduler = config.Scheduler(c.Args[0])
		}
	case "ops":
		if m.leaf(c, 0, 0) {
			b.opsNode = c
		}
	case "flag-1", "flag-2", "flag-3", "sh-port", "sh-fallback", "mh-port", "mh-fallback":
		if m.leaf(c, 0, 0) {
			b.flagNodes = append(b.flagNodes, c)
		}
	case "lb_kind", "lvs_method":
		if fwd, tun, ok := m.forwarding(c); ok {
			vs.Forwarding, b.tunnel, b.fwdSet = fwd, tun, true
		}
	case "persistence_timeout", "persistence_granularity":
		m.persistence(vs, c)
	case "protocol":
		if m.leaf(c, 1, 1) {
			switch p := strings.ToUpper(c.Args[0]); p {
			case "TCP", "UDP", "SCTP":
				vs.Protocol, b.protoNode = config.Protocol(p), c
			default:
				m.errorf(c.Pos, "protocol: %q is not TCP, UDP or SCTP", c.Args[0])
			}
		}
	default:
		return false
	}
	return true
}

// persistence maps persistence_timeout [N] and persistence_granularity
// MASK.
func (m *mapper) persistence(vs *config.VirtualServer, c *Node) {
	if c.Key == "persistence_timeout" {
		if !m.leaf(c, 0, 1) {
			return
		}
		if len(c.Args) == 0 {
			vs.PersistenceTimeout = kaPersistenceTimeout
			return
		}
		if v, ok := value(m, c, 0, wholeSecondsIn(1, lvsMaxTimeout)); ok {
			vs.PersistenceTimeout = v
		}
		return
	}
	if !m.leaf(c, 1, 1) {
		return
	}
	if v, ok := m.granularity(c); ok {
		vs.PersistenceNetmask = v
		if vs.PersistenceTimeout == 0 {
			vs.PersistenceTimeout = kaPersistenceTimeout
			m.notef(c.Pos, "persistence_granularity without persistence_timeout: keepalived makes the service persistent for %s", formatDuration(kaPersistenceTimeout))
		}
	}
}

// serviceQuorum maps quorum, hysteresis, quorum_up/down, and the defaults
// the service gives its real servers (weight, inhibit_on_failure,
// virtualhost). It reports whether c was one of those.
func (m *mapper) serviceQuorum(b *serviceBuild, c *Node) bool {
	vs := &b.vs
	switch c.Key {
	case "inhibit_on_failure":
		if v, ok := m.flag(c); ok {
			vs.InhibitOnFailure = v
		}
	case "virtualhost":
		if m.leaf(c, 1, 1) {
			b.virtualhost = c.Args[0]
		}
	case "quorum":
		if m.leaf(c, 1, 1) {
			if v, ok := value(m, c, 0, uintIn(1, 1<<31-1)); ok {
				vs.Quorum, b.quorumNode = v, c
			}
		}
	case "hysteresis":
		if m.leaf(c, 1, 1) {
			if v, ok := value(m, c, 0, uintIn(0, 1<<31-1)); ok {
				vs.Hysteresis = v
			}
		}
	case "omega":
		if m.leaf(c, 0, 0) {
			vs.Omega = true
		}
	case "quorum_up", "quorum_down":
		if argv, ok := m.command(c); ok {
			if c.Key == "quorum_up" {
				vs.QuorumUp = argv
			} else {
				vs.QuorumDown = argv
			}
		}
	case "weight":
		if m.leaf(c, 1, 1) {
			if v, ok := value(m, c, 0, uintIn(1, 65535)); ok {
				b.weight = v
			}
		}
	default:
		return false
	}
	return true
}

// serviceSorry maps sorry_server, sorry_server_inhibit and
// sorry_server_lvs_method, reporting whether c was one of those.
func (m *mapper) serviceSorry(b *serviceBuild, c *Node) bool {
	switch c.Key {
	case "sorry_server":
		m.sorryServer(b, c)
	case "sorry_server_inhibit":
		if m.leaf(c, 0, 0) {
			if b.sorry == nil {
				m.unmapped(c, "sorry_server_inhibit before or without sorry_server: keepalived ignores it")
				return true
			}
			b.sorry.inhib = true
		}
	case "sorry_server_lvs_method":
		if b.sorry == nil {
			m.unmapped(c, "sorry_server_lvs_method before or without sorry_server: keepalived ignores it")
			return true
		}
		if fwd, tun, ok := m.forwarding(c); ok {
			b.sorry.fwd, b.sorry.tunnel = fwd, tun
		}
	default:
		return false
	}
	return true
}

// addService completes a virtual server read and adds it, unless it cannot
// be imported or repeats an earlier one (then its notes and issues are
// replaced by one issue saying so).
func (m *mapper) addService(b *serviceBuild) {
	vs, n := &b.vs, b.node
	notes, issues := len(m.notes), len(m.issues)
	if !m.completeService(b) {
		return
	}
	key := vs.Key()
	if i, dup := m.sources.keys[key]; dup { // a map: 20,000 services took 150 s with a loop
		m.notes, m.issues = m.notes[:notes], m.issues[:issues]
		m.unmapped(n, "a second virtual_server for %s (the first is at line %d): not imported; lbd has one entry per service, so merge the real servers into the first",
			key, m.sources.services[i].Line)
		return
	}
	m.sources.keys[key] = len(m.sources.services)
	m.sources.services = append(m.sources.services, n.Pos)
	m.sources.serviceGroup = append(m.sources.serviceGroup, b.group)
	rp := make([]Pos, len(b.reals))
	for i, r := range b.reals {
		rp[i] = r.node.Pos
	}
	m.sources.reals = append(m.sources.reals, rp)
	m.d.VirtualServers = append(m.d.VirtualServers, *vs)
}

// timing maps the health-check timing keywords a virtual server, a real
// server and a checker share, reporting whether c was one.
func (m *mapper) timing(t *config.Timing, c *Node) bool {
	switch c.Key {
	case "delay_loop", "connect_timeout":
		if m.leaf(c, 1, 1) {
			if v, ok := value(m, c, 0, secondsIn(time.Microsecond, 1<<31*time.Second)); ok {
				if c.Key == "delay_loop" {
					t.DelayLoop = &v
				} else {
					t.ConnectTimeout = &v
				}
			}
		}
	case "delay_before_retry", "warmup":
		if m.leaf(c, 1, 1) {
			if v, ok := value(m, c, 0, secondsIn(0, 1<<31*time.Second)); ok {
				if c.Key == "warmup" {
					t.Warmup = &v
				} else {
					t.DelayBeforeRetry = &v
				}
			}
		}
	case "retry", "nb_get_retry":
		if m.leaf(c, 1, 1) {
			if v, ok := value(m, c, 0, uintIn(0, 1<<31-1)); ok {
				t.Retry = &v
			}
		}
	case "alpha":
		if v, ok := m.flag(c); ok {
			t.Alpha = &v
		}
	default:
		return false
	}
	return true
}

// forwarding reads "lb_kind NAT|DR|TUN [type ipip|gue|gre] [port N]
// [nocsum|csum|remcsum]" (and lvs_method, sorry_server_lvs_method).
func (m *mapper) forwarding(c *Node) (config.Forwarding, *config.Tunnel, bool) {
	if !m.leaf(c, 1, -1) {
		return "", nil, false
	}
	var fwd config.Forwarding
	switch c.Args[0] {
	case "NAT":
		fwd = config.NAT
	case "DR":
		fwd = config.DR
	case "TUN":
		fwd = config.TUN
	default:
		m.errorf(c.Pos, "%s: unknown forwarding method %q (want NAT, DR or TUN)", c.Key, c.Args[0])
		return "", nil, false
	}
	if len(c.Args) == 1 {
		return fwd, nil, true
	}
	t := &config.Tunnel{Type: config.TunnelIPIP, Checksum: config.ChecksumNone}
	for i := 1; i < len(c.Args); i++ {
		switch w := c.Args[i]; w {
		case "type", "port":
			if i+1 >= len(c.Args) {
				m.errorf(c.Pos, "%s: %s needs a value", c.Key, w)
				return "", nil, false
			}
			i++
			if w == "port" {
				p, ok := value(m, c, i, uintIn(1, 65535))
				if !ok {
					return "", nil, false
				}
				t.Port = uint16(p)
				continue
			}
			switch tt := c.Args[i]; tt {
			case "ipip", "gue", "gre":
				t.Type = config.TunnelType(tt)
			default:
				m.errorf(c.Pos, "%s: unknown tunnel type %q", c.Key, tt)
				return "", nil, false
			}
		case "nocsum":
			t.Checksum = config.ChecksumNone
		case "csum":
			t.Checksum = config.ChecksumCsum
		case "remcsum":
			t.Checksum = config.ChecksumRemCsum
		default:
			m.errorf(c.Pos, "%s: unknown tunnel option %q", c.Key, w)
			return "", nil, false
		}
	}
	switch {
	case fwd != config.TUN:
		m.unmappedWord(c, strings.Join(c.Args[1:], " "), "tunnel options have no effect with %s (keepalived reads them without a word): not imported", fwd)
		return fwd, nil, true
	case (t.Type == config.TunnelGUE) != (t.Port != 0):
		m.errorf(c.Pos, "%s: a gue tunnel needs a port, and only a gue tunnel has one", c.Key)
	case t.Type == config.TunnelIPIP && t.Checksum != config.ChecksumNone:
		m.errorf(c.Pos, "%s: an ipip tunnel has no checksum option", c.Key)
	case t.Type == config.TunnelGRE && t.Checksum == config.ChecksumRemCsum:
		m.errorf(c.Pos, "%s: remcsum needs a gue tunnel", c.Key)
	default:
		return fwd, t, true
	}
	return "", nil, false
}

// granularity reads a persistence netmask: dotted IPv4 or an IPv6 length.
func (m *mapper) granularity(c *Node) (config.Netmask, bool) {
	s := c.Args[0]
	if !strings.Contains(s, ".") {
		v, ok := value(m, c, 0, uintIn(1, 128))
		return config.Netmask(v), ok
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		m.errorf(c.Pos, "persistence_granularity: %q is not a netmask", s)
		return 0, false
	}
	b := a.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	ones := bits.LeadingZeros32(^v)
	if v<<ones != 0 || ones == 0 {
		m.unmapped(c, "netmask %s is not contiguous (or is 0.0.0.0): lbd needs a prefix length from 1 to 32", s)
		return 0, false
	}
	return config.Netmask(ones), true
}

// sorryServer reads "sorry_server ADDR [PORT]".
func (m *mapper) sorryServer(b *serviceBuild, c *Node) {
	if !m.leaf(c, 1, 2) {
		return
	}
	a, ok := value(m, c, 0, parseAddr)
	if !ok {
		return
	}
	s := &sorryBuild{node: c, addr: a, port: -1}
	if len(c.Args) > 1 {
		p, ok := value(m, c, 1, uintIn(0, 65535))
		if !ok {
			return
		}
		s.port = p
	}
	if b.sorry != nil {
		m.notef(c.Pos, "second sorry_server: keepalived keeps the last")
	}
	b.sorry = s
}

// realServer reads "real_server ADDR [PORT] { ... }".
func (m *mapper) realServer(b *serviceBuild, n *Node) {
	if !m.block(n, 1, 2) {
		return
	}
	a, ok := value(m, n, 0, parseAddr)
	if !ok {
		return
	}
	r := &realBuild{node: n, port: -1, rs: config.RealServer{Address: a}}
	if len(n.Args) > 1 {
		p, ok := value(m, n, 1, uintIn(0, 65535))
		if !ok {
			return
		}
		r.port = p
	}
	rs := &r.rs
	for _, c := range n.Block {
		if m.timing(&rs.Timing, c) {
			continue
		}
		switch c.Key {
		case "weight":
			if m.leaf(c, 1, 1) {
				if v, ok := value(m, c, 0, uintIn(0, 65535)); ok {
					rs.Weight, r.weightSet = v, true
				}
			}
		case "lvs_method":
			if fwd, tun, ok := m.forwarding(c); ok {
				rs.Forwarding, r.tunnel, r.fwdSet = fwd, tun, true
			}
		case "uthreshold", "lthreshold":
			if m.leaf(c, 1, 1) {
				if v, ok := value(m, c, 0, uintIn(0, 1<<31-1)); ok {
					if c.Key == "uthreshold" {
						rs.UpperThreshold = v
					} else {
						rs.LowerThreshold, r.lthreshold = v, c
					}
				}
			}
		case "inhibit_on_failure":
			if v, ok := m.flag(c); ok {
				rs.InhibitOnFailure, r.inhibitSet = v, true
			}
		case "notify_up", "notify_down":
			if argv, ok := m.command(c); ok {
				if c.Key == "notify_up" {
					rs.NotifyUp = argv
				} else {
					rs.NotifyDown = argv
				}
			}
		case "virtualhost":
			if m.leaf(c, 1, 1) {
				r.virtualhost = c.Args[0]
			}
		case "HTTP_GET", "SSL_GET", "TCP_CHECK", "MISC_CHECK", "DNS_CHECK", "UDP_CHECK", "PING_CHECK", "SMTP_CHECK":
			m.checker(r, c)
		default:
			m.other(c, "real_server", realUnsupported, realMapped)
		}
	}
	b.reals = append(b.reals, r)
}

// completeService applies keepalived's defaults and corrections to a
// virtual server and its real servers; false when it cannot be imported.
func (m *mapper) completeService(b *serviceBuild) bool {
	if p := config.ServiceAddressProblem(b.vs.Address); b.vs.FWMark == 0 && p != "" {
		m.unmapped(b.node, "%s not imported: lbd refuses a service at %s: %s", b.describe(), b.vs.Address, p)
		return false
	}
	m.serviceDefaults(b)
	if !m.serviceFamily(b) || !m.servicePersistence(b) {
		return false
	}
	m.serviceFlags(b)
	if !m.completeReals(b) {
		return false
	}
	m.serviceQuorumLimits(b)
	if s := b.sorry; s != nil {
		m.completeSorry(b, s)
	}
	// Check timing: write keepalived's defaults where lbd's differ.
	vs := &b.vs
	for i := range vs.RealServers {
		rs := &vs.RealServers[i]
		for j, cb := range b.reals[i].checks {
			fixTiming(vs, rs, &rs.Checks[j], cb)
		}
	}
	return true
}

// serviceDefaults writes keepalived's protocol (UDP when none is given, none
// on a fwmark service), scheduler and forwarding method.
func (m *mapper) serviceDefaults(b *serviceBuild) {
	vs, n := &b.vs, b.node
	switch {
	case vs.FWMark > 0 && b.protoNode != nil:
		m.notef(b.protoNode.Pos, "protocol on a fwmark virtual server: keepalived ignores it")
		vs.Protocol = ""
	case vs.FWMark == 0 && b.protoNode == nil:
		vs.Protocol = config.UDP
		m.notef(n.Pos, "no protocol: keepalived creates a UDP service (add \"protocol TCP\" for TCP)")
	}
	if vs.Scheduler == "" {
		vs.Scheduler = table.DefaultScheduler
	}
	if !b.fwdSet {
		vs.Forwarding = config.NAT
		m.notef(n.Pos, "no lb_kind: keepalived forwards with NAT")
	}
}

// serviceFamily sets the address family: the address's; for fwmark
// services ip_family, else that of the first real server not tunnelled,
// else that of the tunnelled ones if they agree, else IPv4. False when
// ip_family contradicts the address.
func (m *mapper) serviceFamily(b *serviceBuild) bool {
	vs := &b.vs
	switch {
	case vs.FWMark == 0:
		f := config.FamilyOf(vs.Address)
		if b.family != nil && vs.Family != f {
			m.errorf(b.family.Pos, "ip_family %s does not match the virtual server address %s", vs.Family, vs.Address)
			return false
		}
		vs.Family = f
	case vs.Family == "":
		vs.Family = config.IPv4
		tunnelled := map[config.Family]bool{}
		for _, r := range b.reals {
			fwd := vs.Forwarding
			if r.fwdSet {
				fwd = r.rs.Forwarding
			}
			if fwd != config.TUN {
				vs.Family = config.FamilyOf(r.rs.Address)
				return true
			}
			tunnelled[config.FamilyOf(r.rs.Address)] = true
		}
		if len(tunnelled) == 1 {
			for f := range tunnelled {
				vs.Family = f
			}
		}
	}
	return true
}

// servicePersistence makes a port 0 service persistent, as keepalived
// does, and checks the persistence netmask against the family.
func (m *mapper) servicePersistence(b *serviceBuild) bool {
	vs, n := &b.vs, b.node
	if vs.FWMark == 0 && vs.Port == 0 && vs.PersistenceTimeout == 0 {
		vs.PersistenceTimeout = kaPersistenceTimeout
		m.notef(n.Pos, "port 0 without persistence: keepalived makes the service persistent for %s", formatDuration(kaPersistenceTimeout))
	}
	if vs.PersistenceNetmask != 0 && int(vs.PersistenceNetmask) > vs.Family.Bits() {
		m.errorf(n.Pos, "persistence_granularity /%d is too long for an %s service", vs.PersistenceNetmask, vs.Family)
		return false
	}
	if vs.PersistenceNetmask == config.Netmask(vs.Family.Bits()) {
		vs.PersistenceNetmask = 0 // the default
	}
	return true
}

// serviceFlags applies one packet scheduling and the scheduler flags where
// keepalived applies them.
func (m *mapper) serviceFlags(b *serviceBuild) {
	vs := &b.vs
	if c := b.opsNode; c != nil {
		switch {
		case vs.FWMark > 0:
			m.unmapped(c, "one packet scheduling on a fwmark service: lbd allows it for UDP services only")
		case vs.Protocol != config.UDP:
			m.notef(c.Pos, "ops on a %s service: keepalived resets it (UDP only)", vs.Protocol)
		default:
			vs.OnePacket = true
		}
	}
	for _, c := range b.flagNodes {
		sched := string(vs.Scheduler)
		switch {
		case strings.HasPrefix(c.Key, "flag-") && (sched == "sh" || sched == "mh"):
		case strings.HasPrefix(c.Key, sched+"-"):
		default:
			m.unmapped(c, "%s does not apply to scheduler %s", c.Key, sched)
			continue
		}
		if !slices.Contains(vs.SchedulerFlags, config.SchedulerFlag(c.Key)) {
			vs.SchedulerFlags = append(vs.SchedulerFlags, config.SchedulerFlag(c.Key))
		}
	}
}

// completeReals completes the real servers and keeps those that can be
// imported, the first of each address and port; false when none is left.
func (m *mapper) completeReals(b *serviceBuild) bool {
	type rsKey struct {
		a    netip.Addr
		port uint16
	}
	seen := map[rsKey]bool{}
	var reals []*realBuild
	for _, r := range b.reals {
		if !m.completeReal(b, r) {
			continue
		}
		k := rsKey{r.rs.Address, r.rs.Port}
		if seen[k] {
			m.unmapped(r.node, "real server %s is listed twice: keepalived drops the second", netip.AddrPortFrom(k.a, k.port))
			continue
		}
		seen[k] = true
		reals = append(reals, r)
	}
	if len(reals) == 0 {
		m.unmapped(b.node, "%s has no importable real_server: not imported", b.describe())
		return false
	}
	b.reals = reals
	b.vs.RealServers = nil
	for _, r := range reals {
		b.vs.RealServers = append(b.vs.RealServers, r.rs)
	}
	return true
}

// serviceQuorumLimits applies keepalived's corrections: quorum at most the
// real servers' total weight, hysteresis below quorum.
func (m *mapper) serviceQuorumLimits(b *serviceBuild) {
	vs := &b.vs
	weightSum := 0
	for _, rs := range vs.RealServers {
		weightSum += rs.Weight
	}
	if vs.Quorum == 0 {
		vs.Quorum = 1
	}
	if vs.Quorum > max(weightSum, 1) {
		m.notef(b.quorumNode.Pos, "quorum %d exceeds the real servers' total weight %d: keepalived lowers it", vs.Quorum, weightSum)
		vs.Quorum = max(weightSum, 1)
	}
	if vs.Hysteresis >= vs.Quorum {
		m.notef(b.node.Pos, "hysteresis %d is not below quorum %d: keepalived sets it to %d", vs.Hysteresis, vs.Quorum, vs.Quorum-1)
		vs.Hysteresis = vs.Quorum - 1
	}
}

// completeReal fills in a real server's port, weight, forwarding and checks;
// false when it cannot be imported.
func (m *mapper) completeReal(b *serviceBuild, r *realBuild) bool {
	vs, rs := &b.vs, &r.rs
	fwd := vs.Forwarding
	if r.fwdSet {
		fwd = rs.Forwarding
		if fwd == vs.Forwarding {
			rs.Forwarding = "" // the service's, written once
		}
	}
	if f := config.FamilyOf(rs.Address); f != vs.Family {
		m.unmapped(r.node, "%s real server in an %s service: lbd needs one family per service", f, vs.Family)
		return false
	}
	if p := config.RealServerAddressProblem(rs.Address); p != "" {
		m.unmapped(r.node, "lbd refuses a real server at %s: %s", rs.Address, p)
		return false
	}
	if vs.FWMark == 0 && rs.Address == vs.Address {
		m.unmapped(r.node, "not imported into the service of %s: the real server is the service's own address, which lbd refuses (traffic would loop back to the director)", b.describe())
		return false
	}

	writtenPort := max(r.port, 0)
	switch {
	case vs.FWMark == 0 && r.port <= 0:
		rs.Port = vs.Port
	case vs.FWMark == 0 && fwd != config.NAT && r.port != int(vs.Port):
		m.notef(r.node.Pos, "real server port %d differs from the service port %d with %s: keepalived uses %d", r.port, vs.Port, fwd, vs.Port)
		rs.Port = vs.Port
		writtenPort = int(vs.Port)
	case vs.FWMark > 0 && fwd != config.NAT && r.port > 0:
		m.notef(r.node.Pos, "port %d on a real server of a fwmark service with %s: keepalived clears it (its checks still connect to %d)", r.port, fwd, r.port)
		rs.Port = 0
	default:
		rs.Port = uint16(writtenPort)
	}

	if !r.weightSet {
		rs.Weight = b.weight
	}
	if rs.UpperThreshold > 0 && rs.LowerThreshold > rs.UpperThreshold {
		m.unmapped(r.lthreshold, "lthreshold %d above uthreshold %d: lbd refuses it, so it is left out", rs.LowerThreshold, rs.UpperThreshold)
		rs.LowerThreshold = 0
	}
	if !r.inhibitSet {
		rs.InhibitOnFailure = vs.InhibitOnFailure
	}
	if fwd == config.TUN {
		// Tunnel options come with the lvs_method that set TUN: the real
		// server's own, else the virtual server's.
		t := b.tunnel
		if r.fwdSet {
			t = r.tunnel
		}
		if t != nil && (t.Type != config.TunnelIPIP || t.Checksum != config.ChecksumNone) {
			tc := *t
			rs.Tunnel = &tc
		}
	}

	// Checks.
	host := r.virtualhost
	if host == "" {
		host = b.virtualhost
	}
	var checks []config.Check
	var builds []*checkBuild
	for _, cb := range r.checks {
		if !m.completeCheck(cb, host, writtenPort, rs) {
			continue
		}
		checks = append(checks, cb.c)
		builds = append(builds, cb)
	}
	rs.Checks, r.checks = checks, builds
	return true
}

// completeSorry fills in the sorry server from keepalived's rules.
func (m *mapper) completeSorry(b *serviceBuild, s *sorryBuild) {
	vs := &b.vs
	fwd := s.fwd
	if fwd == "" {
		fwd = vs.Forwarding
	}
	if f := config.FamilyOf(s.addr); f != vs.Family {
		m.unmapped(s.node, "%s sorry server in an %s service: keepalived skips it", f, vs.Family)
		return
	}
	ss := &config.SorryServer{Address: s.addr, Inhibit: s.inhib}
	if s.fwd != "" && s.fwd != vs.Forwarding {
		ss.Forwarding = s.fwd
	}
	switch {
	case vs.FWMark > 0:
		ss.Port = uint16(max(s.port, 0))
		if fwd != config.NAT && s.port > 0 {
			m.notef(s.node.Pos, "port on the sorry server of a fwmark service with %s: keepalived clears it", fwd)
			ss.Port = 0
		}
	case s.port <= 0:
		ss.Port = vs.Port
	case fwd != config.NAT && s.port != int(vs.Port):
		m.notef(s.node.Pos, "sorry server port %d differs from the service port %d with %s: keepalived uses %d", s.port, vs.Port, fwd, vs.Port)
		ss.Port = vs.Port
	default:
		ss.Port = uint16(s.port)
	}
	if s.tunnel != nil && fwd == config.TUN {
		m.unmappedWord(s.node, "sorry_server_lvs_method", "tunnel options of a sorry server are not supported (ipip is used)")
	}
	vs.SorryServer = ss
}

// describe names the service: its virtual_server line, or the group
// member it was expanded for.
func (b *serviceBuild) describe() string {
	if b.group != "" {
		return b.group
	}
	return "virtual_server " + strings.Join(b.node.Args, " ")
}
