// Package table is the pure model of an IPVS table: services keyed like the
// kernel keys them, their destinations, the diff between a desired and an
// actual table, and the ipvsadm-compatible printer. Nothing here talks to the
// kernel; director/kernel converts to and from these types.
package table

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
)

// Family is an address family as IPVS numbers it (AF_INET, AF_INET6).
type Family uint16

// Address families.
const (
	FamilyIPv4 Family = 2
	FamilyIPv6 Family = 10
)

// FamilyOf returns the family of a (for an IPv4-mapped IPv6 address, IPv6).
func FamilyOf(a netip.Addr) Family {
	if a.Is4() {
		return FamilyIPv4
	}
	return FamilyIPv6
}

// Protocol is an IP protocol number (IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP).
type Protocol uint16

// Protocols IPVS balances.
const (
	ProtoTCP  Protocol = 6
	ProtoUDP  Protocol = 17
	ProtoSCTP Protocol = 132
)

// Forward is a destination's forwarding method, numbered like the kernel's
// IP_VS_CONN_F_* forwarding values.
type Forward uint32

// Forwarding methods. The kernel reports ForwardLocal for a destination whose
// address is local to the director, whatever was asked.
const (
	ForwardMasq   Forward = 0 // NAT, ipvsadm -m, shown as "Masq"
	ForwardLocal  Forward = 1 // local node, shown as "Local"
	ForwardTunnel Forward = 2 // IP tunnelling, ipvsadm -i, shown as "Tunnel"
	ForwardRoute  Forward = 3 // direct routing, ipvsadm -g, shown as "Route"
	ForwardBypass Forward = 4 // bypass (never configured by us)
)

// TunnelType is the encapsulation of a ForwardTunnel destination.
type TunnelType uint8

// Tunnel types (IP_VS_CONN_F_TUNNEL_TYPE_*).
const (
	TunnelIPIP TunnelType = 0
	TunnelGUE  TunnelType = 1
	TunnelGRE  TunnelType = 2
)

// TunnelFlags are the GUE/GRE checksum flags (IP_VS_TUNNEL_ENCAP_FLAG_*).
type TunnelFlags uint16

// Tunnel checksum flags.
const (
	TunnelNoCsum  TunnelFlags = 0
	TunnelCsum    TunnelFlags = 1
	TunnelRemCsum TunnelFlags = 2
)

// Flags are a service's IP_VS_SVC_F_* flags.
type Flags uint32

// Service flags.
const (
	FlagPersistent Flags = 0x0001
	FlagHashed     Flags = 0x0002 // set by the kernel on every service
	FlagOnePacket  Flags = 0x0004
	FlagSched1     Flags = 0x0008
	FlagSched2     Flags = 0x0010
	FlagSched3     Flags = 0x0020

	FlagSHFallback = FlagSched1 // sh: fall back to another server when the chosen one is unavailable
	FlagSHPort     = FlagSched2 // sh: hash the source port too
	FlagMHFallback = FlagSched1 // mh: fall back
	FlagMHPort     = FlagSched2 // mh: hash the source port too

	// FlagsSched is every scheduler flag.
	FlagsSched = FlagSched1 | FlagSched2 | FlagSched3
	// FlagsManaged is every flag a configuration sets; the diff compares only these.
	FlagsManaged = FlagPersistent | FlagOnePacket | FlagsSched
)

// ServiceKey identifies a virtual service the way the kernel does: by
// firewall mark and family for a fwmark service, otherwise by family,
// protocol, address and port.
type ServiceKey struct {
	FWMark   uint32     `json:"fwmark,omitempty"`
	Family   Family     `json:"family"`
	Protocol Protocol   `json:"protocol,omitempty"`
	Address  netip.Addr `json:"address,omitzero"`
	Port     uint16     `json:"port,omitempty"`
}

// Normalize clears the fields a fwmark service is not keyed by and unmaps an
// IPv4-mapped address, so that equal services compare equal.
func (k ServiceKey) Normalize() ServiceKey {
	if k.FWMark != 0 {
		return ServiceKey{FWMark: k.FWMark, Family: k.Family}
	}
	if k.Address.Is4In6() && k.Family == FamilyIPv4 {
		k.Address = k.Address.Unmap()
	}
	return k
}

// String renders the key like ipvsadm -ln does: "TCP 10.0.0.1:80",
// "UDP [2001:db8::1]:53", "FWM 5", "FWM 5 IPv6".
func (k ServiceKey) String() string {
	if k.FWMark != 0 {
		if k.Family == FamilyIPv6 {
			return fmt.Sprintf("FWM %d IPv6", k.FWMark)
		}
		return fmt.Sprintf("FWM %d", k.FWMark)
	}
	return k.Protocol.String() + " " + netip.AddrPortFrom(k.Address, k.Port).String()
}

