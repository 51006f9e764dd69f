package kaconf

import (
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/lvsd/lb/vrrp"

	"github.com/lvsd/lb/internal/config"
)

var instanceMapped = []string{
	"state", "interface", "virtual_router_id", "priority", "advert_int", "nopreempt", "preempt",
	"preempt_delay", "authentication", "virtual_ipaddress", "mcast_src_ip", "unicast_src_ip",
	"unicast_peer", "track_interface", "track_script", "notify_master", "notify_backup",
	"notify_fault", "notify_stop", "notify", "garp_master_delay", "garp_master_repeat",
	"garp_master_refresh", "garp_master_refresh_repeat", "version", "skip_check_adv_addr",
	"dont_track_primary", "lvs_sync_daemon_interface", "check_unicast_src",
	"smtp_alert",
	"track_process", "track_file",
	"virtual_ipaddress_excluded", "virtual_routes", "virtual_rules",
	"use_vmac", "vmac_xmit_base",
}

// instanceBuild is a vrrp_instance being read.
type instanceBuild struct {
	in        vrrp.Config
	node      *Node
	state     *Node // the state statement, if any
	vrid      *Node // the virtual_router_id statement, if valid
	prio      *Node // the priority statement, if any
	version   *Node
	advert    *Node
	nopre     *Node
	delay     *Node
	authNode  *Node
	authType  string
	authPass  string
	passPos   Pos      // the auth_pass statement
	vipNodes  []*Node  // the statement of each VirtualIPAddresses entry
	vipLabels []string // and its label as written
	exNodes   []*Node  // the same for ExcludedVIPs
	exLabels  []string
	srcNode   *Node
	misspelt  *Node // lvs_sync_daemon_inteface, as in the seed
	checkSrc  bool  // check_unicast_src
	// peerTTL is the TTL range of each unicast peer that gave one
	// (keepalived's min_ttl/max_ttl; 0-255 when not given), ttlNode the
	// last such statement.
	peerTTL map[netip.Addr][2]int
	ttlNode *Node
	// xmitBase is the vmac_xmit_base statement, if any.
	xmitBase *Node
}

// vrrpInstance maps "vrrp_instance NAME { ... }".
func (m *mapper) vrrpInstance(n *Node) {
	name, ok := m.namedBlock(n)
	if !ok {
		return
	}
	b := &instanceBuild{node: n, in: vrrp.Config{Name: name, GARP: m.glob.garp, SkipCheckAdvAddr: m.glob.skipCheckAdvAddr}}
	for _, c := range n.Block {
		if !m.instanceRouter(b, c) && !m.instanceOption(b, c) {
			m.other(c, "vrrp_instance", instanceUnsupported, instanceMapped)
		}
	}
	m.misspeltSyncDaemon(b)
	if !m.instanceComplete(b) {
		return
	}
	m.completeInstance(b)
	if m.vridTaken(b) {
		return
	}
	in := &b.in
	m.d.VRRP.Instances = append(m.d.VRRP.Instances, *in)
	m.sources.instances[name] = n.Pos
	for _, v := range slices.Concat(in.VIPs, in.ExcludedVIPs) {
		m.vipOf[v.Prefix.Addr().String()] = name
	}
}

// instanceRouter maps the statements that make the virtual router: state,
// interface, VRID, priority, advert interval, version and preemption. It
// reports whether c was one of them.
func (m *mapper) instanceRouter(b *instanceBuild, c *Node) bool {
	in := &b.in
	switch c.Key {
	case "state":
		m.instanceState(b, c)
	case "interface":
		if m.leaf(c, 1, 1) {
			if len(c.Args[0]) >= 16 {
				m.errorf(c.Pos, "interface: name %q is longer than 15 bytes", c.Args[0])
				break
			}
			in.Interface = c.Args[0]
		}
	case "virtual_router_id":
		if m.leaf(c, 1, 1) {
			if v, ok := value(m, c, 0, uintIn(1, 255)); ok {
				in.VRID, b.vrid = v, c
			}
		}
	case "priority":
		if m.leaf(c, 1, 1) {
			if v, ok := value(m, c, 0, uintIn(1, 255)); ok {
				in.Priority, b.prio = v, c
			}
		}
	case "advert_int":
		if m.leaf(c, 1, 1) {
			if v, ok := value(m, c, 0, secondsIn(10*time.Millisecond, 255*time.Second)); ok {
				in.AdvertInterval, b.advert = v, c
			}
		}
	case "version":
		if m.leaf(c, 1, 1) {
			if v, ok := value(m, c, 0, uintIn(2, 3)); ok {
				in.Version, b.version = v, c
			}
		}
	case "nopreempt":
		if m.leaf(c, 0, 0) {
			in.NoPreempt, b.nopre = true, c
		}
	case "preempt":
		if m.leaf(c, 0, 0) {
			in.NoPreempt, b.nopre = false, nil
		}
	case "preempt_delay":
		if m.leaf(c, 1, 1) {
			if v, ok := value(m, c, 0, secondsIn(0, 1000*time.Second)); ok {
				in.PreemptDelay, b.delay = v, c
			}
		}
	default:
		return false
	}
	return true
}

