package config

import (
	"math"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lvsd/lb/director/table"
	"github.com/lvsd/lb/healthcheck"
	"github.com/lvsd/lb/internal/runas"
)

// Defaults of lbd.yaml (keepalived's where it has one).
const (
	DefaultControlSocket  = "/run/lbd/lbd.sock"
	DefaultMetricsAddress = "127.0.0.1:9650"
	DefaultStateDir       = "/var/lib/lbd"
	DefaultResyncInterval = 30 * time.Second
)

// directorDefaults fills in every default that does not depend on
// inheritance at check time. Presence (r.has) separates "absent" from an
// explicit zero.
func (r *report) directorDefaults(d *Director) {
	g := &d.Global
	if g.RouterID == "" {
		if h, err := os.Hostname(); err == nil && h != "" {
			g.RouterID = h
		} else {
			g.RouterID = "lbd"
		}
	}
	if g.ControlSocket == "" {
		g.ControlSocket = DefaultControlSocket
	}
	if !r.has("global.metrics_address") {
		g.MetricsAddress = DefaultMetricsAddress
	}
	if g.LogFormat == "" {
		g.LogFormat = "text"
	}
	if g.LogLevel == "" {
		g.LogLevel = "info"
	}
	if !r.has("global.resync_interval") {
		g.ResyncInterval = DefaultResyncInterval
	}
	if g.StateDir == "" {
		g.StateDir = DefaultStateDir
	}
	r.controlDefaults(g)
	if sd := d.IPVS.SyncDaemon; sd != nil && sd.Role == "" {
		sd.Role = SyncAuto
	}

	r.notifyDefaults(&d.Notify)
	d.VRRP.SetDefaults(r.given("vrrp"))

	for i := range d.VirtualServers {
		vs := &d.VirtualServers[i]
		p := itemPath("virtual_servers", i)
		if vs.Address.IsValid() && !r.has(p+".family") {
			vs.Family = FamilyOf(vs.Address)
		}
		if vs.Family == "" {
			vs.Family = IPv4
		}
		if vs.FWMark == 0 && vs.Protocol == "" {
			vs.Protocol = TCP
		}
		if vs.Scheduler == "" {
			vs.Scheduler = table.DefaultScheduler
		}
		if !r.has(p + ".persistence_netmask") {
			vs.PersistenceNetmask = Netmask(vs.Family.Bits())
		}
		if vs.Forwarding == "" {
			vs.Forwarding = DR
		}
		if !r.has(p + ".quorum") {
			vs.Quorum = 1
		}
		if ss := vs.SorryServer; ss != nil {
			if !r.has(p + ".sorry_server.port") {
				ss.Port = vs.Port
			}
			if ss.Forwarding == "" {
				ss.Forwarding = vs.Forwarding
			}
		}
		for j := range vs.RealServers {
			rs := &vs.RealServers[j]
			rp := itemPath(p+".real_servers", j)
			if !r.has(rp + ".port") {
				rs.Port = vs.Port
			}
			if !r.has(rp + ".weight") {
				rs.Weight = 1
			}
			if rs.Forwarding == "" {
				rs.Forwarding = vs.Forwarding
			}
			r.inherit(rs, vs, rp)
			if rs.Tunnel == nil && rs.Forwarding == TUN {
				rs.Tunnel = &Tunnel{}
			}
			if t := rs.Tunnel; t != nil {
				if t.Type == "" {
					t.Type = TunnelIPIP
				}
				if t.Checksum == "" {
					t.Checksum = ChecksumNone
				}
			}
			for k := range rs.Checks {
				r.checkDefaults(&rs.Checks[k], itemPath(rp+".checks", k))
			}
		}
		r.discoveryDefaults(vs, p)
	}
}

func (r *report) checkDefaults(c *Check, p string) {
	switch c.Type {
	case CheckHTTP, CheckHTTPS:
		for i := range c.URLs {
			u := &c.URLs[i]
			u.Digest = strings.ToLower(u.Digest)
			if len(u.StatusCodes) == 0 {
				u.StatusCodes = []StatusRange{{Lo: 200, Hi: 299}}
			}
		}
		if c.Type == CheckHTTPS && c.SNI == "" {
			c.SNI = c.VirtualHost
		}
	case CheckDNS:
		if c.QueryType == "" {
			c.QueryType = "SOA"
		}
		if !r.has(p + ".query_name") {
			c.QueryName = "."
		}
	}
}