// Compare orders keys like ipvsadm's listing (fwmark, family, protocol,
// address, port), with plain unsigned comparisons. It is a total order.
func (k ServiceKey) Compare(o ServiceKey) int {
	if c := cmp.Compare(k.FWMark, o.FWMark); c != 0 {
		return c
	}
	if c := cmp.Compare(k.Family, o.Family); c != 0 {
		return c
	}
	if c := cmp.Compare(k.Protocol, o.Protocol); c != 0 {
		return c
	}
	if c := k.Address.Compare(o.Address); c != 0 {
		return c
	}
	return cmp.Compare(k.Port, o.Port)
}

// Stats are traffic counters and rates of a service or destination.
type Stats struct {
	Conns    uint64 `json:"conns"`
	InPkts   uint64 `json:"inpkts"`
	OutPkts  uint64 `json:"outpkts"`
	InBytes  uint64 `json:"inbytes"`
	OutBytes uint64 `json:"outbytes"`
	CPS      uint64 `json:"cps"`
	InPPS    uint64 `json:"inpps"`
	OutPPS   uint64 `json:"outpps"`
	InBPS    uint64 `json:"inbps"`
	OutBPS   uint64 `json:"outbps"`
}

// Service is a virtual service with its destinations.
type Service struct {
	ServiceKey
	Scheduler string `json:"scheduler"`
	Flags     Flags  `json:"flags"`
	// Timeout is the persistence timeout in seconds (meaningful with FlagPersistent).
	Timeout uint32 `json:"timeout"`
	// Netmask is the persistence granularity: for IPv4 the mask as a number
	// (0xffffffff is /32, 0xffffff00 is 255.255.255.0), for IPv6 a prefix
	// length. The kernel stores it for every service; ipvsadm sets /32 or /128.
	Netmask      uint32        `json:"netmask"`
	Stats        Stats         `json:"stats"`
	Destinations []Destination `json:"destinations"`
}

// Key returns the normalized key of s.
func (s Service) Key() ServiceKey { return s.ServiceKey.Normalize() }

// Persistent reports whether s has persistence.
func (s Service) Persistent() bool { return s.Flags&FlagPersistent != 0 }

// WithoutDestinations returns a copy of s with no destinations (the service
// attributes alone, as service operations carry them).
func (s Service) WithoutDestinations() Service {
	s.Destinations = nil
	return s
}

// Clone returns a deep copy of s.
func (s Service) Clone() Service {
	s.Destinations = slices.Clone(s.Destinations)
	return s
}

// FullNetmask returns the netmask ipvsadm uses when none is given: /32 for
// IPv4 (0xffffffff), /128 for IPv6.
func FullNetmask(f Family) uint32 {
	if f == FamilyIPv6 {
		return 128
	}
	return 0xffffffff
}

// NetmaskFromBits returns the Netmask value for a prefix length in family f.
func NetmaskFromBits(f Family, bits int) uint32 {
	if f == FamilyIPv6 {
		return uint32(bits)
	}
	if bits <= 0 {
		return 0
	}
	if bits >= 32 {
		return 0xffffffff
	}
	return ^uint32(0) << (32 - bits)
}

// DestKey identifies a destination within its service.
type DestKey struct {
	Address netip.Addr
	Port    uint16
}

// String renders "10.0.0.1:80" or "[2001:db8::1]:80".
func (k DestKey) String() string { return netip.AddrPortFrom(k.Address, k.Port).String() }

// Compare orders destination keys by address then port.
func (k DestKey) Compare(o DestKey) int {
	if c := k.Address.Compare(o.Address); c != 0 {
		return c
	}
	return cmp.Compare(k.Port, o.Port)
}

// Destination is a real server of a service.
type Destination struct {
	Address        netip.Addr  `json:"address"`
	Port           uint16      `json:"port"`
	Family         Family      `json:"family"`
	Forward        Forward     `json:"forward"`
	Weight         uint32      `json:"weight"`
	UpperThreshold uint32      `json:"upper_threshold"`
	LowerThreshold uint32      `json:"lower_threshold"`
	TunnelType     TunnelType  `json:"tunnel_type"`
	TunnelPort     uint16      `json:"tunnel_port"`
	TunnelFlags    TunnelFlags `json:"tunnel_flags"`

	// Read back from the kernel only.
	ActiveConns  uint32 `json:"active_conns"`
	InactConns   uint32 `json:"inact_conns"`
	PersistConns uint32 `json:"persist_conns"`
	Stats        Stats  `json:"stats"`
}

// Key returns the destination's key. An IPv4-mapped IPv6 address is not
// unmapped: for the kernel it is an IPv6 destination, distinct from the
// IPv4 one (builders unmap configured addresses).
func (d Destination) Key() DestKey {
	return DestKey{Address: d.Address, Port: d.Port}
}