// instanceState maps "state MASTER|BACKUP" as keepalived reads it.
func (m *mapper) instanceState(b *instanceBuild, c *Node) {
	if !m.leaf(c, 1, 1) {
		return
	}
	in := &b.in
	switch c.Args[0] {
	case "MASTER":
		in.InitialState, b.state = vrrp.StartMaster, c
	case "BACKUP":
		if in.InitialState == vrrp.StartMaster {
			m.notef(c.Pos, "state BACKUP after state MASTER: keepalived keeps MASTER")
			return
		}
		in.InitialState, b.state = vrrp.StartBackup, c
	default:
		m.notef(c.Pos, "unknown state %q: keepalived uses BACKUP", c.Args[0])
		in.InitialState, b.state = vrrp.StartBackup, c
	}
}

// instanceOption maps the other statements of an instance: addresses,
// authentication, tracking, notify, GARP, and the sync daemon keepalived
// hangs on an instance. It reports whether c was one of them.
func (m *mapper) instanceOption(b *instanceBuild, c *Node) bool {
	in := &b.in
	switch c.Key {
	case "authentication":
		m.authentication(b, c)
	case "virtual_ipaddress":
		m.virtualAddresses(b, c, false)
	case "virtual_ipaddress_excluded":
		m.virtualAddresses(b, c, true)
	case "virtual_routes":
		m.virtualRoutes(b, c)
	case "virtual_rules":
		m.virtualRules(b, c)
	case "mcast_src_ip", "unicast_src_ip":
		if m.leaf(c, 1, 1) {
			if a, ok := value(m, c, 0, parseAddr); ok {
				in.SourceAddr, b.srcNode = a, c
			}
		}
	case "unicast_peer":
		m.unicastPeers(b, c)
	case "track_interface":
		m.trackInterfaces(b, c)
	case "track_script":
		m.trackScripts(b, c)
	case "track_process":
		m.trackProcesses(b, c)
	case "track_file":
		m.trackFiles(b, c)
	case "notify_master", "notify_backup", "notify_fault", "notify_stop", "notify":
		m.notify(&in.Notify, c)
	case "garp_master_delay", "garp_master_repeat", "garp_master_refresh", "garp_master_refresh_repeat":
		m.garp(c, c.Key, &in.GARP)
	case "skip_check_adv_addr":
		if v, ok := m.flag(c); ok {
			in.SkipCheckAdvAddr = v
		}
	case "dont_track_primary":
		if m.leaf(c, 0, 0) {
			in.DontTrackPrimary = true
		}
	case "smtp_alert":
		if v, ok := m.flag(c); ok {
			in.SMTPAlert = &v
		}
	case "check_unicast_src":
		if m.leaf(c, 0, 0) {
			b.checkSrc = true
		}
	case "lvs_sync_daemon_interface":
		if !m.leaf(c, 1, 1) {
			break
		}
		if m.syncd != nil {
			m.unmapped(c, "a sync daemon is already given at line %d; keepalived ignores this one", m.syncd.node.Pos.Line)
			break
		}
		m.syncd = &syncDaemonSpec{node: c, iface: c.Args[0], instance: in.Name, syncID: -1}
	case "lvs_sync_daemon_inteface":
		b.misspelt = c
	case "use_vmac":
		m.useVMAC(b, c)
	case "vmac_xmit_base":
		if m.leaf(c, 0, 0) {
			in.VMAC.XmitBase, b.xmitBase = true, c
		}
	default:
		return false
	}
	return true
}

// misspeltSyncDaemon explains the seed's lvs_sync_daemon_inteface.
func (m *mapper) misspeltSyncDaemon(b *instanceBuild) {
	c := b.misspelt
	if c == nil {
		return
	}
	iface := "IFACE"
	if len(c.Args) > 0 {
		iface = c.Args[0]
	}
	m.unmapped(c, "misspelling of lvs_sync_daemon_interface: keepalived rejects the unknown keyword and runs "+
		"no sync daemon, so none is imported; what was meant is ipvs.sync_daemon "+
		"{interface: %s, instance: %s, sync_id: %d, role: auto}", iface, b.in.Name, b.in.VRID)
}

// instanceComplete reports whether the instance has what lbd needs (a
// VRID, an interface, an address); if not it says why.
func (m *mapper) instanceComplete(b *instanceBuild) bool {
	in, n := &b.in, b.node
	switch {
	case b.vrid == nil:
		m.errorf(n.Pos, "vrrp_instance %s: missing virtual_router_id (keepalived requires it)", in.Name)
	case in.Interface == "":
		m.unmapped(n, "vrrp_instance %s has no interface: lbd needs one, so the instance is not imported", in.Name)
	case len(in.VIPs) == 0:
		m.unmapped(n, "vrrp_instance %s has no virtual_ipaddress: lbd needs at least one, so the instance is not imported", in.Name)
	default:
		return true
	}
	return false
}

