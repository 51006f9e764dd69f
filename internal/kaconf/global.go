package kaconf

import (
	"slices"
	"strings"
	"time"

	"github.com/lvsd/lb/internal/config"
)

// syncDaemonSpec is the IPVS sync daemon asked for by lvs_sync_daemon (in
// global_defs) or lvs_sync_daemon_interface (in a vrrp_instance).
type syncDaemonSpec struct {
	node     *Node
	iface    string
	instance string
	syncID   int // -1: keepalived's default, the instance's virtual_router_id
}

// lvsMaxTimeout is keepalived's limit for lvs_timeouts (31 days).
const lvsMaxTimeout = 86400 * 31

var globalMapped = []string{
	"router_id", "vrrp_version", "vrrp_garp_master_delay", "vrrp_garp_master_repeat",
	"vrrp_garp_master_refresh", "vrrp_garp_master_refresh_repeat", "vrrp_garp_interval",
	"vrrp_skip_check_adv_addr", "lvs_timeouts", "lvs_sync_daemon", "lvs_flush",
	"lvs_flush_on_stop", "lvs_flush_onstop", "vrrp_check_unicast_src",
	"script_user", "enable_script_security",
}

func (m *mapper) globalDefs(n *Node) {
	if !m.block(n, 0, 0) {
		return
	}
	g := &m.glob
	var nst notifyState
	defer m.resolveNotify(&nst)
	for _, c := range n.Block {
		switch c.Key {
		case "router_id":
			if m.leaf(c, 1, 1) {
				m.d.Global.RouterID = c.Args[0]
			}
		case "vrrp_version":
			if m.leaf(c, 1, 1) {
				if v, ok := value(m, c, 0, uintIn(2, 3)); ok {
					g.version = v
				}
			}
		case "vrrp_garp_master_delay", "vrrp_garp_master_repeat", "vrrp_garp_master_refresh",
			"vrrp_garp_master_refresh_repeat", "vrrp_garp_interval":
			m.garp(c, strings.TrimPrefix(c.Key, "vrrp_"), &g.garp)
		case "vrrp_skip_check_adv_addr":
			if v, ok := m.flag(c); ok {
				g.skipCheckAdvAddr = v
			}
		case "vrrp_check_unicast_src":
			if m.leaf(c, 0, 0) {
				g.checkUnicastSrc = true // lbd's default: nothing to write
			}
		case "script_user":
			if w, ok := m.user(c); ok {
				m.d.Global.ScriptUser, m.d.Global.ScriptGroup = w.User, w.Group
			}
		case "enable_script_security":
			if m.leaf(c, 0, 0) {
				m.d.Global.EnableScriptSecurity = true
			}
		case "lvs_timeouts":
			m.lvsTimeouts(c)
		case "lvs_sync_daemon":
			m.lvsSyncDaemon(c)
		case "lvs_flush":
			if m.leaf(c, 0, 0) {
				m.d.Global.PurgeUnmanaged = true
				m.notef(c.Pos, "lvs_flush: keepalived empties the IPVS table once at start; lbd's purge_unmanaged keeps removing services that are not in this file")
			}
		case "lvs_flush_on_stop", "lvs_flush_onstop":
			if m.leaf(c, 0, 1) {
				m.d.Global.FlushOnStop = true
				m.flush = true
				if len(c.Args) == 0 {
					m.notef(c.Pos, "%s: keepalived flushes the whole IPVS table when it stops; lbd's flush_on_stop removes only the services of this file", c.Key)
				}
			}
		default:
			if !m.notifyDef(c, &nst) {
				m.other(c, "global_defs", globalUnsupported, slices.Concat(globalMapped, notifyGlobal))
			}
		}
	}
}

// repeat reads a GARP repeat count; keepalived turns 0 into 1.
func (m *mapper) repeat(n *Node) (int, bool) {
	v, ok := value(m, n, 0, uintIn(0, 255))
	if ok && v == 0 {
		m.notef(n.Pos, "%s 0: keepalived uses 1", n.Key)
		v = 1
	}
	return v, ok
}

// lvsTimeouts reads "lvs_timeouts [tcp SECS] [tcpfin SECS] [udp SECS]".
func (m *mapper) lvsTimeouts(n *Node) {
	if !m.leaf(n, 2, -1) {
		return
	}
	t := &m.d.IPVS.Timeouts
	for i := 0; i < len(n.Args); i++ {
		var dst *time.Duration
		switch n.Args[i] {
		case "tcp":
			dst = &t.TCP
		case "tcpfin":
			dst = &t.TCPFin
		case "udp":
			dst = &t.UDP
		default:
			m.unmappedWord(n, n.Args[i], "unknown lvs_timeouts option")
			continue
		}
		if i+1 >= len(n.Args) {
			m.errorf(n.Pos, "lvs_timeouts %s: missing value", n.Args[i])
			return
		}
		i++
		if v, ok := value(m, n, i, wholeSecondsIn(0, lvsMaxTimeout)); ok {
			*dst = v
		}
	}
}

// lvsSyncDaemon reads "lvs_sync_daemon IFACE [[inst] INSTANCE] [id N]
// [maxlen N] [port N] [ttl N] [group ADDR]" (and the old form
// "lvs_sync_daemon IFACE INSTANCE [SYNC_ID]").
func (m *mapper) lvsSyncDaemon(n *Node) {
	if !m.leaf(n, 1, -1) {
		return
	}
	if m.syncd != nil {
		m.unmapped(n, "a sync daemon is already given at line %d; keepalived ignores this one", m.syncd.node.Pos.Line)
		return
	}
	s := &syncDaemonSpec{node: n, iface: n.Args[0], syncID: -1}
	for i := 1; i < len(n.Args); i++ {
		w := n.Args[i]
		withValue := func() bool {
			if i+1 >= len(n.Args) {
				m.errorf(n.Pos, "lvs_sync_daemon %s: missing value", w)
				return false
			}
			i++
			return true
		}
		switch {
		case w == "inst":
			if withValue() {
				s.instance = n.Args[i]
			}
		case w == "id":
			if withValue() {
				if v, ok := value(m, n, i, uintIn(0, 255)); ok {
					s.syncID = v
				}
			}
		case w == "maxlen" || w == "port" || w == "ttl" || w == "group":
			if withValue() {
				m.unmappedWord(n, w, "lbd starts the sync daemon with the kernel's default %s", w)
			}
		case i == 1:
			s.instance = w
		case i == 2:
			if v, ok := value(m, n, i, uintIn(0, 255)); ok {
				s.syncID = v
			}
		default:
			m.unmappedWord(n, w, "unknown lvs_sync_daemon option")
		}
	}
	m.syncd = s
}

// resolveSyncDaemon turns the sync daemon request into ipvs.sync_daemon once
// the instances are known: role auto follows the instance's state, and the
// sync ID defaults to its virtual_router_id, as in keepalived.
func (m *mapper) resolveSyncDaemon() {
	s := m.syncd
	if s == nil {
		return
	}
	if s.instance == "" {
		m.unmapped(s.node, "no VRRP instance named: lbd needs the instance whose state makes the sync daemon master or backup")
		return
	}
	in := m.d.VRRP.Instance(s.instance)
	if in == nil {
		m.unmapped(s.node, "VRRP instance %q is not imported", s.instance)
		return
	}
	id := s.syncID
	if id < 0 {
		id = in.VRID
	}
	m.d.IPVS.SyncDaemon = &config.SyncDaemon{Interface: s.iface, SyncID: id, Role: config.SyncAuto, Instance: s.instance}
	m.sources.syncd = s.node.Pos
}