func (r *report) validateDirector(d *Director) {
	r.validateGlobal(&d.Global)
	r.validateIPVS(d)
	r.validateVRRP(d)
	r.validateVirtualServers(d)
	r.validateNotify(&d.Notify)
	r.validateBGP(d)
}

func (r *report) validateGlobal(g *Global) {
	const p = "global"
	r.absPath(p+".control_socket", g.ControlSocket)
	r.absPath(p+".state_dir", g.StateDir)
	if g.StatusPageTokenFile != "" {
		r.absPath(p+".status_page_token_file", g.StatusPageTokenFile)
	}
	if g.MetricsAddress != "" {
		_, port, err := net.SplitHostPort(g.MetricsAddress)
		n, perr := strconv.Atoi(port)
		if err != nil || perr != nil || n < 1 || n > 65535 {
			r.errf(p+".metrics_address", "invalid listen address %q (want host:port, or \"\" to disable)", g.MetricsAddress)
		}
	}
	if g.ResyncInterval < time.Second {
		r.errf(p+".resync_interval", "must be at least 1s, got %s", g.ResyncInterval)
	}
	r.scriptUser(p+".script_user", p+".script_group", g.ScriptUser, g.ScriptGroup)
	r.validateControl(g)
}

// scriptUser checks that a script's user and group exist (keepalived
// refuses the script otherwise); a group needs a user.
func (r *report) scriptUser(userPath, groupPath, user, group string) {
	switch {
	case user == "" && group != "":
		r.errf(groupPath, "needs a user (%s)", userPath[strings.LastIndex(userPath, ".")+1:])
	case user != "":
		if _, err := runas.Lookup(runas.Who{User: user, Group: group}); err != nil {
			at := userPath
			if strings.HasPrefix(err.Error(), "script group") {
				at = groupPath
			}
			r.errf(at, "%v", err)
		}
	}
}

func (r *report) absPath(path, v string) {
	if !filepath.IsAbs(v) {
		r.errf(path, "must be an absolute path, got %q", v)
	}
}

func (r *report) validateIPVS(d *Director) {
	t := d.IPVS.Timeouts
	r.wholeSeconds("ipvs.timeouts.tcp", t.TCP)
	r.wholeSeconds("ipvs.timeouts.tcpfin", t.TCPFin)
	r.wholeSeconds("ipvs.timeouts.udp", t.UDP)
	if m := d.IPVS.Sysctls.ConnReuseMode; m != nil {
		r.intRange("ipvs.sysctls.conn_reuse_mode", *m, 0, 3)
	}
	sd := d.IPVS.SyncDaemon
	if sd == nil {
		return
	}
	const p = "ipvs.sync_daemon"
	if !r.has(p + ".interface") {
		r.missing(p, "interface")
	}
	r.intRange(p+".sync_id", sd.SyncID, 0, 255)
	switch {
	case sd.Instance != "" && d.VRRP.Instance(sd.Instance) == nil:
		r.errf(p+".instance", "unknown VRRP instance %q", sd.Instance)
	case sd.Instance == "" && sd.Role == SyncAuto && r.ok(p+".role"):
		r.errf(p, "role auto needs an instance (the VRRP instance whose state drives the sync daemon)")
	}
}

// wholeSeconds checks a duration the kernel takes in seconds.
func (r *report) wholeSeconds(path string, d time.Duration) {
	if d%time.Second != 0 {
		r.errf(path, "must be whole seconds, got %s", d)
	} else if d/time.Second > math.MaxInt32 {
		r.errf(path, "too long: %s", d)
	}
}

func (r *report) intRange(path string, v, lo, hi int) {
	if v < lo || v > hi {
		r.errf(path, "must be between %d and %d, got %d", lo, hi, v)
	}
}

