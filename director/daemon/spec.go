package daemon

import (
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/lvsd/lb/director"
	"github.com/lvsd/lb/director/table"
	"github.com/lvsd/lb/internal/config"
)

// SpecsFromConfig translates the configured virtual servers (defaults
// filled in by the config loader) into builder specs; each real server
// gets its checks among subs (Checks of the same virtual servers).
//
// A check whose effective timing has alpha counts as down until its first
// report (CheckRef.DownUntilReport), static and discovered real servers
// alike, unless its real server is in trusted: up now, or found serving in
// the kernel at start (trust.go). A trusted server keeps its place until a
// check reports it down.
func SpecsFromConfig(vss []config.VirtualServer, subs []CheckSub, trusted map[director.RealServerID]bool) ([]director.ServiceSpec, error) {
	refs := map[director.RealServerID][]director.CheckRef{}
	for _, s := range subs {
		refs[s.Server] = append(refs[s.Server], director.CheckRef{ID: string(s.ID), Name: s.Name,
			DownUntilReport: s.Timing.Alpha && !trusted[s.Server]})
	}
	specs := make([]director.ServiceSpec, 0, len(vss))
	for i := range vss {
		s, err := specFromConfig(&vss[i])
		if err != nil {
			return nil, fmt.Errorf("virtual_servers[%d] (%s): %w", i, vss[i].Key(), err)
		}
		for j := range s.RealServers {
			rs := &vss[i].RealServers[j]
			s.RealServers[j].Checks = refs[director.RealServerID{Service: s.Service.Key(), Address: rs.Address, Port: rs.Port}]
		}
		specs = append(specs, s)
	}
	return specs, nil
}

// ServiceKeyOf returns the table key of a configured virtual server.
func ServiceKeyOf(vs *config.VirtualServer) table.ServiceKey {
	k := table.ServiceKey{Family: familyOf(vs.Family)}
	if vs.FWMark > 0 {
		k.FWMark = vs.FWMark
		return k
	}
	k.Protocol = protocolOf(vs.Protocol)
	k.Address = vs.Address.Unmap()
	k.Port = vs.Port
	return k.Normalize()
}

func familyOf(f config.Family) table.Family {
	if f == config.IPv6 {
		return table.FamilyIPv6
	}
	return table.FamilyIPv4
}

func protocolOf(p config.Protocol) table.Protocol {
	switch p {
	case config.UDP:
		return table.ProtoUDP
	case config.SCTP:
		return table.ProtoSCTP
	}
	return table.ProtoTCP
}

func specFromConfig(vs *config.VirtualServer) (director.ServiceSpec, error) {
	key := ServiceKeyOf(vs)
	svc := table.Service{ServiceKey: key, Scheduler: string(vs.Scheduler), Netmask: table.FullNetmask(key.Family)}
	if svc.Scheduler == "" {
		svc.Scheduler = table.DefaultScheduler
	}
	for _, f := range vs.SchedulerFlags {
		switch f {
		case "sh-fallback", "mh-fallback", "flag-1":
			svc.Flags |= table.FlagSched1
		case "sh-port", "mh-port", "flag-2":
			svc.Flags |= table.FlagSched2
		case "flag-3":
			svc.Flags |= table.FlagSched3
		default:
			return director.ServiceSpec{}, fmt.Errorf("unknown scheduler flag %q", f)
		}
	}
	if vs.PersistenceTimeout > 0 {
		svc.Flags |= table.FlagPersistent
		svc.Timeout = uint32((vs.PersistenceTimeout + time.Second - 1) / time.Second)
		svc.Netmask = table.NetmaskFromBits(key.Family, int(vs.PersistenceNetmask))
	}
	if vs.OnePacket {
		svc.Flags |= table.FlagOnePacket
	}
	spec := director.ServiceSpec{Service: svc, Quorum: vs.Quorum, Hysteresis: vs.Hysteresis}
	for j := range vs.RealServers {
		rs := &vs.RealServers[j]
		d, err := destFromConfig(rs.Address.Unmap(), rs.Port, rs.Weight, rs.Forwarding, rs.Tunnel)
		if err != nil {
			return director.ServiceSpec{}, fmt.Errorf("real_servers[%d] %s: %w", j, rs.AddrPort(), err)
		}
		d.UpperThreshold = uint32(max(rs.UpperThreshold, 0))
		d.LowerThreshold = uint32(max(rs.LowerThreshold, 0))
		spec.RealServers = append(spec.RealServers, director.RealServerSpec{Dest: d, InhibitOnFailure: rs.InhibitOnFailure,
			SlowStart: director.SlowStart{Duration: rs.SlowStart.Duration, Steps: rs.SlowStart.Steps}})
	}
	if ss := vs.SorryServer; ss != nil {
		port := ss.Port
		if port == 0 {
			port = vs.Port
		}
		d, err := destFromConfig(ss.Address.Unmap(), port, 1, ss.Forwarding, nil)
		if err != nil {
			return director.ServiceSpec{}, fmt.Errorf("sorry_server: %w", err)
		}
		spec.Sorry = &director.SorrySpec{Dest: d, Inhibit: ss.Inhibit}
	}
	return spec, nil
}