// vridTaken reports (and explains) an instance whose virtual router an
// instance imported before already is.
func (m *mapper) vridTaken(b *instanceBuild) bool {
	in, n := &b.in, b.node
	for _, o := range m.d.VRRP.Instances {
		if o.Interface != in.Interface || o.VRID != in.VRID || o.Family() != in.Family() {
			continue
		}
		first := m.sources.instances[o.Name].Line
		if len(o.UnicastPeers) > 0 && len(in.UnicastPeers) > 0 &&
			!slices.ContainsFunc(in.UnicastPeers, func(p netip.Addr) bool { return slices.Contains(o.UnicastPeers, p) }) {
			m.unmapped(n, "VRID %d on %s is also used by vrrp_instance %s at line %d: keepalived allows it for unicast instances "+
				"with different peers, lbd does not, so this instance is not imported", in.VRID, in.Interface, o.Name, first)
			return true
		}
		m.errorf(n.Pos, "vrrp_instance %s: VRID %d on %s (%s) is already used by vrrp_instance %s at line %d (keepalived refuses this too)",
			in.Name, in.VRID, in.Interface, in.Family(), o.Name, first)
		return true
	}
	return false
}

// completeInstance applies keepalived's defaults and corrections.
func (m *mapper) completeInstance(b *instanceBuild) {
	m.completeVersion(b)
	m.completeRole(b)
	m.completeAdvert(b)
	m.completeLabels(b)
	m.completeAuth(b)
	m.completePeers(b)
	m.completeUnicastChecks(b)
	m.completeVMAC(b)
}

// completeVersion: the global default, and version 3 for IPv6.
func (m *mapper) completeVersion(b *instanceBuild) {
	in := &b.in
	if b.version == nil {
		in.Version = m.glob.version
	}
	if in.Family() == "ipv6" && in.Version != 3 {
		if b.version != nil {
			m.notef(b.version.Pos, "IPv6 instance: keepalived always uses VRRP version 3")
		}
		in.Version = 3
	}
}

// completeRole derives the priority from the state and the state from the
// priority, and clears the preemption settings keepalived clears.
func (m *mapper) completeRole(b *instanceBuild) {
	in := &b.in
	if b.prio == nil {
		in.Priority = vrrp.DefaultPriority
		if in.InitialState == vrrp.StartMaster {
			in.Priority = 255
			m.notef(b.state.Pos, "no priority with state MASTER: keepalived makes the instance the address owner (priority 255)")
		}
	}
	if in.InitialState == "" {
		in.InitialState = vrrp.StartBackup
		if in.Priority == 255 {
			in.InitialState = vrrp.StartMaster
		}
	}
	if b.nopre != nil && in.Priority == 255 {
		m.notef(b.nopre.Pos, "nopreempt with priority 255: keepalived clears nopreempt")
		in.NoPreempt = false
	}
	if in.NoPreempt && in.InitialState == vrrp.StartMaster {
		m.notef(b.nopre.Pos, "nopreempt with state MASTER: keepalived clears nopreempt (it needs state BACKUP)")
		in.NoPreempt = false
	}
	if b.delay == nil || in.PreemptDelay == 0 {
		return
	}
	switch {
	case in.InitialState == vrrp.StartMaster:
		m.notef(b.delay.Pos, "preempt_delay with state MASTER: keepalived clears it")
		in.PreemptDelay = 0
	case in.NoPreempt:
		m.notef(b.delay.Pos, "preempt_delay with nopreempt: keepalived clears it")
		in.PreemptDelay = 0
	}
}

// completeAdvert rounds the advert interval as keepalived does: whole
// seconds for version 2, centiseconds (at most 40.95 s) for version 3.
func (m *mapper) completeAdvert(b *instanceBuild) {
	in := &b.in
	if b.advert == nil {
		in.AdvertInterval = vrrp.DefaultAdvertInterval
	}
	ai := in.AdvertInterval
	if in.Version == 2 && ai%time.Second != 0 {
		r := max((ai+time.Second/2)/time.Second*time.Second, time.Second)
		m.notef(b.advert.Pos, "advert_int %s with VRRP version 2: keepalived rounds it to %s", formatDuration(ai), formatDuration(r))
		in.AdvertInterval = r
	}
	if in.Version != 3 {
		return
	}
	const cs = 10 * time.Millisecond
	if r := (ai + cs/2) / cs * cs; r != ai {
		m.notef(b.advert.Pos, "advert_int %s with VRRP version 3: keepalived rounds it to %s", formatDuration(ai), formatDuration(r))
		in.AdvertInterval = r
	}
	if in.AdvertInterval > 40950*time.Millisecond {
		m.notef(b.advert.Pos, "advert_int above 40.95s with VRRP version 3: set to 40.95s")
		in.AdvertInterval = 40950 * time.Millisecond
	}
}