// validateVRRP reports vrrp's verdict on the vrrp section at the lines
// the file wrote.
func (r *report) validateVRRP(d *Director) {
	r.fieldErrors("vrrp", d.VRRP.Validate(r.given("vrrp")))
}

func (r *report) positive(path string, d time.Duration) {
	if d <= 0 {
		r.errf(path, "must be greater than 0")
	}
}

func (r *report) validateVirtualServers(d *Director) {
	services := map[string]string{} // key -> path of the first
	for i := range d.VirtualServers {
		vs := &d.VirtualServers[i]
		p := itemPath("virtual_servers", i)
		if r.validateService(vs, p) {
			k := vs.Key()
			if first, dup := services[k]; dup {
				r.errf(p, "duplicate service %s (first at line %d)", k, r.line(first))
			} else {
				services[k] = p
			}
		}
	}
}

// validateService checks one virtual server and reports whether its key is
// sound enough to look for duplicates.
func (r *report) validateService(vs *VirtualServer, p string) bool {
	keyOK := true
	persistent := vs.PersistenceTimeout > 0
	if vs.FWMark > 0 {
		for _, k := range []string{"address", "port", "protocol"} {
			if r.has(p + "." + k) {
				r.errf(p+"."+k, "not allowed in a fwmark service")
			}
		}
		keyOK = r.ok(p + ".family")
	} else {
		switch {
		case !r.ok(p + ".fwmark"):
			keyOK = false
		case !r.has(p + ".address"):
			r.errf(p, "missing required field \"address\" (or fwmark)")
			keyOK = false
		case !vs.Address.IsValid():
			keyOK = false
		case r.has(p+".family") && r.ok(p+".family") && vs.Family != FamilyOf(vs.Address):
			r.errf(p+".family", "family %s does not match address %s", vs.Family, vs.Address)
		}
		if why := serviceAddressProblem(vs.Address); vs.Address.IsValid() && why != "" {
			r.errf(p+".address", "a service cannot be at %s: %s", vs.Address, why)
		}
		switch {
		case !r.ok(p+".port") || !r.ok(p+".protocol"):
			keyOK = false
		case vs.Port == 0 && !persistent && r.ok(p+".persistence_timeout"):
			if r.has(p + ".port") {
				r.errf(p+".port", "port 0 (all ports) needs persistence_timeout")
			} else {
				r.missing(p, "port")
			}
		}
	}

	switch vs.Scheduler {
	case "sh", "mh":
		for j, f := range vs.SchedulerFlags {
			if strings.HasPrefix(string(f), "sh-") && vs.Scheduler != "sh" || strings.HasPrefix(string(f), "mh-") && vs.Scheduler != "mh" {
				r.errf(itemPath(p+".scheduler_flags", j), "flag %s needs scheduler %s", f, string(f)[:2])
			}
		}
	default:
		if len(vs.SchedulerFlags) > 0 && r.ok(p+".scheduler") {
			r.errf(p+".scheduler_flags", "scheduler %s has no flags (only sh and mh do)", vs.Scheduler)
		}
	}
	if persistent {
		if vs.PersistenceTimeout < time.Second {
			r.errf(p+".persistence_timeout", "must be 0 (off) or at least 1s, got %s", vs.PersistenceTimeout)
		} else {
			r.wholeSeconds(p+".persistence_timeout", vs.PersistenceTimeout)
		}
	} else if r.has(p+".persistence_netmask") && r.ok(p+".persistence_timeout") {
		r.errf(p+".persistence_netmask", "persistence_netmask needs persistence_timeout")
	}
	r.intRange(p+".persistence_netmask", int(vs.PersistenceNetmask), 1, vs.Family.Bits())
	if vs.OnePacket && vs.Protocol != UDP && r.ok(p+".protocol") {
		r.errf(p+".one_packet", "one_packet needs protocol UDP")
	}
	if vs.Quorum < 1 {
		r.errf(p+".quorum", "must be at least 1, got %d", vs.Quorum)
	}
	if vs.Hysteresis < 0 {
		r.errf(p+".hysteresis", "must not be negative, got %d", vs.Hysteresis)
	}
	r.validateSorryServer(vs, p)
	r.validateSlowStart(p, vs.SlowStart)
	r.validateTiming(p, &vs.Timing)
	r.validateDiscovery(vs, p)

	type rsKey struct {
		a    netip.Addr
		port uint16
	}
	seen := map[rsKey]string{}
	for j := range vs.RealServers {
		rs := &vs.RealServers[j]
		rp := itemPath(p+".real_servers", j)
		r.validateRealServer(vs, rs, rp)
		if rs.Address.IsValid() && r.ok(rp+".port") {
			k := rsKey{rs.Address, rs.Port}
			if first, dup := seen[k]; dup {
				r.errf(rp, "duplicate real server %s (first at line %d)", netip.AddrPortFrom(k.a, k.port), r.line(first))
			} else {
				seen[k] = rp
			}
		}
	}
	return keyOK
}