func destFromConfig(addr netip.Addr, port uint16, weight int, fwd config.Forwarding, tun *config.Tunnel) (table.Destination, error) {
	d := table.Destination{Address: addr, Port: port, Family: table.FamilyOf(addr)}
	if weight < 0 {
		return d, fmt.Errorf("negative weight %d", weight)
	}
	d.Weight = uint32(weight)
	switch fwd {
	case config.NAT:
		d.Forward = table.ForwardMasq
	case config.TUN:
		d.Forward = table.ForwardTunnel
		if tun != nil {
			switch tun.Type {
			case config.TunnelGUE:
				d.TunnelType = table.TunnelGUE
				d.TunnelPort = tun.Port
			case config.TunnelGRE:
				d.TunnelType = table.TunnelGRE
			}
			switch tun.Checksum {
			case config.ChecksumCsum:
				d.TunnelFlags = table.TunnelCsum
			case config.ChecksumRemCsum:
				d.TunnelFlags = table.TunnelRemCsum
			}
		}
	case config.DR, "":
		d.Forward = table.ForwardRoute
	default:
		return d, fmt.Errorf("unknown forwarding %q", fwd)
	}
	return d, nil
}

// SettingsFromConfig translates the ipvs section of lbd.yaml.
func SettingsFromConfig(c config.IPVS) director.Settings {
	secs := func(d time.Duration) uint32 { return uint32((d + time.Second - 1) / time.Second) }
	s := director.Settings{Timeouts: table.Timeouts{TCP: secs(c.Timeouts.TCP), TCPFin: secs(c.Timeouts.TCPFin), UDP: secs(c.Timeouts.UDP)}}
	add := func(name string, v *bool) {
		if v == nil {
			return
		}
		val := "0"
		if *v {
			val = "1"
		}
		s.Sysctls = append(s.Sysctls, director.SysctlSetting{Name: name, Value: val})
	}
	sc := c.Sysctls
	add("net.ipv4.ip_forward", sc.IPForward)
	add("net.ipv6.conf.all.forwarding", sc.IPv6Forwarding)
	add("net.ipv4.vs.expire_nodest_conn", sc.ExpireNodestConn)
	add("net.ipv4.vs.expire_quiescent_template", sc.ExpireQuiescentTemplate)
	add("net.ipv4.vs.conntrack", sc.Conntrack)
	add("net.ipv4.vs.sloppy_tcp", sc.SloppyTCP)
	add("net.ipv4.vs.snat_reroute", sc.SNATReroute)
	if sc.ConnReuseMode != nil {
		s.Sysctls = append(s.Sysctls, director.SysctlSetting{Name: "net.ipv4.vs.conn_reuse_mode", Value: strconv.Itoa(*sc.ConnReuseMode)})
	}
	return s
}