// completeLabels puts addresses without dev on the instance's interface
// and keeps the labels lbd can apply (DEVICE:SUFFIX, IPv4).
func (m *mapper) completeLabels(b *instanceBuild) {
	m.completeLabelsOf(b.in.Interface, b.in.VIPs, b.vipLabels, b.vipNodes)
	m.completeLabelsOf(b.in.Interface, b.in.ExcludedVIPs, b.exLabels, b.exNodes)
}

func (m *mapper) completeLabelsOf(iface string, vips []vrrp.VIP, labels []string, nodes []*Node) {
	for i := range vips {
		v := &vips[i]
		if v.Device == "" {
			v.Device = iface
		}
		label, c := labels[i], nodes[i]
		switch {
		case label == "":
		case !v.Prefix.Addr().Is4():
			m.unmappedWord(c, "label", "labels are IPv4 only")
		case len(label) > 15 || !strings.HasPrefix(label, v.Device+":") || len(label) == len(v.Device)+1:
			m.unmappedWord(c, "label", "label %q: lbd needs DEVICE:SUFFIX (%s:...), at most 15 bytes", label, v.Device)
		default:
			v.Label = label
		}
	}
}

// completeAuth keeps the authentication keepalived would use.
func (m *mapper) completeAuth(b *instanceBuild) {
	in := &b.in
	if b.authNode == nil {
		return
	}
	switch {
	case b.authType == "":
		m.notef(b.authNode.Pos, "authentication without auth_type: keepalived uses none")
	case b.authType == "AH":
		m.unmappedWord(b.authNode, "auth_type", "%s", noAH)
	case in.Version == 3:
		m.notef(b.authNode.Pos, "authentication with VRRP version 3: keepalived ignores it")
	case b.authPass == "":
		m.notef(b.authNode.Pos, "authentication without auth_pass: keepalived uses none")
	default:
		pass := b.authPass
		if len(pass) > 8 {
			m.notef(b.passPos, "auth_pass longer than 8 characters: keepalived uses the first 8")
			pass = pass[:8]
		}
		in.Authentication = vrrp.PassAuth(pass)
	}
}

// completePeers drops the source address and the unicast peers keepalived
// would skip (other family, duplicates, the source itself).
func (m *mapper) completePeers(b *instanceBuild) {
	in := &b.in
	fam := config.FamilyOf(in.VIPs[0].Prefix.Addr())
	if in.SourceAddr.IsValid() && config.FamilyOf(in.SourceAddr) != fam {
		m.unmapped(b.srcNode, "%s source address in an %s instance: keepalived skips it", config.FamilyOf(in.SourceAddr), fam)
		in.SourceAddr = netip.Addr{}
	}
	peers := in.UnicastPeers[:0]
	for _, p := range in.UnicastPeers {
		if config.FamilyOf(p) != fam || p == in.SourceAddr || slices.Contains(peers, p) {
			m.notef(b.node.Pos, "unicast peer %s dropped (other family, duplicate, or the source address)", p)
			continue
		}
		peers = append(peers, p)
	}
	in.UnicastPeers = peers
}

// authentication maps "authentication { auth_type PASS auth_pass SECRET }".
func (m *mapper) authentication(b *instanceBuild, n *Node) {
	if !m.block(n, 0, 0) {
		return
	}
	b.authNode = n
	for _, c := range n.Block {
		switch c.Key {
		case "auth_type":
			if m.leaf(c, 1, 1) {
				switch c.Args[0] {
				case "PASS", "AH":
					b.authType = c.Args[0]
				default:
					m.errorf(c.Pos, "auth_type: %q is not PASS or AH", c.Args[0])
				}
			}
		case "auth_pass":
			if m.leaf(c, 1, 1) {
				b.authPass, b.passPos = c.Args[0], c.Pos
			}
		default:
			m.other(c, "authentication", nil, []string{"auth_type", "auth_pass"})
		}
	}
}