// validateSorryServer checks the sorry server of the service at p.
func (r *report) validateSorryServer(vs *VirtualServer, p string) {
	ss := vs.SorryServer
	if ss == nil {
		return
	}
	sp := p + ".sorry_server"
	switch {
	case !r.has(sp + ".address"):
		r.missing(sp, "address")
	case !ss.Address.IsValid():
	case FamilyOf(ss.Address) != vs.Family:
		r.errf(sp+".address", "%s sorry server in an %s service", FamilyOf(ss.Address), vs.Family)
	case realServerAddressProblem(ss.Address) != "" && !ss.Address.IsLoopback():
		// loopback: keepalived's "sorry_server 127.0.0.1 80", served by this director
		r.errf(sp+".address", "a sorry server cannot be at %s: %s", ss.Address, realServerAddressProblem(ss.Address))
	}
	r.samePort(sp, vs, ss.Forwarding, ss.Port)
}

// samePort enforces that only NAT may change the port (DR and TUN keep the
// packet's destination port); fwmark services have no port to compare.
func (r *report) samePort(p string, vs *VirtualServer, fwd Forwarding, port uint16) {
	if vs.FWMark == 0 && fwd != NAT && port != vs.Port && r.has(p+".port") && r.ok(p+".forwarding") {
		r.errf(p+".port", "%s port %d differs from the service port %d (only NAT can change the port)", fwd, port, vs.Port)
	}
}

func (r *report) validateRealServer(vs *VirtualServer, rs *RealServer, p string) {
	switch {
	case !r.has(p + ".address"):
		r.missing(p, "address")
	case !rs.Address.IsValid():
	case FamilyOf(rs.Address) != vs.Family:
		r.errf(p+".address", "%s real server in an %s service", FamilyOf(rs.Address), vs.Family)
	case realServerAddressProblem(rs.Address) != "":
		r.errf(p+".address", "a real server cannot be at %s: %s", rs.Address, realServerAddressProblem(rs.Address))
	case rs.Address == vs.Address:
		r.errf(p+".address", "the real server %s is the service's own address (the VIP): traffic would loop back to the director", rs.Address)
	}
	r.samePort(p, vs, rs.Forwarding, rs.Port)
	r.intRange(p+".weight", rs.Weight, 0, 65535)
	r.validateSlowStart(p, rs.SlowStart)
	if rs.UpperThreshold < 0 {
		r.errf(p+".upper_threshold", "must not be negative, got %d", rs.UpperThreshold)
	}
	if rs.LowerThreshold < 0 {
		r.errf(p+".lower_threshold", "must not be negative, got %d", rs.LowerThreshold)
	} else if rs.UpperThreshold > 0 && rs.LowerThreshold > rs.UpperThreshold {
		r.errf(p+".lower_threshold", "must not exceed upper_threshold %d, got %d", rs.UpperThreshold, rs.LowerThreshold)
	}
	if t := rs.Tunnel; t != nil && r.ok(p+".forwarding") {
		tp := p + ".tunnel"
		switch {
		case rs.Forwarding != TUN:
			if r.has(tp) {
				r.errf(tp, "tunnel needs forwarding TUN, got %s", rs.Forwarding)
			}
		case t.Type == TunnelGUE && t.Port == 0:
			r.errf(tp, "a gue tunnel needs a port")
		case t.Type != TunnelGUE && r.has(tp+".port"):
			r.errf(tp+".port", "only a gue tunnel has a port")
		}
		switch {
		case t.Type == TunnelIPIP && t.Checksum != ChecksumNone:
			r.errf(tp+".checksum", "an ipip tunnel has no checksum option")
		case t.Type == TunnelGRE && t.Checksum == ChecksumRemCsum:
			r.errf(tp+".checksum", "remcsum needs a gue tunnel")
		}
	}
	r.validateTiming(p, &rs.Timing)
	for k := range rs.Checks {
		r.validateCheck(rs, &rs.Checks[k], itemPath(p+".checks", k))
	}
}

