package vrrp

import (
	"maps"
	"net/netip"
	"time"
)

// InstanceStats is a snapshot of one instance: its state and its counters.
type InstanceStats struct {
	Name         string
	Interface    string
	VRID         uint8
	Version      int
	IPv6         bool
	Group        string // sync group, if any
	State        State
	Priority     uint8 // effective priority (after tracking)
	BasePriority uint8
	Master       netip.Addr // the master last heard (ourselves when MASTER)
	Source       netip.Addr // our advert source
	VIPs         []netip.Prefix

	LastTransition time.Time

	AdvertsReceived       uint64 // adverts that passed the checks
	AdvertsSent           uint64
	PriorityZeroReceived  uint64
	PriorityZeroSent      uint64
	BecameMaster          uint64
	ReleasedMaster        uint64
	AddressListMismatches uint64 // adverts whose address list differs from ours (logged, not dropped)
	GARPSkipped           uint64 // later gratuitous ARP bursts skipped: the host could not serve (Options.Serves)
	LateTimers            uint64 // protocol timers handled lateTimerBound or more after their time
	Drops                 map[DropReason]uint64

	// SplitBrains counts split-brain episodes: as MASTER, another master
	// that loses to us kept sending adverts (it does not hear ours). The
	// last episode's peer and time follow.
	SplitBrains            uint64
	SplitBrainPeer         netip.Addr
	SplitBrainPeerPriority uint8
	SplitBrainAt           time.Time
	// SplitBrainWinner says who wins the election and why (RFC 3768
	// 6.4.3): this router, by priority or, at equal priority, by address.
	SplitBrainWinner string

	// BFD lists the instance's BFD sessions (router_bfd.go), by peer;
	// BFDTakeovers counts the times it left BACKUP (or asked its sync group
	// to) because BFD saw its master fail.
	BFD          []PeerSession
	BFDTakeovers uint64
}

// SocketStats counts the packets of one socket that no instance could be
// charged with: too short to carry a VRID, or a VRID nobody runs.
type SocketStats struct {
	Interface string
	IPv6      bool
	Received  uint64 // every packet read
	Drops     map[DropReason]uint64
}

// GroupStatus is a sync group's state.
type GroupStatus struct {
	Name      string
	State     State
	Instances []string
}

// Stats is a snapshot of a Router.
type Stats struct {
	Instances []InstanceStats
	Groups    []GroupStatus
	Sockets   []SocketStats
}

// Dropped returns the drops of every reason summed over the instances
// and the sockets.
func (s Stats) Dropped() map[DropReason]uint64 {
	out := map[DropReason]uint64{}
	for _, i := range s.Instances {
		for r, n := range i.Drops {
			out[r] += n
		}
	}
	for _, k := range s.Sockets {
		for r, n := range k.Drops {
			out[r] += n
		}
	}
	return out
}

func (i InstanceStats) clone() InstanceStats {
	i.Drops = maps.Clone(i.Drops)
	i.VIPs = append([]netip.Prefix(nil), i.VIPs...)
	i.BFD = append([]PeerSession(nil), i.BFD...)
	return i
}