// virtualAddresses maps the lines "ADDR[/LEN] [dev DEV] [label LABEL] ..."
// of a virtual_ipaddress block (or virtual_ipaddress_excluded: either
// family, not advertised).
func (m *mapper) virtualAddresses(b *instanceBuild, n *Node, excluded bool) {
	if !m.block(n, 0, 0) {
		return
	}
	in := &b.in
	for _, c := range n.Block {
		if c.HasBlock {
			m.errorf(c.Pos, "%s: %s does not take a block", n.Key, c.Key)
			continue
		}
		p, ok := value(m, &Node{Pos: c.Pos, Key: n.Key, Args: []string{c.Key}}, 0, parsePrefix)
		if !ok {
			continue
		}
		v := vrrp.VIP{Prefix: p}
		var label string
		for i := 0; i < len(c.Args); i++ {
			w := c.Args[i]
			arg := func() (string, bool) {
				if i+1 >= len(c.Args) {
					m.errorf(c.Pos, "%s %s: %s needs a value", n.Key, c.Key, w)
					return "", false
				}
				i++
				return c.Args[i], true
			}
			switch w {
			case "dev":
				if d, ok := arg(); ok {
					v.Device = d
				}
			case "label":
				if l, ok := arg(); ok {
					label = l
				}
			case "scope":
				if s, ok := arg(); ok {
					v.Scope, _ = routeScope(m, c, s)
				}
			case "brd", "broadcast", "peer", "preferred_lft", "track_group":
				if _, ok := arg(); ok {
					m.unmappedWord(c, w, "address option %s is not supported", w)
				}
			case "home", "-nodad", "nodad", "mngtmpaddr", "noprefixroute", "autojoin", "no_track", "use_vmac":
				m.unmappedWord(c, w, "address option %s is not supported", w)
			default:
				m.unmappedWord(c, w, "unknown %s option", n.Key)
			}
		}
		a := p.Addr()
		if !a.IsValid() || a.IsUnspecified() || a.IsLoopback() || a.IsMulticast() {
			m.unmapped(c, "%s cannot be a virtual address", a)
			continue
		}
		if !excluded && len(in.VIPs) > 0 && config.FamilyOf(a) != config.FamilyOf(in.VIPs[0].Prefix.Addr()) {
			m.unmapped(c, "%s address in an instance whose first address is %s (an instance advertises one family: "+
				"list it under virtual_ipaddress_excluded to hold it with this instance)",
				config.FamilyOf(a), config.FamilyOf(in.VIPs[0].Prefix.Addr()))
			continue
		}
		same := func(x vrrp.VIP) bool { return x.Prefix.Addr() == a }
		if other, dup := m.vipOf[a.String()]; dup || slices.ContainsFunc(in.VIPs, same) || slices.ContainsFunc(in.ExcludedVIPs, same) {
			if other == "" {
				other = in.Name
			}
			m.unmapped(c, "%s is already a virtual address of vrrp_instance %s", a, other)
			continue
		}
		if excluded {
			in.ExcludedVIPs = append(in.ExcludedVIPs, v)
			b.exNodes = append(b.exNodes, c)
			b.exLabels = append(b.exLabels, label)
			continue
		}
		in.VIPs = append(in.VIPs, v)
		b.vipNodes = append(b.vipNodes, c)
		b.vipLabels = append(b.vipLabels, label)
	}
}

// unicastPeers maps "unicast_peer { ADDR [min_ttl N] [max_ttl N] ... }".
func (m *mapper) unicastPeers(b *instanceBuild, n *Node) {
	if !m.block(n, 0, 0) {
		return
	}
	for _, c := range n.Block {
		if c.HasBlock {
			m.errorf(c.Pos, "unicast_peer: %s does not take a block", c.Key)
			continue
		}
		a, ok := value(m, &Node{Pos: c.Pos, Key: "unicast_peer", Args: []string{c.Key}}, 0, parseAddr)
		if !ok {
			continue
		}
		if r, given := m.peerTTL(c); given {
			if b.peerTTL == nil {
				b.peerTTL = map[netip.Addr][2]int{}
			}
			b.peerTTL[a], b.ttlNode = r, c
		}
		b.in.UnicastPeers = append(b.in.UnicastPeers, a)
	}
}

// peerTTL reads a unicast peer's "[min_ttl N] [max_ttl N]" (keepalived's
// default range is 0-255) and reports whether either was given.
func (m *mapper) peerTTL(c *Node) (r [2]int, given bool) {
	r = [2]int{0, 255}
	for i := 0; i < len(c.Args); i += 2 {
		w := c.Args[i]
		if w != "min_ttl" && w != "max_ttl" {
			m.unmappedWord(c, w, "unknown unicast_peer option: keepalived reports it and ignores the rest of the line")
			break
		}
		if i+1 >= len(c.Args) {
			m.unmappedWord(c, w, "%s without a value: keepalived ignores it", w)
			break
		}
		v, ok := value(m, &Node{Pos: c.Pos, Key: w, Args: c.Args[i+1 : i+2]}, 0, uintIn(0, 255))
		if !ok {
			continue
		}
		r[map[string]int{"min_ttl": 0, "max_ttl": 1}[w]] = v
		given = true
	}
	return r, given
}