func (r *report) validateTiming(p string, t *Timing) {
	if t.DelayLoop != nil {
		r.positive(p+".delay_loop", *t.DelayLoop)
	}
	if t.ConnectTimeout != nil {
		r.positive(p+".connect_timeout", *t.ConnectTimeout)
	}
	for _, f := range []struct {
		key string
		v   *int
	}{{"retry", t.Retry}, {"rise", t.Rise}, {"fall", t.Fall}} {
		if f.v != nil && *f.v < 0 {
			r.errf(p+"."+f.key, "must not be negative, got %d", *f.v)
		}
	}
}

// checkKeys says which keys a check of type t may have, besides the timing
// keys every check may override.
func checkKeys(t CheckType) []string {
	common := []string{"type", "connect_ip", "connect_port", "bindto"}
	switch t {
	case CheckHTTP:
		return append(common, "urls", "virtualhost")
	case CheckHTTPS:
		return append(common, "urls", "virtualhost", "tls_verify", "sni")
	case CheckTCP:
		return common
	case CheckScript:
		return []string{"type", "command", "dynamic", "user", "group"}
	case CheckDNS:
		return append(common, "query_type", "query_name")
	case CheckUDP:
		return append(common, "payload", "require_reply", "reply", "min_reply_length", "max_reply_length")
	case CheckPing:
		return []string{"type", "connect_ip", "bindto"}
	case CheckSMTP:
		return append(common, "helo_name")
	}
	return nil
}

func (r *report) validateCheck(rs *RealServer, c *Check, p string) {
	if !r.has(p + ".type") {
		r.missing(p, "type")
		return
	}
	if c.Type == "" {
		return // bad type, already reported
	}
	allowed := checkKeys(c.Type)
	for k := range r.fieldsOf(reflect.TypeFor[Timing]()) {
		allowed = append(allowed, k)
	}
	keys := make([]string, 0, 16)
	for k := range r.fieldsOf(reflect.TypeFor[Check]()) {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if r.has(p+"."+k) && !slices.Contains(allowed, k) {
			r.errf(p+"."+k, "not valid for a %s check", c.Type)
		}
	}
	r.validateTiming(p, &c.Timing)

	switch c.Type {
	case CheckScript:
		if !r.has(p + ".command") {
			r.missing(p, "command")
		}
		r.scriptUser(p+".user", p+".group", c.User, c.Group)
		return
	case CheckHTTP, CheckHTTPS:
		if !r.has(p + ".urls") {
			r.missing(p, "urls")
		} else if len(c.URLs) == 0 && r.ok(p+".urls") {
			r.errf(p+".urls", "at least one URL required")
		}
		for i, u := range c.URLs {
			up := itemPath(p+".urls", i)
			switch {
			case !r.has(up + ".path"):
				r.missing(up, "path")
			case !strings.HasPrefix(u.Path, "/"):
				r.errf(up+".path", "must start with \"/\", got %q", u.Path)
			}
			if u.Digest != "" && !isMD5Hex(u.Digest) {
				r.errf(up+".digest", "digest %q is not 32 hexadecimal digits (an MD5 sum)", u.Digest)
			}
		}
	case CheckDNS:
		if r.has(p+".query_name") && c.QueryName == "" {
			r.errf(p+".query_name", "must not be empty")
		}
	case CheckUDP:
		r.validateUDPCheck(c, p)
	case CheckSMTP:
		if r.has(p+".helo_name") && (c.HeloName == "" || strings.ContainsAny(c.HeloName, " \t\r\n")) {
			r.errf(p+".helo_name", "must be one word, got %q", c.HeloName)
		}
	case CheckPing:
		return // no port
	}
	if c.ConnectPort == 0 && rs.Port == 0 && r.ok(p+".connect_port") {
		r.errf(p, "missing required field \"connect_port\" (the real server has no port)")
	}
}

