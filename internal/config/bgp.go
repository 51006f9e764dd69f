package config

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// BGP defaults (issue 16).
const (
	DefaultBGPPeerPort    = 179
	DefaultBGPHoldTime    = 90 * time.Second
	DefaultBGPDrainPeriod = 5 * time.Second
	DefaultBGPVIPDevice   = "lo"
	// MinBGPHoldTime is RFC 4271's least non-zero hold time.
	MinBGPHoldTime = 3 * time.Second
	// BFD on a peer (bfd:): the intervals and multiplier bird2 and the
	// anchor of issue 16 use, detecting a dead peer in 300 ms.
	DefaultBFDInterval   = 100 * time.Millisecond
	DefaultBFDMultiplier = 3
	MinBFDInterval       = 10 * time.Millisecond
	MaxBFDInterval       = 60 * time.Second
)

// BGP announces the virtual servers' addresses to upstream routers, so
// that several active directors share them by ECMP (issue 16). nil = no
// BGP: the VIPs move with VRRP as before.
type BGP struct {
	ASN uint32 `yaml:"asn"` // the local AS; required
	// RouterID is the BGP identifier, an IPv4 address; "" = the first
	// global IPv4 address of the host, resolved at start.
	RouterID netip.Addr `yaml:"router_id"`
	// ListenPort: 0 (default) = do not listen, connect out only.
	ListenPort uint16    `yaml:"listen_port"`
	Peers      []BGPPeer `yaml:"peers"` // at least one
	// Announce lists VIPs to announce besides the virtual servers that
	// say announce: true; each must be a virtual server's address.
	Announce    []netip.Addr `yaml:"announce"`
	Communities []string     `yaml:"communities"` // "ASN:value" each, on every announced route
	MED         *uint32      `yaml:"med"`         // MULTI_EXIT_DISC; nil = none
	// DrainPeriod is how long a graceful stop waits after withdrawing
	// before it leaves (the routers move the flows away meanwhile).
	DrainPeriod time.Duration `yaml:"drain_period"` // default 5s
	// VIPDevice is where lbd puts each announced VIP (/32 or /128) so the
	// kernel accepts its packets; default lo (see docs/config.md).
	VIPDevice string `yaml:"vip_device"`
}

// BGPPeer is one upstream router.
type BGPPeer struct {
	Address  netip.Addr `yaml:"address"`  // required
	ASN      uint32     `yaml:"asn"`      // required
	Port     uint16     `yaml:"port"`     // default 179
	Password string     `yaml:"password"` // TCP MD5; "" = none
	// HoldTime: 0 (no keepalives) or at least 3s, whole seconds; default 90s.
	HoldTime time.Duration `yaml:"hold_time"`
	// Keepalive: default HoldTime/3; less than HoldTime.
	Keepalive time.Duration `yaml:"keepalive"`
	// MultihopTTL: 0 (default) = a directly connected peer (eBGP TTL 1);
	// 1-255 = eBGP multihop with this TTL.
	MultihopTTL int `yaml:"multihop_ttl"`
	// BFD runs Bidirectional Forwarding Detection (RFC 5880/5881, single
	// hop) with the peer: the session drops when the peer's BFD packets
	// stop, well before the hold time. nil = none.
	BFD *BGPBFD `yaml:"bfd"`
}

// BGPBFD is a peer's BFD session.
type BGPBFD struct {
	Enabled bool `yaml:"enabled"` // default true (the bfd key turns it on)
	// MinRx is the required minimum receive interval, MinTx the desired
	// minimum transmit interval; default 100ms each.
	MinRx time.Duration `yaml:"min_rx"`
	MinTx time.Duration `yaml:"min_tx"`
	// Multiplier is the detection multiplier: the session is down after
	// this many intervals without a packet; default 3.
	Multiplier int `yaml:"multiplier"`
}

// bgpDefaults fills the bgp section.
func (r *report) bgpDefaults(d *Director) {
	b := d.BGP
	if b == nil {
		return
	}
	if !r.has("bgp.drain_period") {
		b.DrainPeriod = DefaultBGPDrainPeriod
	}
	if b.VIPDevice == "" {
		b.VIPDevice = DefaultBGPVIPDevice
	}
	for i := range b.Peers {
		pp := &b.Peers[i]
		p := itemPath("bgp.peers", i)
		if !r.has(p + ".port") {
			pp.Port = DefaultBGPPeerPort
		}
		if !r.has(p + ".hold_time") {
			pp.HoldTime = DefaultBGPHoldTime
		}
		if !r.has(p + ".keepalive") {
			pp.Keepalive = pp.HoldTime / 3
		}
		if f := pp.BFD; f != nil {
			if !r.has(p + ".bfd.enabled") {
				f.Enabled = true
			}
			if !r.has(p + ".bfd.min_rx") {
				f.MinRx = DefaultBFDInterval
			}
			if !r.has(p + ".bfd.min_tx") {
				f.MinTx = DefaultBFDInterval
			}
			if !r.has(p + ".bfd.multiplier") {
				f.Multiplier = DefaultBFDMultiplier
			}
		}
	}
}