// completeUnicastChecks carries the peers' TTL ranges over: as the
// instance's range when they agree, else as each peer's own
// (unicast_peer_ttls; a peer without one keeps 0-255, no bound, as in
// keepalived); and writes check_unicast_src: false (with a note) where
// keepalived would not check the source of unicast adverts: lbd does by
// default.
func (m *mapper) completeUnicastChecks(b *instanceBuild) {
	in := &b.in
	if len(in.UnicastPeers) == 0 {
		return
	}
	if b.peerTTL == nil {
		if !b.checkSrc && !m.glob.checkUnicastSrc {
			off := false
			in.CheckUnicastSrc = &off
			m.notef(b.node.Pos, "vrrp_instance %s: keepalived accepts unicast adverts from any source here (no check_unicast_src), "+
				"so check_unicast_src: false is written out; remove it to accept adverts only from unicast_peers (lbd's default)", in.Name)
		}
		return
	}
	ranges, same := make([][2]int, len(in.UnicastPeers)), true
	for i, p := range in.UnicastPeers {
		r, ok := b.peerTTL[p]
		if !ok {
			r = [2]int{0, 255}
		}
		switch {
		case r[0] > r[1]:
			m.unmappedWord(b.ttlNode, "min_ttl", "min_ttl %d above max_ttl %d: keepalived discards every advert; not imported", r[0], r[1])
			return
		case r[1] == 0: // lbd's max 0 is no bound
			m.unmappedWord(b.ttlNode, "max_ttl", "max_ttl 0: keepalived discards every advert from %s (none arrives with TTL 0); not imported", p)
			return
		}
		ranges[i], same = r, same && (i == 0 || r == ranges[0])
	}
	noMax := func(v int) int { // 255 is no bound: lbd's 0
		if v == 255 {
			return 0
		}
		return v
	}
	if same {
		in.UnicastMinTTL, in.UnicastMaxTTL = ranges[0][0], noMax(ranges[0][1])
		return
	}
	for i, p := range in.UnicastPeers {
		if r := ranges[i]; r != [2]int{0, 255} {
			in.UnicastPeerTTLs = append(in.UnicastPeerTTLs, vrrp.PeerTTL{Address: p, MinTTL: r[0], MaxTTL: noMax(r[1])})
		}
	}
}

// trackInterfaces maps "track_interface { IFACE [weight W [reverse]] ... }".
func (m *mapper) trackInterfaces(b *instanceBuild, n *Node) {
	if !m.block(n, 0, 0) {
		return
	}
	for _, c := range n.Block {
		w, rev, ok := m.trackWeight(c, "track_interface")
		if !ok {
			continue
		}
		if slices.ContainsFunc(b.in.TrackInterfaces, func(t vrrp.TrackInterface) bool { return t.Name == c.Key }) {
			m.notef(c.Pos, "track_interface %s listed twice: keepalived ignores the second", c.Key)
			continue
		}
		b.in.TrackInterfaces = append(b.in.TrackInterfaces, vrrp.TrackInterface{Name: c.Key, Weight: w, Reverse: rev})
	}
}

// trackScripts maps "track_script { NAME [weight W [reverse]] ... }".
// Without a weight the script's own applies (lbd's default too, written
// out here).
func (m *mapper) trackScripts(b *instanceBuild, n *Node) {
	if !m.block(n, 0, 0) {
		return
	}
	for _, c := range n.Block {
		s := m.d.VRRP.Script(c.Key)
		switch {
		case s == nil && m.laterScripts[c.Key] && m.sources.scripts[c.Key] == (Pos{}):
			m.unmapped(c, "vrrp_script %s is not defined before this instance (or is not imported): keepalived ignores the reference; define the script first", c.Key)
			continue
		case s == nil:
			m.unmapped(c, "no vrrp_script %s is imported (keepalived ignores an unknown track_script too)", c.Key)
			continue
		}
		w, rev, ok := m.trackWeight(c, "track_script")
		if !ok {
			continue
		}
		if rev {
			m.unmappedWord(c, "reverse", "reverse weights of scripts are not supported: the entry %s is not imported", c.Key)
			continue
		}
		if len(c.Args) == 0 {
			w = s.Weight
		}
		if slices.ContainsFunc(b.in.TrackScripts, func(t vrrp.TrackScript) bool { return t.Name == c.Key }) {
			m.notef(c.Pos, "track_script %s listed twice: keepalived ignores the second", c.Key)
			continue
		}
		b.in.TrackScripts = append(b.in.TrackScripts, vrrp.TrackScript{Name: c.Key, Weight: &w})
	}
}