func isMD5Hex(s string) bool {
	if len(s) != 32 {
		return false
	}
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
			return false
		}
	}
	return true
}

// limitedBroadcast is 255.255.255.255.
var limitedBroadcast = netip.AddrFrom4([4]byte{255, 255, 255, 255})

// serviceAddressProblem says why a service (VIP) cannot be at a, or "":
// no packet is ever addressed to an unspecified, multicast or broadcast
// destination for IPVS to balance (224.0.0.18 is VRRP's own group).
func serviceAddressProblem(a netip.Addr) string {
	switch {
	case a.IsUnspecified():
		return "the unspecified address"
	case a.IsMulticast():
		return "a multicast address"
	case a == limitedBroadcast:
		return "the broadcast address"
	}
	return ""
}

// realServerAddressProblem says why a real server cannot be at a, or "".
// The kernel refuses (EINVAL) a destination that is not unicast: 0.0.0.0
// and 255.255.255.255 (its "broadcast"), multicast, IPv6 unspecified and
// link-local (director/kernel/fake, Conform). Refused here too: the rest
// of 0.0.0.0/8 ("this network", RFC 6890: no destination), which the
// kernel accepts since Linux 5.3, and loopback: IPVS would deliver to this
// director, not to a real server.
func realServerAddressProblem(a netip.Addr) string {
	switch {
	case a.Is4() && a.As4()[0] == 0:
		return "in 0.0.0.0/8 (\"this network\")"
	case a.IsUnspecified():
		return "the unspecified address"
	case a.IsMulticast():
		return "a multicast address"
	case a == limitedBroadcast:
		return "the broadcast address"
	case a.IsLoopback():
		return "a loopback address (this director, not a real server)"
	case a.Is6() && a.IsLinkLocalUnicast():
		return "an IPv6 link-local address (the kernel refuses it as a destination)"
	}
	return ""
}

// validateUDPCheck checks a udp check's hex strings and reply bounds.
func (r *report) validateUDPCheck(c *Check, p string) {
	for _, f := range []struct {
		key, v    string
		wildcards bool
	}{{"payload", c.Payload, false}, {"reply", c.Reply, true}} {
		if !r.has(p + "." + f.key) {
			continue
		}
		if _, _, err := healthcheck.ParseHex(f.v, f.wildcards); err != nil {
			r.errf(p+"."+f.key, "%v", err)
		}
	}
	for _, k := range []string{"reply", "min_reply_length", "max_reply_length"} {
		if r.has(p+"."+k) && !c.RequireReply {
			r.errf(p+"."+k, "needs require_reply: true")
		}
	}
	lo, hi := 0, 255
	if c.MinReplyLength != nil {
		lo = *c.MinReplyLength
	}
	if c.MaxReplyLength != nil {
		hi = *c.MaxReplyLength
	}
	switch {
	case lo < 0 || lo > 65535:
		r.errf(p+".min_reply_length", "must be within 0-65535, got %d", lo)
	case hi < 1 || hi > 65535:
		r.errf(p+".max_reply_length", "must be within 1-65535, got %d", hi)
	case lo > hi:
		r.errf(p+".min_reply_length", "%d is more than max_reply_length %d", lo, hi)
	}
}

// RealServerAddressProblem says why lbd check refuses a real server at a,
// or "" (for importers that must not write what lbd refuses).
func RealServerAddressProblem(a netip.Addr) string { return realServerAddressProblem(a) }

// ServiceAddressProblem says why lbd check refuses a service at a, or "".
func ServiceAddressProblem(a netip.Addr) string { return serviceAddressProblem(a) }