// validateBGP checks the bgp section and the virtual servers' announce keys.
func (r *report) validateBGP(d *Director) {
	vips := map[netip.Addr]bool{}
	for i := range d.VirtualServers {
		vs := &d.VirtualServers[i]
		if vs.Address.IsValid() {
			vips[vs.Address] = true
		}
		if vs.Announce && d.BGP == nil {
			r.errf(itemPath("virtual_servers", i)+".announce", "needs a bgp section (the speaker that announces it)")
		}
		if vs.Announce && vs.FWMark > 0 {
			r.errf(itemPath("virtual_servers", i)+".announce", "a fwmark service has no address to announce")
		}
	}
	b := d.BGP
	if b == nil {
		return
	}
	const p = "bgp"
	if !r.has(p + ".asn") {
		r.missing(p, "asn")
	} else if b.ASN == 0 && r.ok(p+".asn") {
		r.errf(p+".asn", "must be 1-4294967295")
	}
	if r.has(p+".router_id") && b.RouterID.IsValid() && (!b.RouterID.Is4() || b.RouterID.IsUnspecified()) {
		r.errf(p+".router_id", "must be a non-zero IPv4 address, got %s", b.RouterID)
	}
	switch {
	case !r.has(p + ".peers"):
		r.missing(p, "peers")
	case len(b.Peers) == 0 && r.ok(p+".peers"):
		r.errf(p+".peers", "at least one peer required")
	}
	seen := map[netip.Addr]int{}
	for i := range b.Peers {
		pp := itemPath(p+".peers", i)
		if first, dup := seen[b.Peers[i].Address]; dup && b.Peers[i].Address.IsValid() {
			r.errf(pp+".address", "duplicate peer %s (first is peers[%d])", b.Peers[i].Address, first)
		}
		seen[b.Peers[i].Address] = i
		r.validateBGPPeer(&b.Peers[i], pp)
	}
	for i, a := range b.Announce {
		if a.IsValid() && !vips[a] {
			r.errf(itemPath(p+".announce", i), "%s is no virtual server's address", a)
		}
	}
	for i, c := range b.Communities {
		if _, err := ParseCommunity(c); err != nil {
			r.errf(itemPath(p+".communities", i), "%v", err)
		}
	}
	if b.DrainPeriod < 0 {
		r.errf(p+".drain_period", "must not be negative, got %s", b.DrainPeriod)
	}
	if strings.ContainsAny(b.VIPDevice, "/ \t") || len(b.VIPDevice) > 15 {
		r.errf(p+".vip_device", "not a network device name: %q", b.VIPDevice)
	}
}

func (r *report) validateBGPPeer(pp *BGPPeer, p string) {
	switch {
	case !r.has(p + ".address"):
		r.missing(p, "address")
	case pp.Address.IsValid() && (pp.Address.IsUnspecified() || pp.Address.IsMulticast()):
		r.errf(p+".address", "not a router's address: %s", pp.Address)
	}
	if !r.has(p + ".asn") {
		r.missing(p, "asn")
	} else if pp.ASN == 0 && r.ok(p+".asn") {
		r.errf(p+".asn", "must be 1-4294967295")
	}
	if r.has(p+".port") && pp.Port == 0 && r.ok(p+".port") {
		r.errf(p+".port", "must be 1-65535")
	}
	if r.ok(p + ".hold_time") {
		switch {
		case pp.HoldTime != 0 && pp.HoldTime < MinBGPHoldTime:
			r.errf(p+".hold_time", "must be 0 or at least 3s, got %s", pp.HoldTime)
		case pp.HoldTime%time.Second != 0 || pp.HoldTime > 65535*time.Second:
			r.errf(p+".hold_time", "must be whole seconds, at most 65535s, got %s", pp.HoldTime)
		}
	}
	if r.ok(p+".keepalive") && r.has(p+".keepalive") {
		switch {
		case pp.Keepalive%time.Second != 0 || pp.Keepalive < 0:
			r.errf(p+".keepalive", "must be whole seconds, got %s", pp.Keepalive)
		case pp.HoldTime > 0 && (pp.Keepalive == 0 || pp.Keepalive >= pp.HoldTime):
			r.errf(p+".keepalive", "must be at least 1s and less than hold_time (%s), got %s", pp.HoldTime, pp.Keepalive)
		}
	}
	r.intRange(p+".multihop_ttl", pp.MultihopTTL, 0, 255)
	if pp.BFD != nil {
		r.validateBFD(pp, p+".bfd")
	}
}