// trackWeight reads "NAME [weight W [reverse|noreverse]]"; keepalived turns
// +/-254 into +/-253.
func (m *mapper) trackWeight(c *Node, where string) (int, bool, bool) {
	if c.HasBlock {
		m.errorf(c.Pos, "%s: %s does not take a block", where, c.Key)
		return 0, false, false
	}
	if len(c.Args) == 0 {
		return 0, false, true
	}
	if c.Args[0] != "weight" {
		m.unmappedWord(c, c.Args[0], "unknown %s option: keepalived ignores the entry %s too", where, c.Key)
		return 0, false, false
	}
	if len(c.Args) < 2 {
		m.errorf(c.Pos, "%s %s: weight needs a value", where, c.Key)
		return 0, false, false
	}
	w, ok := value(m, &Node{Pos: c.Pos, Key: where + " " + c.Key + " weight", Args: c.Args[1:2]}, 0, intIn(-254, 254))
	if !ok {
		return 0, false, false
	}
	if w == 254 || w == -254 {
		m.notef(c.Pos, "%s %s weight %d: keepalived uses %d", where, c.Key, w, w/254*253)
		w = w / 254 * 253
	}
	reverse := false
	if len(c.Args) > 2 {
		switch c.Args[2] {
		case "noreverse":
			if where == "track_interface" {
				m.unmappedWord(c, c.Args[2], "unknown %s weight option: keepalived ignores it too (reverse only)", where)
			}
		case "reverse":
			reverse = true
		default:
			m.unmappedWord(c, c.Args[2], "unknown %s weight option", where)
		}
	}
	return w, reverse, true
}

// notify maps notify_master/backup/fault/stop and notify.
func (m *mapper) notify(nt *vrrp.Notify, c *Node) {
	argv, user, ok := m.commandUser(c)
	if !ok {
		return
	}
	dst := map[string]*[]string{
		"notify_master": &nt.Master, "notify_backup": &nt.Backup, "notify_fault": &nt.Fault,
		"notify_stop": &nt.Stop, "notify": &nt.Any,
	}[c.Key]
	if *dst != nil {
		m.notef(c.Pos, "%s given twice: keepalived keeps the first", c.Key)
		return
	}
	m.notifyUser(nt, c, user)
	*dst = argv
}

var scriptMapped = []string{"script", "interval", "timeout", "weight", "rise", "fall", "user"}

// kaScriptMaxSeconds is the largest vrrp_script interval and timeout
// keepalived reads (whole seconds; UINT_MAX microseconds).
const kaScriptMaxSeconds = 4294

// garp maps one gratuitous ARP setting (key without global_defs' "vrrp_"
// prefix: garp_master_delay, garp_master_repeat, garp_master_refresh,
// garp_master_refresh_repeat, garp_interval) into g; the same keywords
// set the defaults in global_defs and the values of a vrrp_instance.
func (m *mapper) garp(c *Node, key string, g *vrrp.GARPConfig) {
	if !m.leaf(c, 1, 1) {
		return
	}
	switch key {
	case "garp_master_delay", "garp_master_refresh":
		v, ok := value(m, c, 0, wholeSecondsIn(0, 1<<31))
		if !ok {
			return
		}
		if key == "garp_master_delay" {
			g.MasterDelay = v
		} else {
			g.MasterRefresh = v
		}
	case "garp_master_repeat", "garp_master_refresh_repeat":
		v, ok := m.repeat(c)
		if !ok {
			return
		}
		if key == "garp_master_repeat" {
			g.MasterRepeat = v
		} else {
			g.MasterRefreshRepeat = v
		}
	case "garp_interval":
		if v, ok := value(m, c, 0, secondsIn(0, 1000*time.Second)); ok {
			g.Interval = v
		}
	}
}

// vrrpScript maps "vrrp_script NAME { script ... interval ... }".
func (m *mapper) vrrpScript(n *Node) {
	name, ok := m.namedBlock(n)
	if !ok {
		return
	}
	s := vrrp.ScriptConfig{Name: name, Interval: vrrp.DefaultScriptInterval, Rise: vrrp.DefaultScriptRiseFall, Fall: vrrp.DefaultScriptRiseFall}
	for _, c := range n.Block {
		switch c.Key {
		case "script":
			if argv, ok := m.command(c); ok {
				s.Command = argv
			}
		case "interval", "timeout":
			if m.leaf(c, 1, 1) {
				v, ok := value(m, c, 0, secondsIn(0, 1<<31*time.Second))
				if !ok {
					continue
				}
				if v%time.Second != 0 || v > kaScriptMaxSeconds*time.Second {
					m.unmapped(c, "keepalived takes whole seconds up to %d here: it ignores the line, and so does the import", kaScriptMaxSeconds)
					continue
				}
				if v == 0 {
					m.notef(c.Pos, "%s 0: keepalived uses 1s", c.Key)
					v = time.Second
				}
				if c.Key == "interval" {
					s.Interval = v
				} else {
					s.Timeout = v
				}
			}
		case "weight":
			if m.leaf(c, 1, 2) {
				if v, ok := value(m, c, 0, intIn(-253, 253)); ok {
					s.Weight = v
				}
				if len(c.Args) == 2 && c.Args[1] == "reverse" {
					m.unmappedWord(c, "reverse", "reverse weights are not supported: the weight is imported as given")
				}
			}
		case "rise", "fall":
			if m.leaf(c, 1, 1) {
				if v, ok := value(m, c, 0, uintIn(1, 1<<31-1)); ok {
					if c.Key == "rise" {
						s.Rise = v
					} else {
						s.Fall = v
					}
				}
			}
		case "user":
			if w, ok := m.user(c); ok {
				s.User, s.Group = w.User, w.Group
			}
		default:
			m.other(c, "vrrp_script", scriptUnsupported, scriptMapped)
		}
	}
	if s.Command == nil {
		m.unmapped(n, "vrrp_script %s has no script: keepalived ignores it too", name)
		return
	}
	m.d.VRRP.Scripts = append(m.d.VRRP.Scripts, s)
	m.sources.scripts[name] = n.Pos
}

