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
)

// Defaults of lbd.yaml (keepalived's where it has one).
const (
	DefaultControlSocket    = "/run/lbd/lbd.sock"
	DefaultMetricsAddress   = "127.0.0.1:9650"
	DefaultStateDir         = "/var/lib/lbd"
	DefaultResyncInterval   = 30 * time.Second
	DefaultDelayLoop        = 60 * time.Second
	DefaultConnectTimeout   = 5 * time.Second
	DefaultRetry            = 1
	DefaultDelayBeforeRetry = 3 * time.Second
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
	if sd := d.IPVS.SyncDaemon; sd != nil && sd.Role == "" {
		sd.Role = SyncAuto
	}

	for i := range d.VRRP.Scripts {
		s := &d.VRRP.Scripts[i]
		p := namedPath("vrrp.scripts", s.Name)
		if !r.has(p + ".interval") {
			s.Interval = time.Second
		}
		if !r.has(p + ".timeout") {
			s.Timeout = s.Interval
		}
		if !r.has(p + ".rise") {
			s.Rise = 1
		}
		if !r.has(p + ".fall") {
			s.Fall = 1
		}
	}
	for i := range d.VRRP.Instances {
		in := &d.VRRP.Instances[i]
		p := namedPath("vrrp.instances", in.Name)
		if in.State == "" {
			in.State = Backup
		}
		if !r.has(p + ".version") {
			in.Version = 2
		}
		if !r.has(p + ".priority") {
			in.Priority = 100
		}
		if !r.has(p + ".advert_interval") {
			in.AdvertInterval = time.Second
		}
		for j := range in.VirtualIPAddresses {
			if v := &in.VirtualIPAddresses[j]; v.Device == "" {
				v.Device = in.Interface
			}
		}
		for j := range in.TrackScripts {
			ts := &in.TrackScripts[j]
			if r.has(itemPath(p+".track_scripts", j) + ".weight") {
				continue
			}
			if s := d.VRRP.Script(ts.Name); s != nil {
				ts.Weight = s.Weight
			}
		}
		if !r.has(p + ".garp.master_delay") {
			in.GARP.MasterDelay = 5 * time.Second
		}
		if !r.has(p + ".garp.master_repeat") {
			in.GARP.MasterRepeat = 5
		}
		if !r.has(p + ".garp.master_refresh_repeat") {
			in.GARP.MasterRefreshRepeat = 1
		}
	}

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
			vs.PersistenceNetmask = Netmask(familyBits(vs.Family))
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
			if !r.has(rp + ".inhibit_on_failure") {
				rs.InhibitOnFailure = vs.InhibitOnFailure
			}
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

func familyBits(f Family) int {
	if f == IPv6 {
		return 128
	}
	return 32
}

func (r *report) validateDirector(d *Director) {
	r.validateGlobal(&d.Global)
	r.validateIPVS(d)
	r.validateVRRP(d)
	r.validateVirtualServers(d)
}

func (r *report) validateGlobal(g *Global) {
	const p = "global"
	r.absPath(p+".control_socket", g.ControlSocket)
	r.absPath(p+".state_dir", g.StateDir)
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

func (r *report) validateVRRP(d *Director) {
	type routerKey struct {
		iface string
		vrid  int
		fam   Family
	}
	routers := map[routerKey]string{} // -> path of the first
	vips := map[netip.Addr]string{}   // -> path of the first
	for i := range d.VRRP.Instances {
		in := &d.VRRP.Instances[i]
		p := namedPath("vrrp.instances", in.Name)
		r.validateInstance(d, in, p)

		fam := in.Family()
		for j, v := range in.VirtualIPAddresses {
			vp := itemPath(p+".virtual_ipaddresses", j)
			if !v.Address.IsValid() {
				continue
			}
			a := v.Address.Addr()
			if first, dup := vips[a]; dup {
				r.errf(vp, "duplicate virtual IP address %s (first at line %d)", a, r.line(first))
			} else {
				vips[a] = vp
			}
		}
		if in.Interface == "" || !r.ok(p+".virtual_router_id") || in.VirtualRouterID == 0 {
			continue
		}
		k := routerKey{in.Interface, in.VirtualRouterID, fam}
		if first, dup := routers[k]; dup {
			r.errf(p+".virtual_router_id", "duplicate virtual router %s VRID %d %s (first at line %d)", k.iface, k.vrid, k.fam, r.line(first))
		} else {
			routers[k] = p
		}
	}

	for i := range d.VRRP.Scripts {
		s := &d.VRRP.Scripts[i]
		p := namedPath("vrrp.scripts", s.Name)
		if !r.has(p + ".command") {
			r.missing(p, "command")
		}
		r.positive(p+".interval", s.Interval)
		if r.has(p + ".timeout") { // else it is the interval
			r.positive(p+".timeout", s.Timeout)
		}
		r.intRange(p+".rise", s.Rise, 1, math.MaxInt32)
		r.intRange(p+".fall", s.Fall, 1, math.MaxInt32)
		r.intRange(p+".weight", s.Weight, -254, 254)
	}

	member := map[string]string{} // instance -> group
	for i := range d.VRRP.SyncGroups {
		g := &d.VRRP.SyncGroups[i]
		p := namedPath("vrrp.sync_groups", g.Name)
		if len(g.Instances) == 0 {
			if r.has(p + ".instances") {
				r.errf(p+".instances", "at least one instance required")
			} else {
				r.missing(p, "instances")
			}
		}
		for j, name := range g.Instances {
			ip := itemPath(p+".instances", j)
			switch other, in := member[name]; {
			case d.VRRP.Instance(name) == nil:
				r.errf(ip, "unknown VRRP instance %q", name)
			case in && other == g.Name:
				r.errf(ip, "instance %q listed twice", name)
			case in:
				r.errf(ip, "instance %q is already in sync group %q", name, other)
			default:
				member[name] = g.Name
			}
		}
	}
}

func (r *report) validateInstance(d *Director, in *VRRPInstance, p string) {
	if !r.has(p + ".interface") {
		r.missing(p, "interface")
	} else if in.Interface == "" && r.ok(p+".interface") {
		r.errf(p+".interface", "must not be empty")
	}
	if !r.has(p + ".virtual_router_id") {
		r.missing(p, "virtual_router_id")
	} else {
		r.intRange(p+".virtual_router_id", in.VirtualRouterID, 1, 255)
	}
	versionOK := in.Version == 2 || in.Version == 3
	if !versionOK {
		r.errf(p+".version", "must be 2 or 3, got %d", in.Version)
	}
	r.intRange(p+".priority", in.Priority, 1, 255)
	ai := in.AdvertInterval
	switch in.Version {
	case 2:
		if ai < time.Second || ai > 255*time.Second || ai%time.Second != 0 {
			r.errf(p+".advert_interval", "with VRRP version 2 must be whole seconds from 1s to 255s, got %s", ai)
		}
	case 3:
		if ai < 10*time.Millisecond || ai > 40950*time.Millisecond || ai%(10*time.Millisecond) != 0 {
			r.errf(p+".advert_interval", "with VRRP version 3 must be a multiple of 10ms from 10ms to 40.95s, got %s", ai)
		}
	}
	if in.NoPreempt && in.State == Master && r.ok(p+".state") {
		r.errf(p+".nopreempt", "nopreempt needs state BACKUP (an instance starting as MASTER takes over anyway)")
	}
	if in.PreemptDelay > 1000*time.Second {
		r.errf(p+".preempt_delay", "must be at most 1000s, got %s", in.PreemptDelay)
	}
	if a := in.Authentication; a != nil {
		ap := p + ".authentication"
		if in.Version == 3 {
			r.errf(ap, "authentication is not supported with VRRP version 3")
		}
		if !r.has(ap + ".type") {
			r.missing(ap, "type")
		}
		switch {
		case !r.has(ap + ".password"):
			r.missing(ap, "password")
		case a.Password == "":
			r.errf(ap+".password", "must not be empty")
		case len(a.Password) > 8:
			r.errf(ap+".password", "must be at most 8 characters, got %d", len(a.Password))
		}
	}

	fam := in.Family()
	// Address family: every VIP, the source and the peers share one.
	vp := p + ".virtual_ipaddresses"
	if !r.has(vp) {
		r.missing(p, "virtual_ipaddresses")
	} else if len(in.VirtualIPAddresses) == 0 && r.ok(vp) {
		r.errf(vp, "at least one address required")
	}
	for j, v := range in.VirtualIPAddresses {
		ip := itemPath(vp, j)
		if !r.has(ip + ".address") {
			r.missing(ip, "address")
			continue
		}
		if !v.Address.IsValid() {
			continue
		}
		vf := FamilyOf(v.Address.Addr())
		if !usableVIP(v.Address.Addr()) {
			r.errf(ip+".address", "%s cannot be a virtual address", v.Address.Addr())
		}
		if vf != fam {
			r.errf(ip+".address", "%s address in an instance whose first address is %s", vf, fam)
		}
		if v.Label != "" {
			switch {
			case vf != IPv4:
				r.errf(ip+".label", "labels are IPv4 only")
			case len(v.Label) > 15:
				r.errf(ip+".label", "label %q is longer than 15 bytes", v.Label)
			case !strings.HasPrefix(v.Label, v.Device+":") || len(v.Label) == len(v.Device)+1:
				r.errf(ip+".label", "label %q must be the device name %q, a colon and a suffix (e.g. %s:0)", v.Label, v.Device, v.Device)
			}
		}
		if v.Device == "" {
			r.errf(ip+".device", "must not be empty")
		}
	}
	if fam == IPv6 && in.Version == 2 && len(in.VirtualIPAddresses) > 0 {
		r.errf(p+".version", "IPv6 virtual addresses need VRRP version 3")
	}
	if in.SourceAddress.IsValid() && FamilyOf(in.SourceAddress) != fam {
		r.errf(p+".source_address", "%s source address in an %s instance", FamilyOf(in.SourceAddress), fam)
	}
	seenPeers := map[netip.Addr]bool{}
	for j, a := range in.UnicastPeers {
		pp := itemPath(p+".unicast_peers", j)
		switch {
		case !a.IsValid():
		case FamilyOf(a) != fam:
			r.errf(pp, "%s peer in an %s instance", FamilyOf(a), fam)
		case seenPeers[a]:
			r.errf(pp, "duplicate peer %s", a)
		case a == in.SourceAddress:
			r.errf(pp, "peer %s is this instance's own source_address", a)
		}
		seenPeers[a] = true
	}

	for j, t := range in.TrackInterfaces {
		tp := itemPath(p+".track_interfaces", j)
		if t.Name == "" && r.ok(tp+".name") {
			r.missing(tp, "name")
		}
		r.intRange(tp+".weight", t.Weight, -254, 254)
	}
	for j, t := range in.TrackScripts {
		tp := itemPath(p+".track_scripts", j)
		switch {
		case !r.has(tp + ".name"):
			r.missing(tp, "name")
		case d.VRRP.Script(t.Name) == nil:
			r.errf(tp+".name", "unknown script %q (define it under vrrp.scripts)", t.Name)
		}
		if r.has(tp + ".weight") { // else it is the script's, checked there
			r.intRange(tp+".weight", t.Weight, -254, 254)
		}
	}
	g := in.GARP
	r.intRange(p+".garp.master_repeat", g.MasterRepeat, 1, 255)
	r.intRange(p+".garp.master_refresh_repeat", g.MasterRefreshRepeat, 1, 255)
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
	r.intRange(p+".persistence_netmask", int(vs.PersistenceNetmask), 1, familyBits(vs.Family))
	if vs.OnePacket && vs.Protocol != UDP && r.ok(p+".protocol") {
		r.errf(p+".one_packet", "one_packet needs protocol UDP")
	}
	if vs.Quorum < 1 {
		r.errf(p+".quorum", "must be at least 1, got %d", vs.Quorum)
	}
	if vs.Hysteresis < 0 {
		r.errf(p+".hysteresis", "must not be negative, got %d", vs.Hysteresis)
	}
	if ss := vs.SorryServer; ss != nil {
		sp := p + ".sorry_server"
		if !r.has(sp + ".address") {
			r.missing(sp, "address")
		} else if ss.Address.IsValid() && FamilyOf(ss.Address) != vs.Family {
			r.errf(sp+".address", "%s sorry server in an %s service", FamilyOf(ss.Address), vs.Family)
		}
		r.samePort(sp, vs, ss.Forwarding, ss.Port)
	}
	r.validateTiming(p, &vs.Timing)

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

// samePort enforces that only NAT may change the port (DR and TUN keep the
// packet's destination port); fwmark services have no port to compare.
func (r *report) samePort(p string, vs *VirtualServer, fwd Forwarding, port uint16) {
	if vs.FWMark == 0 && fwd != NAT && port != vs.Port && r.has(p+".port") && r.ok(p+".forwarding") {
		r.errf(p+".port", "%s port %d differs from the service port %d (only NAT can change the port)", fwd, port, vs.Port)
	}
}

func (r *report) validateRealServer(vs *VirtualServer, rs *RealServer, p string) {
	if !r.has(p + ".address") {
		r.missing(p, "address")
	} else if rs.Address.IsValid() && FamilyOf(rs.Address) != vs.Family {
		r.errf(p+".address", "%s real server in an %s service", FamilyOf(rs.Address), vs.Family)
	}
	r.samePort(p, vs, rs.Forwarding, rs.Port)
	r.intRange(p+".weight", rs.Weight, 0, 65535)
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
		return []string{"type", "command", "dynamic"}
	case CheckDNS:
		return append(common, "query_type", "query_name")
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

// Script returns the script named name, or nil.
func (v *VRRP) Script(name string) *VRRPScript {
	for i := range v.Scripts {
		if v.Scripts[i].Name == name {
			return &v.Scripts[i]
		}
	}
	return nil
}

// Instance returns the instance named name, or nil.
func (v *VRRP) Instance(name string) *VRRPInstance {
	for i := range v.Instances {
		if v.Instances[i].Name == name {
			return &v.Instances[i]
		}
	}
	return nil
}

// SyncGroupOf returns the sync group containing the instance, or nil.
func (v *VRRP) SyncGroupOf(instance string) *SyncGroup {
	for i := range v.SyncGroups {
		if slices.Contains(v.SyncGroups[i].Instances, instance) {
			return &v.SyncGroups[i]
		}
	}
	return nil
}

// Family is the address family of the instance: that of its first virtual
// address (all must share it), IPv4 when it has none.
func (in *VRRPInstance) Family() Family {
	for _, v := range in.VirtualIPAddresses {
		if v.Address.IsValid() {
			return FamilyOf(v.Address.Addr())
		}
	}
	return IPv4
}