func (r *report) validateBFD(pp *BGPPeer, p string) {
	f := pp.BFD
	for _, k := range []struct {
		key string
		v   time.Duration
	}{{"min_rx", f.MinRx}, {"min_tx", f.MinTx}} {
		if r.ok(p+"."+k.key) && (k.v < MinBFDInterval || k.v > MaxBFDInterval || k.v%time.Microsecond != 0) {
			r.errf(p+"."+k.key, "must be %s-%s in whole microseconds, got %s", MinBFDInterval, MaxBFDInterval, k.v)
		}
	}
	r.intRange(p+".multiplier", f.Multiplier, 1, 255)
	if f.Enabled && pp.MultihopTTL > 0 && r.ok(p) {
		r.errf(p, "BFD here is single hop (RFC 5881, TTL 255): not with multihop_ttl %d", pp.MultihopTTL)
	}
}

// ParseCommunity parses a standard community "ASN:value" (each 0-65535)
// into its 32-bit value.
func ParseCommunity(s string) (uint32, error) {
	hi, lo, ok := strings.Cut(s, ":")
	a, err1 := strconv.ParseUint(hi, 10, 16)
	v, err2 := strconv.ParseUint(lo, 10, 16)
	if !ok || err1 != nil || err2 != nil {
		return 0, fmt.Errorf("community %q is not ASN:value (each 0-65535)", s)
	}
	return uint32(a)<<16 | uint32(v), nil
}

// AnnouncedVIPs returns the addresses lbd announces when bgp is set: the
// virtual servers with announce: true, then bgp.announce, each once, in
// that order.
func (d *Director) AnnouncedVIPs() []netip.Addr {
	if d.BGP == nil {
		return nil
	}
	var out []netip.Addr
	seen := map[netip.Addr]bool{}
	add := func(a netip.Addr) {
		if a.IsValid() && !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	for i := range d.VirtualServers {
		if d.VirtualServers[i].Announce {
			add(d.VirtualServers[i].Address)
		}
	}
	for _, a := range d.BGP.Announce {
		add(a)
	}
	return out
}

// bgpWarnings are the consistency warnings of an announced configuration
// (lbd check prints them; the file is still valid): every director behind
// ECMP must pick the same real server for a flow that moves to it, which
// takes mh (or sh) with its fallback flag (a server at weight 0 keeps its
// slots otherwise), and must accept a flow that started elsewhere
// (sloppy_tcp).
func (r *report) bgpWarnings(d *Director) []Error {
	vips := map[netip.Addr]bool{}
	for _, a := range d.AnnouncedVIPs() {
		vips[a] = true
	}
	var ws []Error
	warn := func(path, format string, args ...any) {
		ws = append(ws, Error{File: r.file, Line: r.line(path), Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	for i := range d.VirtualServers {
		vs := &d.VirtualServers[i]
		if !vips[vs.Address] {
			continue
		}
		p := itemPath("virtual_servers", i)
		switch s := string(vs.Scheduler); s {
		case "mh", "sh":
			if !slices.Contains(vs.SchedulerFlags, SchedulerFlag(s+"-fallback")) {
				warn(p+".scheduler_flags", "announced with BGP: add %s-fallback, or a real server at weight 0 keeps its slots and its flows fail on every director", s)
			}
		default:
			warn(p+".scheduler", "announced with BGP: scheduler %s picks a different real server on each director for a flow the routers move; use mh (or sh) with its fallback flag", s)
		}
	}
	if sd := d.IPVS.SyncDaemon; len(vips) > 0 && sd != nil && sd.Role != SyncBoth {
		path := "ipvs.sync_daemon.role"
		if !r.has(path) {
			path = "ipvs.sync_daemon"
		}
		warn(path, "announced with BGP: every director is active; with role %s a director does not both send its connections and receive the others' (role: both)", sd.Role)
	}
	if len(vips) > 0 {
		if s := d.IPVS.Sysctls.SloppyTCP; s == nil || !*s {
			path := "ipvs.sysctls.sloppy_tcp"
			if !r.has(path) {
				path = "bgp"
			}
			warn(path, "announced with BGP: set ipvs.sysctls.sloppy_tcp: true, or a director drops the flows another one started when the routers move them to it")
		}
	}
	return ws
}