var syncGroupMapped = []string{"group", "notify_master", "notify_backup", "notify_fault", "notify_stop", "notify", "smtp_alert"}

// syncGroup maps "vrrp_sync_group NAME { group { VI_1 VI_2 } notify_* }".
func (m *mapper) syncGroup(n *Node) {
	name, ok := m.namedBlock(n)
	if !ok {
		return
	}
	g := vrrp.SyncGroupConfig{Name: name}
	for _, c := range n.Block {
		switch c.Key {
		case "group":
			if !m.block(c, 0, 0) {
				continue
			}
			for _, e := range c.Block {
				for _, inst := range e.Words() {
					switch other := m.d.VRRP.SyncGroupOf(inst); {
					case m.d.VRRP.Instance(inst) == nil:
						m.unmappedWord(e, inst, "no vrrp_instance %s is imported", inst)
					case slices.Contains(g.Instances, inst):
						m.notef(e.Pos, "%s listed twice in vrrp_sync_group %s", inst, name)
					case other != nil:
						m.unmappedWord(e, inst, "vrrp_instance %s is already in vrrp_sync_group %s", inst, other.Name)
					default:
						g.Instances = append(g.Instances, inst)
					}
				}
			}
		case "notify_master", "notify_backup", "notify_fault", "notify_stop", "notify":
			m.notify(&g.Notify, c)
		case "smtp_alert":
			if v, ok := m.flag(c); ok {
				g.SMTPAlert = &v
			}
		default:
			m.other(c, "vrrp_sync_group", syncGroupUnsupported, syncGroupMapped)
		}
	}
	if len(g.Instances) == 0 {
		m.unmapped(n, "vrrp_sync_group %s has no imported instance", name)
		return
	}
	m.syncGroupTracking(n, g.Instances)
	m.d.VRRP.SyncGroups = append(m.d.VRRP.SyncGroups, g)
	m.sources.groups[name] = n.Pos
}

// syncGroupTracking does to the tracking of a sync group's instances what
// keepalived does unless the group sets sync_group_tracking_weight: a
// weighted interface counts with weight 0 (FAULT while it is down), a
// weighted script is not tracked.
func (m *mapper) syncGroupTracking(n *Node, instances []string) {
	for _, c := range n.Block {
		if c.Key == "sync_group_tracking_weight" {
			return
		}
	}
	for _, name := range instances {
		in, pos := m.d.VRRP.Instance(name), m.sources.instances[name]
		for i := range in.TrackInterfaces {
			if t := &in.TrackInterfaces[i]; t.Weight != 0 {
				m.notef(pos, "track_interface %s weight %d in vrrp_sync_group %s: keepalived ignores the weight "+
					"(the instance goes FAULT while the link is down), and so does the import", t.Name, t.Weight, n.Args[0])
				t.Weight = 0
			}
		}
		kept := in.TrackScripts[:0]
		for _, t := range in.TrackScripts {
			if t.Weight == nil || *t.Weight == 0 {
				kept = append(kept, t)
				continue
			}
			m.unmappedWord(&Node{Pos: pos}, t.Name, "track_script %s has weight %d in vrrp_sync_group %s: keepalived ignores "+
				"a weighted script there (it is not tracked); give it weight 0 to go FAULT while it fails", t.Name, *t.Weight, n.Args[0])
		}
		in.TrackScripts = kept
		m.syncGroupFiles(n.Args[0], in, pos)
	}
}

// namedBlock checks a "KIND NAME { ... }" block and returns its name: one
// non-empty argument, and the first block of its kind and name. Otherwise
// it reports the error and returns false.
func (m *mapper) namedBlock(n *Node) (string, bool) {
	if !m.block(n, 1, 1) {
		return "", false
	}
	name := n.Args[0]
	if name == "" {
		m.errorf(n.Pos, "%s: empty name", n.Key)
		return "", false
	}
	k := n.Key + " " + name
	if p, dup := m.defined[k]; dup {
		m.errorf(n.Pos, "%s %s is defined twice (first at line %d)", n.Key, name, p.Line)
		return "", false
	}
	m.defined[k] = n.Pos
	return name, true
}