// AddrFamily returns d.Family, or the family of its address when unset.
func (d Destination) AddrFamily() Family {
	if d.Family != 0 {
		return d.Family
	}
	return FamilyOf(d.Address)
}

// Info is the kernel's IPVS version and connection table size.
type Info struct {
	Version       [3]int `json:"version"`
	ConnTableSize uint32 `json:"conn_table_size"`
}

// Timeouts are the IPVS connection timeouts in seconds (ipvsadm --set tcp
// tcpfin udp). Zero in a desired value means "leave the kernel's value".
type Timeouts struct {
	TCP    uint32 `json:"tcp"`
	TCPFin uint32 `json:"tcpfin"`
	UDP    uint32 `json:"udp"`
}

// Table is a set of services. Its order is not significant to the diff; Sort
// puts it in listing order.
type Table struct {
	Services []Service `json:"services"`
}

// Sort sorts services by key and each service's destinations by address and
// port, in place.
func (t *Table) Sort() {
	slices.SortFunc(t.Services, func(a, b Service) int { return a.Key().Compare(b.Key()) })
	for i := range t.Services {
		slices.SortFunc(t.Services[i].Destinations, func(a, b Destination) int { return a.Key().Compare(b.Key()) })
	}
}

// Clone returns a deep copy of t. The destinations of all its services
// share one new array (two allocations for the whole table), each
// service's slice capped at its length, so that appending to one never
// writes into another.
func (t Table) Clone() Table {
	out := Table{Services: make([]Service, len(t.Services))}
	n := 0
	for _, s := range t.Services {
		n += len(s.Destinations)
	}
	all := make([]Destination, 0, n)
	for i, s := range t.Services {
		if s.Destinations != nil {
			start := len(all)
			all = append(all, s.Destinations...)
			s.Destinations = all[start:len(all):len(all)]
		}
		out.Services[i] = s
	}
	return out
}

// Find returns the service with key k.
func (t Table) Find(k ServiceKey) (Service, bool) {
	k = k.Normalize()
	for _, s := range t.Services {
		if s.Key() == k {
			return s, true
		}
	}
	return Service{}, false
}

// Keys returns the keys of t's services in t's order.
func (t Table) Keys() []ServiceKey {
	keys := make([]ServiceKey, len(t.Services))
	for i, s := range t.Services {
		keys[i] = s.Key()
	}
	return keys
}

// Reader reads a table: the part of the kernel interface a listing needs.
type Reader interface {
	Services() ([]Service, error)
	Destinations(Service) ([]Destination, error)
}

// Read reads every service and its destinations from r, in the order r
// returns them (the kernel's order; see Sort). A service that vanishes
// between the two reads shows with no destinations.
func Read(r Reader) (Table, error) {
	svcs, err := r.Services()
	if err != nil {
		return Table{}, fmt.Errorf("list IPVS services: %w", err)
	}
	t := Table{Services: make([]Service, 0, len(svcs))}
	for _, s := range svcs {
		dests, err := r.Destinations(s)
		if err != nil {
			return Table{}, fmt.Errorf("list destinations of %s: %w", s.Key(), err)
		}
		s.Destinations = dests
		t.Services = append(t.Services, s)
	}
	return t, nil
}

// DaemonState is the role of an IPVS connection-synchronisation daemon.
type DaemonState uint32

// Sync daemon roles (IP_VS_STATE_*).
const (
	DaemonMaster DaemonState = 1
	DaemonBackup DaemonState = 2
)

// String returns "master" or "backup".
func (s DaemonState) String() string {
	switch s {
	case DaemonMaster:
		return "master"
	case DaemonBackup:
		return "backup"
	}
	return "state(" + fmt.Sprint(uint32(s)) + ")"
}

// MarshalText implements encoding.TextMarshaler.
func (s DaemonState) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler: the inverse of
// MarshalText ("master", "backup" or "state(N)").
func (s *DaemonState) UnmarshalText(b []byte) error {
	switch t := string(b); t {
	case "master":
		*s = DaemonMaster
	case "backup":
		*s = DaemonBackup
	default:
		var n uint32
		if _, err := fmt.Sscanf(t, "state(%d)", &n); err != nil || t != fmt.Sprintf("state(%d)", n) {
			return fmt.Errorf("sync daemon state %q: want master, backup or state(N)", t)
		}
		*s = DaemonState(n)
	}
	return nil
}

// Daemon is a running IPVS sync daemon (ipvsadm --start-daemon).
type Daemon struct {
	State     DaemonState `json:"state"`
	Interface string      `json:"interface"`
	SyncID    uint32      `json:"sync_id"`
	MaxLen    uint16      `json:"maxlen,omitempty"`
	Group     netip.Addr  `json:"group,omitzero"`
	Port      uint16      `json:"port,omitempty"`
	TTL       uint8       `json:"ttl,omitempty"`
}
